"""Settings from INTEGRATIONS_* env vars and an explicitly named .env: a profile, then per-backend overrides."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from . import pinned_env
from .errors import Code, IntegrationError

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")

STORES = ("sqlite", "bigquery")
CIPHERS = ("local", "kms")
CACHES = ("sqlite", "supabase")
VALIDATIONS = ("sandbox", "live")
_PROFILE_DEFAULTS = {
    "local": {"store": "sqlite", "cipher": "local", "status_cache": "sqlite", "validation": "sandbox"},
    "gcp": {"store": "bigquery", "cipher": "kms", "status_cache": "supabase", "validation": "live"},
}

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
ENDPOINTS = (
    "openai_base_url",
    "anthropic_base_url",
    "google_token_uri",
    "bigquery_api_url",
    "resource_manager_api_url",
    "iamcredentials_api_url",
    "iam_api_url",
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout, when the library is installed from it


def env_file() -> Path | None:
    """The .env to read: INTEGRATIONS_ENV_FILE if set, else `.env` at the project root when running from the
    checkout. Never one in the current directory: a planted file there could redirect stored keys."""
    named = os.environ.get("INTEGRATIONS_ENV_FILE")
    if named:
        if not Path(named).is_file():
            raise IntegrationError(Code.CONFIGURATION_ERROR, f"INTEGRATIONS_ENV_FILE={named} is not a file.")
        return Path(named)
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / ".env").is_file():
        return PROJECT_ROOT / ".env"
    return None


def default_data_dir() -> Path:
    """`.data` in the working directory; anywhere inside a checkout of this project, the checkout's `.data`, so a
    notebook opened from notebooks/ (Jupyter's working directory) finds what `make run` created."""
    cwd = Path.cwd().resolve()
    checkout = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "lib" / "integrations").is_dir()
    if checkout and (cwd == PROJECT_ROOT or PROJECT_ROOT in cwd.parents):
        return PROJECT_ROOT / ".data"
    return Path(".data")


# how long a re-validation run's tasks may run (INTEGRATIONS_RUN_TIMEOUT_S): a task's timeout (3,600 s) x its
# attempts (1 + 3 retries); finalize refuses a run younger than this whose tasks have not all said they are done
RUN_TIMEOUT_S = 4 * 3_600
# Cloud KMS decrypts per minute for a whole re-validation run, split across its tasks. Cloud KMS's default
# "Cryptographic requests" quota is 60,000 per minute per calling project and region
# (https://cloud.google.com/kms/quotas); half of it leaves room for setups and the API server meanwhile.
KMS_PER_MINUTE = 30_000


