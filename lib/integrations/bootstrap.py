"""Build a service from settings: the only place that picks and constructs adapters and wires them into Deps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import keyversions, provider_registry
from .alerts import sink_from
from .crypto.base import Cipher
from .deps import Deps
from .domain import Provider
from .errors import Code, IntegrationError
from .service import IntegrationService
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore

if TYPE_CHECKING:
    from .providers.base import Validator
    from .providers.sandbox import SandboxRules

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
        raise IntegrationError(Code.CONFIGURATION_ERROR, f"Missing setting(s): {env}.")


@contextmanager
def _google_credentials() -> Iterator[None]:
    from google.auth.exceptions import DefaultCredentialsError

    try:
        yield
    except DefaultCredentialsError:
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
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


class Validators(MutableMapping[Provider, "Validator"]):
    """One validator per registered provider, each built (its SDK imported) when it is first asked for: a command
    that checks nothing imports no provider SDK. `sandbox`: wired to the sandbox transport, else the real endpoints."""

    def __init__(self, settings: Settings, sandbox: bool) -> None:
        self._settings, self._sandbox = settings, sandbox
        self._rules: SandboxRules | None = None
        self._built: dict[Provider, Validator] = {}
        self._lock = threading.Lock()

    def __getitem__(self, provider: Provider) -> Validator:
        if provider not in Provider.__members__:
            raise KeyError(provider)
        provider = Provider(provider)
        if provider not in self._built:
            with self._lock:
                if provider not in self._built:
                    self._built[provider] = provider_registry.spec(provider).validator(
                        self._settings, self._sandbox_rules()
                    )
        return self._built[provider]

    def __setitem__(self, provider: Provider, validator: Validator) -> None:
        """Swap one in (a test wrapping a validator)."""
        self._built[Provider.parse(provider)] = validator

    def __delitem__(self, provider: Provider) -> None:
        raise TypeError("every registered provider has a validator")

    def _sandbox_rules(self) -> SandboxRules | None:
        if self._sandbox and self._rules is None:
            from .providers.sandbox import SandboxRules

            self._rules = SandboxRules(self._settings.outage_providers, self._settings.sandbox_latency_ms)
        return self._rules

    def __iter__(self) -> Iterator[Provider]:
        return iter(Provider)

    def __len__(self) -> int:
        return len(Provider)


def build_validators(settings: Settings) -> Validators:
    """One validator per registered provider (each built when first used), sandboxed or live."""
    return Validators(settings, sandbox=settings.backend("validation") != "live")


def check_installed(settings: Settings) -> None:
    """The local backends' data dir exists: an entry point other than `init` never starts a second, empty
    installation (a new store and keyring) in a mistyped INTEGRATIONS_DATA_DIR."""
    local = "sqlite" in (settings.backend("store"), settings.backend("status_cache"))
    if (local or settings.backend("cipher") == "local") and not settings.data_dir.exists():
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
            f"No installation at INTEGRATIONS_DATA_DIR={settings.data_dir}: the data dir does not exist, and nothing "
            "was created. Run `integrations init` to create one there, or set INTEGRATIONS_DATA_DIR to your data dir.",
        )


def connect(
    settings: Settings | None = None,
    *,
    data_dir: str | Path | None = None,
    init: bool = True,
    require_cache: bool = False,
    installed: bool = False,
    **overrides: Any,
) -> IntegrationService:
    """A ready service: settings from env/.env unless given; `data_dir` moves the local files. A status cache that
    cannot be initialised is only logged (reads work without it) unless `require_cache`. `installed`: refuse a
    local data dir that does not exist (CONFIGURATION_ERROR, "Run `integrations init`") instead of creating it, as
    every entry point but `init` (and `demo`) does."""
    if settings is None:
        if data_dir is not None:
            overrides["data_dir"] = Path(data_dir)
        settings = Settings(**overrides)
    if installed:
        check_installed(settings)
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
