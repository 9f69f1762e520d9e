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

from . import limits, orgkeys
from .bulk import BulkOperations
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
from .providers import ParsedCredential, Validator
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore, ValidationUpdate

if TYPE_CHECKING:
    from .troubleshooting import DiagnosticStep

log = logging.getLogger("integrations")
StepCallback = Callable[[str], None]


class Assessment(NamedTuple):
    """The outcome of one re-check, before it is written."""

    record: StoredCredential
    result: CheckResult
    after: Status
    validated_at: datetime | None
    event: Event

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
        self.backends = backends or {}

    @property
    def sandboxed(self) -> bool:
        """True when provider checks are simulated."""
        return self.backends.get("validation") == "sandbox"

    # --- orgs -------------------------------------------------------------------------------------------
    def register_org(self, org_slug: str, name: str | None = None) -> str:
        """Create the org's status-cache row (idempotent) and issue an org API key, returned once."""
        check_slug(org_slug)
        self.cache.create_org(org_slug, name)
        return orgkeys.issue(self.store, org_slug)

    def _require_org(self, org_slug: str) -> None:
        if self.cache.get_org(check_slug(org_slug)) is None:
            raise IntegrationError(
                "ORG_NOT_FOUND", f"No organization {org_slug!r}; register it with `integrations org create {org_slug}`."
            )

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
        validator = self.validators[provider]
        step("format")
        parsed = validator.parse(secret)
        status, checks = Status.PENDING, []
        if not skip_validation:
            self.limiter.hit(org_slug)
            step("validate")
            result = validator.check(parsed)
            if result.error_code:
                self._record_failed_setup(org_slug, provider, result, actor, started)
                raise IntegrationError(
                    result.error_code,
                    result.message,
                    retryable=result.retryable,
                    details={"checks": [c.model_dump() for c in result.checks], "rate_limit": result.rate_limit},
                )
            status, checks = Status.VALID, result.checks
        credential_id = f"cred_{secrets.token_hex(12)}"
        before = self.store.get_active(org_slug, provider)
        if before is not None:  # a rotation keeps what it does not replace
            name = before.credential_name if name is None else name
            meta = before.metadata if meta is None else meta
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
        message = "Rotated: the previous credential was deactivated and erased." if before else "Configured."
        event = make_event(
            org_slug,
            provider,
            Action.SETUP,
            Outcome.SUCCESS,
            actor,
            started,
            credential_id=credential_id,
            status_before=before.validation_status if before else Status.NOT_CONFIGURED,
            status_after=status,
            message=message,
        )
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
        """Every provider's integration for an org; never a secret."""
        self._require_org(org_slug)
        records = {r.provider: r for r in self.store.list_credentials(org_slug)}
        views = {p: _view(p, records.get(p)) for p in Provider}
        configured = [v for v in views.values() if v.status != Status.NOT_CONFIGURED]
        return OrgIntegrations(
            org_slug=org_slug,
            integrations=views,
            providers_configured=len(configured),
            all_valid=bool(configured) and all(v.status == Status.VALID for v in configured),
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
        """Record assessments in one store write and one cache write; returns sync warnings."""
        self.store.record_validations(
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
                for a in assessments
            ]
        )
        return self._sync_many(
            [(a.record.org_slug, a.record.provider, a.after, a.record.created_at) for a in assessments], actor
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
        try:
            parsed = self.open_stored(record)
        except IntegrationError as exc:
            return CheckResult(status=Status.INVALID, error_code=exc.code, message=exc.message, retryable=exc.retryable)
        return self.validators[record.provider].check(parsed)

    # --- delete -----------------------------------------------------------------------------------------
    def delete(self, org_slug: str, provider: Provider | str, actor: str = "system") -> DeleteResult:
        """Deactivate the credential, erase its ciphertext, keep the history; status -> NOT_CONFIGURED."""
        started, provider = time.monotonic(), Provider.parse(provider)
        self._require_org(org_slug)
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
        """One row per org x provider: recorded status beside cached status, in one query to each side."""
        from .overview import overview_frame

        return overview_frame(self.store.active_frame(), self.cache.status_frame())

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
        last_validated_at=record.last_validated_at,
        created_at=record.created_at,
        error=error,
        metadata=record.metadata,
        key_ref=record.key_ref,
    )
