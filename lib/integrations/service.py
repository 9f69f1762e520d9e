"""IntegrationService: the use cases. Nothing backend-specific lives here."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd
from pydantic import SecretStr

from . import keyversions, limits, orgkeys, orgs, runs  # runs: issue 17 task runs
from .bulk import BulkOperations, Progress
from .crypto.base import Cipher, aad_for
from .domain import (
    Action,
    CheckResult,
    DeleteResult,
    ErrorInfo,
    Event,
    Integration,
    OrgIntegrations,
    Outcome,
    Provider,
    SetupResult,
    Status,
    StoredCredential,
    ValidateResult,
    check_slug,
    make_event,
    utcnow,
)
from .errors import IntegrationError
from .limits import AttemptLimiter, credential_secret, metadata_dict
from .locks import PairLocks
from .providers import ParsedCredential, Validator
from .providers.kinds import kind_of
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore, ValidationUpdate

if TYPE_CHECKING:
    from .troubleshooting import DiagnosticStep

log = logging.getLogger("integrations")
# the operator's key material failed, not the tenant's credential: an alarm, never a status pushed to tenants
ALARMS = ("DECRYPTION_FAILED", "KMS_KEY_VERSION_UNAVAILABLE")
StepCallback = Callable[[str], None]


class Assessment(NamedTuple):
    """The outcome of one re-check, before it is written."""

    record: StoredCredential
    result: CheckResult
    after: Status
    validated_at: datetime | None
    event: Event

    @property
    def alarm(self) -> bool:
        """The stored ciphertext could not be decrypted: the operator's problem (the keyring), never the tenant's."""
        return self.result.error_code in ALARMS

    def outcome(self, warnings: list[str]) -> ValidateResult:
        result, after = self.result, self.after
        error = None
        if result.error_code:
            error = ErrorInfo.of(IntegrationError(result.error_code, result.message, retryable=result.retryable))
        message = result.message
        if result.error_code and result.retryable:
            message = f"Inconclusive: {result.message} Status left at {after.value}."
        return ValidateResult(
            success=result.error_code is None,
            provider=self.record.provider,
            validation_status=after,
            message=message,
            error=error,
            capabilities=result.capabilities,
            checks=result.checks,
            rate_limit=result.rate_limit,
            warnings=warnings,
        )


class IntegrationService(BulkOperations):
    """Set up, read, validate and delete provider credentials for organizations."""

    def __init__(
        self,
        store: IntegrationStore,
        cipher: Cipher,
        cache: StatusCache,
        validators: dict[Provider, Validator],
        *,
        attempts_per_minute: int = 20,
        backends: dict[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.store, self.cipher, self.cache, self.validators = store, cipher, cache, validators
        self.settings = settings  # what connect() built this from; bulk runs rebuild it in other processes
        self.limiter = AttemptLimiter(attempts_per_minute)
        self.locks = PairLocks()
        self.backends = backends or {}
        self._known_orgs: set[str] = set()  # registered orgs seen by this process (orgs are never unregistered)

    @property
    def sandboxed(self) -> bool:
        """True when provider checks are simulated."""
        return self.backends.get("validation") == "sandbox"

    # --- orgs -------------------------------------------------------------------------------------------
    def register_org(self, org_slug: str, name: str | None = None, actor: str = "system") -> str:
        """Issue an org API key (returned once), registering the org. Its status-cache row is created where the
        cache owns its rows (local); Supabase's belong to the frontend, so there the row must exist already
        (ORG_NOT_FOUND otherwise, and nothing is issued). An org that has keys already is refused
        (ORG_EXISTS): a second live key is issued only by rotate_org_key."""
        check_slug(org_slug)
        if self.store.api_keys(org_slug):
            raise IntegrationError("ORG_EXISTS", f"Organization {org_slug!r} exists; rotate its key instead.")
        self.cache.create_org(org_slug, name)
        key = orgkeys.issue(self.store, org_slug)
        self._known_orgs.add(org_slug)
        self._org_key_event(org_slug, actor, f"Org API key issued ({key[: len(org_slug) + 9]}...).")
        return key

    def orgs(self) -> list[str]:
        """Every registered org's slug, from the system of record (works while the status cache is down)."""
        return orgs.registered_orgs(self.store)

    def require_org(self, org_slug: str) -> str:
        """The slug, checked; ORG_NOT_FOUND unless the system of record has the org (the cache is not asked)."""
        org_slug = check_slug(org_slug)
        if org_slug not in self._known_orgs:
            if not orgs.is_registered(self.store, org_slug):
                raise IntegrationError(
                    "ORG_NOT_FOUND",
                    f"No organization {org_slug!r}; register it with `integrations org create {org_slug}`.",
                )
            self._known_orgs.add(org_slug)
        return org_slug

    def rotate_org_key(self, org_slug: str, actor: str = "system") -> str:
        """Revoke the org's API keys and issue a new one, returned once."""
        self._require_org(org_slug)
        key = orgkeys.rotate(self.store, org_slug)
        self._org_key_event(org_slug, actor, f"Org API keys revoked; new key issued ({key[: len(org_slug) + 9]}...).")
        return key

    def revoke_org_keys(self, org_slug: str, actor: str = "system") -> int:
        """Revoke every live API key of the org; returns how many."""
        self._require_org(org_slug)
        count = orgkeys.revoke(self.store, org_slug)
        self._org_key_event(org_slug, actor, f"{count} org API key(s) revoked.")
        return count

    def _org_key_event(self, org_slug: str, actor: str, message: str) -> None:
        self._append(make_event(org_slug, None, Action.ORG_KEY, Outcome.SUCCESS, actor, message=message))

    # --- encryption keys ----------------------------------------------------------------------------------
    def rotate_key(self) -> str:
        """Add a new local keyring version (recorded in the store); run rewrap afterwards."""
        rotate = getattr(self.cipher, "rotate", None)
        if rotate is None:
            raise IntegrationError(
                "CONFIGURATION_ERROR",
                "Only the local keyring rotates here; rotate a Cloud KMS key in Google Cloud, then run "
                "`integrations rewrap`.",
            )
        ref = str(rotate())
        keyversions.verify(self.store, self.cipher)
        return ref

    def retire_key(self, key_ref: str) -> None:
        """Remove an old key version for good; refused (KEY_VERSION_IN_USE) while any ciphertext uses it."""
        keyversions.retire(self.store, self.cipher, key_ref)

    def key_versions(self) -> list[dict[str, Any]]:
        """The key versions the store recorded, each with whether the cipher holds it and how many use it."""
        held, rows = self.cipher.key_versions(), self.store.list_credentials()
        return [
            {
                "key_ref": v.key_ref,
                "created_at": v.created_at,
                "retired_at": v.retired_at,
                "in_keyring": held.get(v.key_ref) == v.key_check,
                "current": v.key_ref == self.cipher.current_key_ref(),
                "credentials": sum(1 for r in rows if r.key_ref == v.key_ref and r.encrypted_credential),
            }
            for v in sorted(self.store.key_versions().values(), key=lambda v: v.created_at)
        ]

    def readiness(self) -> dict[str, Any]:
        """The store and the cache answer, the keyring holds the recorded key versions; the status drift count."""
        self.store.ping()
        self.cache.ping()
        keyversions.verify(self.store, self.cipher)
        drift = int(self.overview()["drift"].sum())
        return {"status": "ready", "store": self.store.name, "status_cache": self.cache.name, "drift": drift}

    def _require_org(self, org_slug: str) -> None:
        self.require_org(org_slug)

    # --- setup ------------------------------------------------------------------------------------------
    def setup(
        self,
        org_slug: str,
        provider: Provider | str,
        credential: str | SecretStr,
        credential_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        skip_validation: bool = False,
        actor: str = "system",
        on_step: StepCallback | None = None,
    ) -> SetupResult:
        """Format check -> live check (unless skipped) -> encrypt -> store (rotating) -> status sync.

        A rotation keeps the current credential's name and metadata unless new ones are given
        (`metadata={}` clears them)."""
        started, step = time.monotonic(), on_step or (lambda _name: None)
        org_slug, provider = check_slug(org_slug), Provider.parse(provider)
        secret, meta, name = (
            credential_secret(credential),
            None if metadata is None else metadata_dict(metadata),
            limits.credential_name(credential_name),
        )
        self._require_org(org_slug)
        if name is None or meta is None:  # a rotation keeps what it does not replace: read it only then
            before = self.store.get_active(org_slug, provider)
            if before is not None:
                name = before.credential_name if name is None else name
                meta = before.metadata if meta is None else meta
        validator = self.validators[provider]
        self.limiter.hit(org_slug)  # the format check costs CPU too (an RSA key is validated): it counts
        step("format")
        parsed = validator.parse(secret)
        validator.check_metadata(meta or {})
        status, checks, capabilities = Status.PENDING, [], []
        if not skip_validation:
            step("validate")
            result = _guarded(lambda: validator.check(parsed, meta), org_slug)
            if result.error_code:
                self._record_failed_setup(org_slug, provider, result, actor, started)
                details = {"checks": [c.model_dump() for c in result.checks], "rate_limit": result.rate_limit}
                if result.retry_after:
                    details["retry_after"] = result.retry_after  # the provider's value, as it said it
                raise IntegrationError(result.error_code, result.message, retryable=result.retryable, details=details)
            status, checks, capabilities = Status.VALID, result.checks, result.capabilities
        credential_id = f"cred_{secrets.token_hex(12)}"
        step("encrypt")
        plaintext = parsed.secret.get_secret_value().encode()
        sealed = self.cipher.encrypt(plaintext, aad_for(org_slug, provider.value, credential_id))
        at = utcnow()
        record = StoredCredential(
            credential_id=credential_id,
            org_slug=org_slug,
            provider=provider,
            credential_name=name,
            encrypted_credential=sealed.ciphertext,
            key_ref=sealed.key_ref,
            credential_hint=parsed.hint,
            credential_kind=parsed.kind,
            credential_fingerprint=self.cipher.fingerprint(plaintext),
            metadata=meta or {},
            validation_status=status,
            last_validated_at=at if status == Status.VALID else None,
            created_at=at,
            updated_at=at,
            created_by=actor,
            updated_by=actor,
        )
        step("store")
        event = make_event(  # status_before and a rotation's message come from the replaced row (one round trip)
            org_slug,
            provider,
            Action.SETUP,
            Outcome.SUCCESS,
            actor,
            started,
            credential_id=credential_id,
            status_after=status,
            message="Configured.",
        )
        with self.locks.hold([(org_slug, provider)]):  # the cache is synced in the order the store committed
            previous = self.store.activate(record, event)
            step("sync")
            warnings = self._sync(org_slug, provider, status, at, actor)
        log.info(
            "setup org=%s provider=%s credential_id=%s status=%s", org_slug, provider.value, credential_id, status.value
        )
        verb = "rotated (the previous credential was deactivated and erased)" if previous else "configured"
        return SetupResult(
            success=True,
            provider=provider,
            credential_id=credential_id,
            validation_status=status,
            message=f"{provider.value} credential {verb}; status {status.value}.",
            credential_kind=parsed.kind,
            capabilities=capabilities,
            checks=checks,
            warnings=warnings,
            rotated_credential_id=previous.credential_id if previous else None,
        )

    def _record_failed_setup(
        self, org_slug: str, provider: Provider, result: CheckResult, actor: str, started: float
    ) -> None:
        outcome = Outcome.INCONCLUSIVE if result.retryable else Outcome.REJECTED
        self._append(
            make_event(
                org_slug,
                provider,
                Action.SETUP,
                outcome,
                actor,
                started,
                error_code=result.error_code,
                message=f"Not stored: {result.message}",
            )
        )

    def check_format(self, provider: Provider | str, credential: str | SecretStr) -> str:
        """Format-check a credential without storing or sending it; returns its hint."""
        provider = Provider.parse(provider)
        return self.validators[provider].parse(credential_secret(credential)).hint

    def diagnose(self, org_slug: str, provider: Provider | str) -> list[DiagnosticStep]:
        """The troubleshooting checks, in order, each passed / failed / not run with its fix. Changes nothing."""
        from .troubleshooting import diagnose

        return diagnose(self, org_slug, provider)

    # --- reads ------------------------------------------------------------------------------------------
    def get_all(self, org_slug: str) -> OrgIntegrations:
        """Every provider's integration for an org; never a secret. From the system of record: the status cache is
        only compared with it, and `warnings` says when it cannot be read or disagrees."""
        result = self._get_all(org_slug)
        recorded = {p: i.status for p, i in result.integrations.items()}
        result.warnings = orgs.cache_warnings(self.cache, result.org_slug, recorded)
        return result

    def _get_all(self, org_slug: str) -> OrgIntegrations:
        self._require_org(org_slug)
        records = {r.provider: r for r in self.store.list_credentials(org_slug)}
        views = {p: _view(p, records.get(p)) for p in Provider}
        return OrgIntegrations(
            org_slug=org_slug,
            integrations=views,
            providers_configured=[p for p, v in views.items() if v.status != Status.NOT_CONFIGURED],
            all_valid=all(v.status == Status.VALID for v in views.values()),  # every provider, as the contract says
        )

    def get_one(self, org_slug: str, provider: Provider | str) -> Integration:
        """One provider's integration (status NOT_CONFIGURED when there is none)."""
        provider = Provider.parse(provider)
        self._require_org(org_slug)
        return _view(provider, self.store.get_active(org_slug, provider))

    # --- validate ---------------------------------------------------------------------------------------
    def validate(self, org_slug: str, provider: Provider | str, actor: str = "system") -> ValidateResult:
        """Re-check the stored credential live. Rejection -> INVALID; a transient failure keeps the status."""
        provider = Provider.parse(provider)
        self._require_org(org_slug)
        record = self.store.get_active(org_slug, provider)
        if record is None:
            raise IntegrationError("NOT_CONFIGURED", f"{org_slug} has no active {provider.value} credential.")
        self.limiter.hit(org_slug)
        return self.revalidate_record(record, actor)

    def revalidate_record(self, record: StoredCredential, actor: str = "system") -> ValidateResult:
        """Validate one stored credential (no attempt limit: used by operators' bulk runs too)."""
        assessment = self.assess(record, actor)
        return assessment.outcome(self.apply([assessment], actor))

    def assess(self, record: StoredCredential, actor: str = "system") -> Assessment:
        """Decrypt and re-check one credential; decide the new status. Writes nothing."""
        started = time.monotonic()
        result = self._check_stored(record)
        before = record.validation_status
        if result.error_code is None:
            after, outcome, validated_at = Status.VALID, Outcome.SUCCESS, utcnow()
        elif result.retryable:
            after, outcome, validated_at = before, Outcome.INCONCLUSIVE, None
        else:
            after, outcome, validated_at = Status.INVALID, Outcome.REJECTED, utcnow()
        event = make_event(
            record.org_slug,
            record.provider,
            Action.VALIDATE,
            outcome,
            actor,
            started,
            credential_id=record.credential_id,
            status_before=before,
            status_after=after,
            error_code=result.error_code,
            message=result.message,
        )
        return Assessment(record, result, after, validated_at, event)

    def apply(self, assessments: list[Assessment], actor: str = "system") -> list[str]:
        """Record assessments in one store write and one cache write; returns sync warnings.

        Only a result whose store update matched the still-active credential reaches the cache (a credential
        deleted or rotated during its check keeps the state its delete or setup synced). A decryption failure
        changes no status: it is an event and an operator alarm."""
        alarms = [a for a in assessments if a.alarm]
        for a in alarms:
            log.error(
                "ALARM decryption failed org=%s provider=%s credential_id=%s key_ref=%s: check the keyring",
                a.record.org_slug,
                a.record.provider.value,
                a.record.credential_id,
                a.record.key_ref,
            )
        if alarms:
            self.store.append_events([a.event for a in alarms])
        checked = [a for a in assessments if not a.alarm]
        with self.locks.hold((a.record.org_slug, a.record.provider) for a in checked):
            matched = self.store.record_validations(
                [
                    ValidationUpdate(
                        a.record.credential_id,
                        a.after,
                        a.result.error_code,
                        a.result.message if a.result.error_code else None,
                        a.validated_at,
                        actor,
                        a.event,
                    )
                    for a in checked
                ]
            )
            current = [a for a in checked if a.record.credential_id in matched]
            if not current:
                return []
            return self._sync_many(
                [(a.record.org_slug, a.record.provider, a.after, a.record.created_at) for a in current], actor
            )

    def open_stored(self, record: StoredCredential) -> ParsedCredential:
        """Decrypt a stored credential under its row's AAD and parse it; DECRYPTION_FAILED when it cannot be."""
        if record.encrypted_credential is None:
            raise IntegrationError("DECRYPTION_FAILED", "No ciphertext is stored for this credential.")
        plaintext = self.cipher.decrypt(
            record.encrypted_credential, aad_for(record.org_slug, record.provider.value, record.credential_id)
        )
        return self.validators[record.provider].parse(SecretStr(plaintext.decode()), stored=True)

    def _check_stored(self, record: StoredCredential) -> CheckResult:
        """One credential's check; whatever goes wrong is that credential's catalog error, never the caller's."""
        try:
            parsed = self.open_stored(record)
        except IntegrationError as exc:
            retryable = exc.retryable or exc.code in ALARMS  # an alarm keeps the status
            return CheckResult(status=Status.INVALID, error_code=exc.code, message=exc.message, retryable=retryable)
        return _guarded(lambda: self.validators[record.provider].check(parsed, record.metadata), record.org_slug)

    # --- re-validation runs of tasks (issue 17: runs.py; lead: re-wire into the restructured facade) ----------
    def revalidate_task(
        self,
        spec: runs.TaskSpec,
        concurrency: int = 16,
        rates: dict[Provider, float] | None = None,
        actor: str = "system",
        progress: Progress | None = None,
    ) -> runs.TaskReport:
        """Check this task's share of the run and stage it. `concurrency` and `rates` (per provider) and the KMS
        budget (INTEGRATIONS_KMS_REQUESTS_PER_MINUTE) are the whole run's: the task takes its share."""
        kms = self.settings.kms_requests_per_minute if self.settings else runs.TaskLimits().kms_per_minute
        limits = runs.TaskLimits(concurrency=concurrency, rates=rates or {}, kms_per_minute=kms)
        return runs.run_task(self.store, self.assess, spec, limits.share(spec.count, spec.index), actor, progress)

    def finalize_run(self, run_id: str, actor: str = "system") -> runs.RunReport:
        """Apply a run's staged results in one write, sync the status cache and report the run (idempotent)."""
        return runs.finalize(self.store, self._sync_many, run_id, actor)

    # --- delete -----------------------------------------------------------------------------------------
    def delete(self, org_slug: str, provider: Provider | str, actor: str = "system") -> DeleteResult:
        """Deactivate the credential, erase its ciphertext, keep the history; status -> NOT_CONFIGURED."""
        started, provider = time.monotonic(), Provider.parse(provider)
        self._require_org(org_slug)
        with self.locks.hold([(org_slug, provider)]):
            current = self.store.get_active(org_slug, provider)
            if current is None:
                raise IntegrationError("NOT_CONFIGURED", f"{org_slug} has no active {provider.value} credential.")
            event = make_event(
                org_slug,
                provider,
                Action.DELETE,
                Outcome.SUCCESS,
                actor,
                started,
                credential_id=current.credential_id,
                status_before=current.validation_status,
                status_after=Status.NOT_CONFIGURED,
                message="Deactivated; ciphertext erased.",
            )
            if self.store.deactivate(org_slug, provider, utcnow(), actor, event) is None:
                raise IntegrationError("NOT_CONFIGURED", f"{org_slug} has no active {provider.value} credential.")
            warnings = self._sync(org_slug, provider, Status.NOT_CONFIGURED, None, actor)
        return DeleteResult(
            success=True, message=f"{provider.value} integration deleted for {org_slug}.", warnings=warnings
        )

    # --- overview and history ---------------------------------------------------------------------------
    def overview(self) -> pd.DataFrame:
        """One row per org x provider: recorded status beside cached status, in one query to each side. When the
        cache cannot be read the cached columns are empty and `frame.attrs["warnings"]` says so."""
        from .overview import overview_frame

        cached, warnings = orgs.cached_frame(self.cache)
        frame = overview_frame(self.store.active_frame(), cached)
        if warnings:  # nothing to compare with: no row is reported as drifted
            frame["drift"] = False
        frame.attrs["warnings"] = warnings
        return frame

    def events(self, org_slug: str | None = None) -> pd.DataFrame:
        """The append-only history, newest first."""
        rows = [e.model_dump(mode="json") for e in self.store.events(org_slug)]
        frame = pd.DataFrame(rows, columns=list(Event.model_fields))
        frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
        return frame

    # --- status sync ------------------------------------------------------------------------------------
    def _sync(
        self, org_slug: str, provider: Provider, status: Status, configured_at: datetime | None, actor: str
    ) -> list[str]:
        return self._sync_many([(org_slug, provider, status, configured_at)], actor)

    def _sync_many(self, updates: list[tuple[str, Provider, Status, datetime | None]], actor: str) -> list[str]:
        """Push statuses to the cache; a failure is a warning and an event, repaired by reconcile."""
        try:
            self.cache.set_many(updates)
            return []
        except IntegrationError as exc:
            if len(updates) > 1:  # isolate the failing rows
                return [w for u in updates for w in self._sync_many([u], actor)]
            org_slug, provider, status, _ = updates[0]
            log.warning("status sync failed org=%s provider=%s code=%s", org_slug, provider.value, exc.code)
            self._append(
                make_event(
                    org_slug,
                    provider,
                    Action.SYNC,
                    Outcome.FAILED,
                    actor,
                    status_after=status,
                    error_code="STATUS_SYNC_FAILED",
                    message=exc.message,
                )
            )
            return [
                f"STATUS_SYNC_FAILED: the status cache was not updated for {org_slug} {provider.value} "
                f"({exc.message}); run `integrations reconcile` to repair it."
            ]

    def _append(self, event: Event) -> None:
        try:
            self.store.append_event(event)
        except IntegrationError as exc:
            log.error("could not append %s event for org=%s: %s", event.action.value, event.org_slug, exc.code)