def _shown(value: object) -> str:
    """A setting's value as quoted in a message: repr'd (control characters visible), at most 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def invalid_settings(exc: ValidationError) -> IntegrationError:
    """pydantic's ValidationError as CONFIGURATION_ERROR: each setting's environment variable, what it got (never
    for a secret setting) and what it must be."""
    fields = Settings.model_fields
    problems = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        field = fields.get(name)
        if field is None:  # an alias (SUPABASE_URL): the variable's own name
            name = next(
                (
                    n
                    for n, f in fields.items()
                    if isinstance(f.validation_alias, AliasChoices) and name in f.validation_alias.choices
                ),
                name,
            )
            field, env = fields.get(name), str(error["loc"][0]).upper()
        else:
            alias = field.validation_alias
            env = str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"INTEGRATIONS_{name.upper()}"
        secret = field is not None and "SecretStr" in str(field.annotation)
        got = " (a secret setting: its value is not shown)" if secret else f"={_shown(error.get('input'))}"
        rule = str(error["msg"]).replace("Input should be", "must be", 1)
        default = "" if field is None or secret or field.default is None else f" (default when unset: {field.default})"
        problems.append(f"{env}{got}: {rule}{default}.")
    return IntegrationError(Code.CONFIGURATION_ERROR, "Invalid setting(s): " + " ".join(problems))


class Settings(BaseSettings):
    """Everything connect() needs; each backend can be chosen alone."""

    model_config = SettingsConfigDict(env_prefix="INTEGRATIONS_", env_file=None, extra="ignore")

    def __init__(self, **values: Any) -> None:
        if "_env_file" not in values:
            values["_env_file"] = env_file()
        try:
            super().__init__(**values)
        except ValidationError as exc:  # never chained: pydantic's text quotes every input, secrets included
            raise invalid_settings(exc) from None
        except SettingsError:  # a value pydantic-settings could not even decode (the message quotes it)
            raise IntegrationError(Code.CONFIGURATION_ERROR, "An INTEGRATIONS_* setting could not be read.") from None
        pinned_env.check(os.environ)  # a job started with overridden env refuses to start (deploy/render.py)
        self.check_sandbox_outage()
        self.check_data_dir()
        self.check_endpoints()
        self.check_alert_webhook()
        self.check_supabase_url()

    profile: Literal["local", "gcp"] = "local"
    store: str | None = None
    cipher: str | None = None
    status_cache: str | None = None
    validation: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir)

    gcp_project: str | None = None
    bigquery_dataset: str = "organizations"
    kms_key: str | None = None
    kms_mac_key_version: str | None = None
    kms_endpoint: str | None = None  # a local KMS double (host:port, insecure); tests and development only
    supabase_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_URL", "INTEGRATIONS_SUPABASE_URL")
    )
    supabase_service_role_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SUPABASE_SERVICE_ROLE_KEY", "INTEGRATIONS_SUPABASE_SERVICE_ROLE_KEY"),
    )

    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_base_url: str = "https://api.anthropic.com"
    google_token_uri: str = GOOGLE_TOKEN_URI
    bigquery_api_url: str = "https://bigquery.googleapis.com/bigquery/v2"
    provider_timeout_s: float = Field(default=10.0, gt=0)

    sandbox_outage: str = ""
    sandbox_latency_ms: int = Field(default=0, ge=0)
    attempts_per_minute: int = Field(default=20, ge=0)  # 0 disables the limit
    store_timeout_s: float = Field(
        default=30.0, gt=0
    )  # deadline of every BigQuery call (the client's retries and the job's wait)
    run_timeout_s: float = Field(default=RUN_TIMEOUT_S, gt=0)
    bigquery_location: str | None = None  # where the dataset lives (created there); None: BigQuery's default, US
    resource_manager_api_url: str = "https://cloudresourcemanager.googleapis.com/v1"  # GCP testIamPermissions
    # Keyless GCP (providers/gcp_keyless.py): one service account per org in this project, impersonated by the
    # runtime identity (ADC); our directory customer ID and organization ID for customers' domain-restricted sharing
    gcp_principals_project: str | None = None  # None: gcp_project (the sandbox plays "integrations-platform")
    gcp_customer_id: str = ""  # e.g. C0xxxxxxx (gcloud organizations list: DIRECTORY_CUSTOMER_ID)
    gcp_organization_id: str = ""
    gcp_create_principals: bool = False  # create an org's principal through the IAM API at keyless setup
    gcp_export_locations: str = "US,EU"  # billing export locations the platform reads; "" for any
    iamcredentials_api_url: str = "https://iamcredentials.googleapis.com/v1"
    iam_api_url: str = "https://iam.googleapis.com/v1"
    allow_http_endpoints: bool = False  # development only: live checks to http:// provider endpoints
    alert_webhook_url: SecretStr | None = None  # the operator's alerts (alerts/); its path is a secret: never logged
    # tenants' alerts: a JSON object {"org-slug": "https://..."} (each path a secret), and the master secret every
    # destination's signing secret is derived from (alerts/base.py signing_secret); tenants need it to be reached
    org_alert_webhooks: SecretStr | None = None
    alert_signing_secret: SecretStr | None = None
    kms_requests_per_minute: int = Field(default=KMS_PER_MINUTE, ge=1)

    def backend(self, role: Literal["store", "cipher", "status_cache", "validation"]) -> str:
        """The chosen backend for a role: explicit override, else the profile's default."""
        value = getattr(self, role) or _PROFILE_DEFAULTS[self.profile][role]
        allowed = {"store": STORES, "cipher": CIPHERS, "status_cache": CACHES, "validation": VALIDATIONS}[role]
        if value not in allowed:
            raise IntegrationError(
                Code.CONFIGURATION_ERROR,
                f"Unknown {role} backend {value!r}: choose one of {', '.join(allowed)} (INTEGRATIONS_{role.upper()}).",
            )
        return value

    @property
    def outage_providers(self) -> set[str]:
        return {p.strip().upper() for p in self.sandbox_outage.split(",") if p.strip()}

    def check_sandbox_outage(self) -> None:
        """INTEGRATIONS_SANDBOX_OUTAGE names registered providers only: a typo would simulate no outage at all."""
        from . import provider_registry  # the specs are cheap (no SDK): see provider_registry

        known = provider_registry.names()
        given = [p.strip() for p in self.sandbox_outage.split(",") if p.strip()]
        unknown = [p for p in given if p.upper() not in known]
        if unknown:
            raise IntegrationError(
                Code.CONFIGURATION_ERROR,
                f"INTEGRATIONS_SANDBOX_OUTAGE={_shown(self.sandbox_outage)}: {', '.join(map(_shown, unknown))} is not "
                f"a provider; give a comma-separated list of {', '.join(n.lower() for n in known)} (or nothing).",
            )

    def check_data_dir(self) -> None:
        """The local backends' data dir is a directory (or not there yet), not a file."""
        try:
            local = (
                "sqlite" in (self.backend("store"), self.backend("status_cache")) or self.backend("cipher") == "local"
            )
        except IntegrationError:  # an unknown backend: reported where it is used (connect, doctor)
            return
        if local and self.data_dir.exists() and not self.data_dir.is_dir():
            raise IntegrationError(
                Code.CONFIGURATION_ERROR,
                f"INTEGRATIONS_DATA_DIR={_shown(str(self.data_dir))} is not a directory; set it to the data dir "
                "(a directory; `integrations init` creates it).",
            )

    def check_endpoints(self) -> None:
        """In live mode every provider endpoint is https, unless the development flag says otherwise."""
        if self.allow_http_endpoints or (self.validation or _PROFILE_DEFAULTS[self.profile]["validation"]) != "live":
            return
        plain = [n for n in ENDPOINTS if urlsplit(getattr(self, n)).scheme != "https"]
        if plain:
            raise IntegrationError(
                Code.CONFIGURATION_ERROR,
                f"Live checks need https endpoints: {', '.join(f'INTEGRATIONS_{n.upper()}' for n in plain)} "
                "(INTEGRATIONS_ALLOW_HTTP_ENDPOINTS=true for local development only).",
            )

    def non_default_endpoints(self) -> list[str]:
        """`INTEGRATIONS_X=url` for every provider endpoint that is not the provider's own: printed at start."""
        fields = type(self).model_fields
        return [
            f"INTEGRATIONS_{n.upper()}={getattr(self, n)}" for n in ENDPOINTS if getattr(self, n) != fields[n].default
        ]

    def check_supabase_url(self) -> None:
        """SUPABASE_URL is https: the service-role key goes in its headers. http only in the local profile, to a
        loopback host (a local Supabase: `supabase start`), or with the development flag."""
        if self.supabase_url is None or self.profile == "local" or self.allow_http_endpoints:
            return
        parts = urlsplit(self.supabase_url)
        if parts.scheme == "https" and parts.hostname:
            return
        if parts.scheme == "http" and parts.hostname in LOOPBACK:
            return
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
            "SUPABASE_URL must be an https URL (https://REF.supabase.co): the service-role key is sent with every "
            "request (http only to a loopback host, or with INTEGRATIONS_ALLOW_HTTP_ENDPOINTS=true for development).",
        )

    def check_alert_webhook(self) -> None:
        """The alert webhooks are https URLs with a host (http only with the development flag), the org map a JSON
        object of org slugs, the signing secret long enough; none of them is ever echoed."""
        schemes = ("https", "http") if self.allow_http_endpoints else ("https",)
        urls: dict[str, SecretStr | None] = {"INTEGRATIONS_ALERT_WEBHOOK_URL": self.alert_webhook_url}
        for slug, org_url in self.org_alert_webhook_urls().items():
            urls[f"INTEGRATIONS_ORG_ALERT_WEBHOOKS[{slug!r}]"] = org_url
        for name, url in urls.items():
            if url is None:
                continue
            parts = urlsplit(url.get_secret_value())
            if parts.scheme not in schemes or not parts.hostname:
                raise IntegrationError(
                    Code.CONFIGURATION_ERROR,
                    f"{name} must be an https URL with a host, e.g. a Slack incoming webhook "
                    "(INTEGRATIONS_ALLOW_HTTP_ENDPOINTS=true allows http for local development only).",
                )
        secret = self.alert_signing_secret
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise IntegrationError(
                Code.CONFIGURATION_ERROR,
                "INTEGRATIONS_ALERT_SIGNING_SECRET must be at least 32 characters (e.g. `openssl rand -hex 32`).",
            )

    def org_alert_webhook_urls(self) -> dict[str, SecretStr]:
        """INTEGRATIONS_ORG_ALERT_WEBHOOKS as {org slug: URL}; CONFIGURATION_ERROR (never quoting it) when it is not
        a JSON object of org slugs to URLs."""
        if self.org_alert_webhooks is None:
            return {}
        try:
            found = json.loads(self.org_alert_webhooks.get_secret_value())
        except ValueError:
            found = None
        if not isinstance(found, dict) or not all(isinstance(v, str) and _SLUG.fullmatch(k) for k, v in found.items()):
            raise IntegrationError(
                Code.CONFIGURATION_ERROR,
                "INTEGRATIONS_ORG_ALERT_WEBHOOKS must be a JSON object of org slugs to https URLs, e.g. "
                '{"acmecorp": "https://hooks.example.com/..."}.',
            )
        return {slug: SecretStr(url) for slug, url in found.items()}
