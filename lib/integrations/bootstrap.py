"""Build a service from settings: the only place that picks and constructs adapters and wires them into Deps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import keyversions
from .alerts import sink_from
from .crypto.base import Cipher
from .deps import Deps
from .domain import Provider
from .errors import IntegrationError
from .providers.api_keys import AnthropicValidator, OpenAIValidator
from .providers.base import Validator
from .providers.gcp_keyless import KeylessSettings
from .providers.gcp_service_account import GcpValidator
from .providers.sandbox import SandboxRules, anthropic_handler, openai_handler, sdk_client_factory
from .providers.sandbox_google import sandbox_pool_factory
from .service import IntegrationService
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore

log = logging.getLogger("integrations")


def _require(settings: Settings, *names: str) -> None:
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        env = ", ".join(
            "SUPABASE_" + n.removeprefix("supabase_").upper()
            if n.startswith("supabase")
            else f"INTEGRATIONS_{n.upper()}"
            for n in missing
        )
        raise IntegrationError("CONFIGURATION_ERROR", f"Missing setting(s): {env}.")


@contextmanager
def _google_credentials() -> Iterator[None]:
    from google.auth.exceptions import DefaultCredentialsError

    try:
        yield
    except DefaultCredentialsError:
        raise IntegrationError(
            "CONFIGURATION_ERROR",
            "No Google credentials: set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`.",
        ) from None


def build_store(settings: Settings) -> IntegrationStore:
    if settings.backend("store") == "sqlite":
        from .store.sqlite import SqliteStore

        return SqliteStore(settings.data_dir / "warehouse.sqlite")
    _require(settings, "gcp_project")
    from google.cloud import bigquery

    from .store.bigquery import BigQueryStore

    with _google_credentials():
        client = bigquery.Client(project=settings.gcp_project, location=settings.bigquery_location)
    return BigQueryStore(
        client,
        settings.gcp_project or "",
        settings.bigquery_dataset,
        timeout=settings.store_timeout_s,
        location=settings.bigquery_location,
    )


def build_cipher(settings: Settings, create: bool = False) -> Cipher:
    """The cipher; `create` lets a missing local keyring be made (only for an empty store, see open_cipher)."""
    if settings.backend("cipher") == "local":
        from .crypto.local import LocalKeyring

        return LocalKeyring(settings.data_dir / "local.keyring", create=create)
    _require(settings, "kms_key", "kms_mac_key_version")
    from .crypto.gcp_kms import KmsCipher

    with _google_credentials():
        return KmsCipher.connect(
            settings.kms_key or "",
            settings.kms_mac_key_version or "",
            timeout=settings.provider_timeout_s,
            endpoint=settings.kms_endpoint,
        )


def open_cipher(settings: Settings, store: IntegrationStore, init: bool) -> Cipher:
    """The cipher, checked against the key versions the store recorded. A missing keyring is created only by an
    init on an empty store: anywhere else a new keyring would silently make every stored ciphertext unreadable."""
    try:
        cipher = build_cipher(settings, create=False)
    except IntegrationError as exc:
        if exc.code != "KEYRING_MISSING" or not init or not keyversions.store_is_empty(store):
            raise
        cipher = build_cipher(settings, create=True)
    keyversions.verify(store, cipher)
    return cipher


def build_cache(settings: Settings) -> StatusCache:
    if settings.backend("status_cache") == "sqlite":
        from .status_cache.sqlite import SqliteStatusCache

        return SqliteStatusCache(settings.data_dir / "status.sqlite")
    _require(settings, "supabase_url", "supabase_service_role_key")
    from .status_cache.supabase import SupabaseStatusCache

    assert settings.supabase_service_role_key is not None
    return SupabaseStatusCache(
        settings.supabase_url or "", settings.supabase_service_role_key, timeout=settings.provider_timeout_s
    )


SANDBOX_PROJECT, SANDBOX_CUSTOMER_ID = "integrations-platform", "C00sandbx"


def keyless_settings(settings: Settings, sandbox: bool) -> KeylessSettings | None:
    """Keyless GCP's settings; None (keyless checks answer GCP_PLATFORM_ACCESS_FAILED) without a project."""
    project = settings.gcp_principals_project or settings.gcp_project or (SANDBOX_PROJECT if sandbox else None)
    if project is None:
        return None
    return KeylessSettings(
        project=project,
        iamcredentials_url=settings.iamcredentials_api_url,
        iam_url=settings.iam_api_url,
        customer_id=settings.gcp_customer_id or (SANDBOX_CUSTOMER_ID if sandbox else ""),
        organization_id=settings.gcp_organization_id,
        locations=tuple(x.strip().upper() for x in settings.gcp_export_locations.split(",") if x.strip()),
        create_principals=settings.gcp_create_principals and not sandbox,
    )


