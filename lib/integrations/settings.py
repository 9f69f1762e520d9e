"""Settings from INTEGRATIONS_* env vars and .env: a profile, then per-backend overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import IntegrationError

STORES = ("sqlite", "bigquery")
CIPHERS = ("local", "kms")
CACHES = ("sqlite", "supabase")
VALIDATIONS = ("sandbox", "live")
_PROFILE_DEFAULTS = {
    "local": {"store": "sqlite", "cipher": "local", "status_cache": "sqlite", "validation": "sandbox"},
    "gcp": {"store": "bigquery", "cipher": "kms", "status_cache": "supabase", "validation": "live"},
}

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
_CHECKOUT = Path(__file__).resolve().parents[2]  # the project root when the library runs from a checkout


def default_data_dir() -> Path:
    """`.data` in the working directory; anywhere inside a checkout of this project, the checkout's `.data`, so a
    notebook opened from notebooks/ (Jupyter's working directory) finds what `make run` created."""
    cwd = Path.cwd().resolve()
    checkout = (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "lib" / "integrations").is_dir()
    if checkout and (cwd == _CHECKOUT or _CHECKOUT in cwd.parents):
        return _CHECKOUT / ".data"
    return Path(".data")


class Settings(BaseSettings):
    """Everything connect() needs; each backend can be chosen alone."""

    model_config = SettingsConfigDict(env_prefix="INTEGRATIONS_", env_file=".env", extra="ignore")

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
    provider_timeout_s: float = 10.0

    sandbox_outage: str = ""
    sandbox_latency_ms: int = 0
    attempts_per_minute: int = 20
    bulk_workers: int = 0  # processes for bulk re-validation; 0 = one per core for runs of 2,000 or more

    def backend(self, role: Literal["store", "cipher", "status_cache", "validation"]) -> str:
        """The chosen backend for a role: explicit override, else the profile's default."""
        value = getattr(self, role) or _PROFILE_DEFAULTS[self.profile][role]
        allowed = {"store": STORES, "cipher": CIPHERS, "status_cache": CACHES, "validation": VALIDATIONS}[role]
        if value not in allowed:
            raise IntegrationError(
                "CONFIGURATION_ERROR",
                f"Unknown {role} backend {value!r}: choose one of {', '.join(allowed)} (INTEGRATIONS_{role.upper()}).",
            )
        return value

    @property
    def outage_providers(self) -> set[str]:
        return {p.strip().upper() for p in self.sandbox_outage.split(",") if p.strip()}
