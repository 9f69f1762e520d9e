"""Build a service from settings: the only place that picks and constructs adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .crypto.base import Cipher
from .errors import IntegrationError
from .providers import build_validators
from .service import IntegrationService
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore


def build_store(settings: Settings) -> IntegrationStore:
    if settings.backend("store") == "sqlite":
        from .store.sqlite import SqliteStore

        return SqliteStore(settings.data_dir / "warehouse.sqlite")
    raise IntegrationError(
        "CONFIGURATION_ERROR",
        "The bigquery store adapter is not available in this build; use INTEGRATIONS_STORE=sqlite.",
    )


def build_cipher(settings: Settings) -> Cipher:
    if settings.backend("cipher") == "local":
        from .crypto.local import LocalKeyring

        return LocalKeyring(settings.data_dir / "local.keyring")
    raise IntegrationError(
        "CONFIGURATION_ERROR", "The kms cipher adapter is not available in this build; use INTEGRATIONS_CIPHER=local."
    )


def build_cache(settings: Settings) -> StatusCache:
    if settings.backend("status_cache") == "sqlite":
        from .status_cache.sqlite import SqliteStatusCache

        return SqliteStatusCache(settings.data_dir / "status.sqlite")
    raise IntegrationError(
        "CONFIGURATION_ERROR",
        "The supabase status cache adapter is not available in this build; use INTEGRATIONS_STATUS_CACHE=sqlite.",
    )


def connect(
    settings: Settings | None = None, *, data_dir: str | Path | None = None, init: bool = True, **overrides: Any
) -> IntegrationService:
    """A ready service: settings from env/.env unless given; `data_dir` moves the local files."""
    if settings is None:
        if data_dir is not None:
            overrides["data_dir"] = Path(data_dir)
        settings = Settings(**overrides)
    store, cache = build_store(settings), build_cache(settings)
    if init:
        store.init()
        cache.init()
    backends = {
        "profile": settings.profile,
        **{r: settings.backend(r) for r in ("store", "cipher", "status_cache", "validation")},
    }
    return IntegrationService(
        store,
        build_cipher(settings),
        cache,
        build_validators(settings),
        attempts_per_minute=settings.attempts_per_minute,
        backends=backends,
    )