def _sandbox_adc() -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token="ya29.sandbox.runtime")  # noqa: S106 - the sandbox's stand-in for ADC


def build_validators(settings: Settings) -> dict[Provider, Validator]:
    """One validator per provider, wired to the sandbox transport or to the real endpoints."""
    timeout = settings.provider_timeout_s
    if settings.backend("validation") == "live":
        return {
            Provider.OPENAI: OpenAIValidator(settings.openai_base_url, timeout),
            Provider.ANTHROPIC: AnthropicValidator(settings.anthropic_base_url, timeout),
            Provider.GCP: GcpValidator(
                settings.google_token_uri,
                settings.bigquery_api_url,
                timeout,
                resource_manager_url=settings.resource_manager_api_url,
                keyless=keyless_settings(settings, sandbox=False),
            ),
        }
    rules = SandboxRules(settings.outage_providers, settings.sandbox_latency_ms)
    return {
        Provider.OPENAI: OpenAIValidator(settings.openai_base_url, timeout, sdk_client_factory(openai_handler(rules))),
        Provider.ANTHROPIC: AnthropicValidator(
            settings.anthropic_base_url, timeout, sdk_client_factory(anthropic_handler(rules))
        ),
        Provider.GCP: GcpValidator(
            settings.google_token_uri,
            settings.bigquery_api_url,
            timeout,
            sandbox_pool_factory(rules),
            resource_manager_url=settings.resource_manager_api_url,
            keyless=keyless_settings(settings, sandbox=True),
            adc=_sandbox_adc,
        ),
    }


def connect(
    settings: Settings | None = None,
    *,
    data_dir: str | Path | None = None,
    init: bool = True,
    require_cache: bool = False,
    **overrides: Any,
) -> IntegrationService:
    """A ready service: settings from env/.env unless given; `data_dir` moves the local files. A status cache that
    cannot be initialised is only logged (reads work without it) unless `require_cache`."""
    if settings is None:
        if data_dir is not None:
            overrides["data_dir"] = Path(data_dir)
        settings = Settings(**overrides)
    for endpoint in settings.non_default_endpoints():
        log.warning("non-default provider endpoint: %s", endpoint)
    store, cache = build_store(settings), build_cache(settings)
    if init:
        store.init()
        try:
            cache.init()
        except IntegrationError as exc:  # derived data: reads still work from the system of record, with warnings
            if require_cache:
                raise
            logging.getLogger("integrations").warning("status cache not ready: %s %s", exc.code, exc.message)
    backends = {
        "profile": settings.profile,
        **{r: settings.backend(r) for r in ("store", "cipher", "status_cache", "validation")},
    }
    deps = Deps.wire(
        store,
        open_cipher(settings, store, init),
        cache,
        build_validators(settings),
        attempts_per_minute=settings.attempts_per_minute,
        backends=backends,
        settings=settings,
        alerts=sink_from(settings),  # the operator's and the orgs' webhooks, signed
    )
    return IntegrationService(deps=deps)
