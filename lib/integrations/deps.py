"""The dependencies every use case receives: one frozen bundle, wired by bootstrap.py from the adapters it built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .alerts import sink_from
from .alerts.base import AlertSink, NullSink
from .crypto.base import Cipher
from .domain import Provider
from .limits import AttemptLimiter
from .locks import PairLocks
from .providers.base import Validator
from .settings import RUN_TIMEOUT_S, Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore
from .vault import Vault


@dataclass(frozen=True)
class Deps:
    """The system of record, the status cache, the vault, the validators, the per-org limiter, the pair locks, the
    alert sink, and the few configured values use cases read (never the Settings they came from)."""

    store: IntegrationStore
    cache: StatusCache
    vault: Vault
    validators: Mapping[Provider, Validator]
    limiter: AttemptLimiter
    locks: PairLocks = field(default_factory=PairLocks)
    backends: dict[str, str] = field(default_factory=dict)
    known_orgs: set[str] = field(default_factory=set)  # registered orgs seen by this process (never unregistered)
    alerts: AlertSink = field(default_factory=NullSink)  # where a run's digests go (alerts/): webhooks, or none
    kms_per_minute: int | None = None  # a whole run's Cloud KMS budget (None: the cipher calls no KMS)
    run_timeout_s: float = RUN_TIMEOUT_S  # how long a run's tasks may run (INTEGRATIONS_RUN_TIMEOUT_S)
    data_dir: Path | None = None  # the local files' directory (None when adapters were handed in)

    @classmethod
    def wire(
        cls,
        store: IntegrationStore,
        cipher: Cipher,
        cache: StatusCache,
        validators: Mapping[Provider, Validator],
        *,
        attempts_per_minute: int = 20,
        backends: dict[str, str] | None = None,
        settings: Settings | None = None,
        alerts: AlertSink | None = None,
    ) -> Deps:
        """Bundle adapters that were already built (by bootstrap.py, or by a test handing in fakes); from `settings`
        only the values use cases read and the alert sink it describes."""
        return cls(
            store=store,
            cache=cache,
            vault=Vault(cipher, validators),
            validators=validators,
            # counted in the status cache where it can (shared by every replica and restart), else in this process
            limiter=AttemptLimiter(attempts_per_minute, cache if cache.counts_attempts else None),
            backends=backends or {},
            alerts=alerts or (sink_from(settings) if settings is not None else NullSink()),
            # INTEGRATIONS_KMS_REQUESTS_PER_MINUTE is Cloud KMS's quota: the local keyring (and a fake) has none
            kms_per_minute=settings.kms_requests_per_minute
            if settings is not None and settings.backend("cipher") == "kms"
            else None,
            run_timeout_s=settings.run_timeout_s if settings is not None else RUN_TIMEOUT_S,
            data_dir=settings.data_dir if settings is not None else None,
        )

    @property
    def cipher(self) -> Cipher:
        return self.vault.cipher


class Parts:
    """The parts a service runs on, as read-only attributes (tests and tools read them; entry points never do:
    tests/architecture)."""

    deps: Deps

    @property
    def store(self) -> IntegrationStore:
        return self.deps.store

    @property
    def cache(self) -> StatusCache:
        return self.deps.cache

    @property
    def cipher(self) -> Cipher:
        return self.deps.cipher

    @property
    def validators(self) -> Mapping[Provider, Validator]:
        return self.deps.validators

    @property
    def limiter(self) -> AttemptLimiter:
        return self.deps.limiter

    @property
    def locks(self) -> PairLocks:
        return self.deps.locks

    @property
    def alerts(self) -> AlertSink:
        return self.deps.alerts

    @property
    def backends(self) -> dict[str, str]:
        return self.deps.backends

    @property
    def data_dir(self) -> Path | None:
        """The local files' directory (the demo writes its org keys there)."""
        return self.deps.data_dir