def _guarded(check: Callable[[], CheckResult], org_slug: str) -> CheckResult:
    """Run one credential's check; an unexpected exception is that credential's CHECK_FAILED, never the caller's
    (a bulk run goes on, the API answers in the documented shape)."""
    try:
        return check()
    except IntegrationError as exc:
        return CheckResult(status=Status.INVALID, error_code=exc.code, message=exc.message, retryable=exc.retryable)
    except Exception as exc:  # noqa: BLE001 - the type only is logged: an SDK's message may hold key text
        log.error("check failed unexpectedly org=%s: %s", org_slug, type(exc).__name__)
        return CheckResult(
            status=Status.PENDING,
            error_code="CHECK_FAILED",
            message=f"The check failed unexpectedly ({type(exc).__name__}); the status was left unchanged.",
            retryable=True,
        )


def _view(provider: Provider, record: StoredCredential | None) -> Integration:
    if record is None:
        return Integration(provider=provider, status=Status.NOT_CONFIGURED)
    error = None
    if record.encrypted_credential is None:
        error = ErrorInfo.of(
            IntegrationError("DECRYPTION_FAILED", "No ciphertext is stored for this credential; re-enter it.")
        )
    elif record.validation_error_code:
        error = ErrorInfo.of(IntegrationError(record.validation_error_code, record.validation_error_message))
    return Integration(
        provider=provider,
        status=record.validation_status,
        credential_id=record.credential_id,
        credential_name=record.credential_name,
        credential_hint=record.credential_hint,
        credential_kind=record.credential_kind or kind_of(provider, record.credential_hint),  # older rows: the hint
        last_validated_at=record.last_validated_at,
        created_at=record.created_at,
        error=error,
        metadata=record.metadata,
        key_ref=record.key_ref,
    )
