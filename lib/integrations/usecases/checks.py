"""Re-checking a stored credential: open it, ask its provider, decide the verdict, write it down."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from ..deps import Deps
from ..domain import (
    Action,
    CheckResult,
    Event,
    Expiry,
    Outcome,
    Provider,
    Status,
    StoredCredential,
    make_event,
    utcnow,
)
from ..errors import Code, IntegrationError
from ..freshness import Freshness, judge
from ..results import ErrorInfo, ValidateResult, WarningInfo, sentence
from ..store.base import ValidationUpdate
from ..verdict import ALARMS, Verdict, failed, verdict
from . import alerting
from .orgs import require
from .recording import StatusUpdate, sync

log = logging.getLogger("integrations")


class KeyHolder(NamedTuple):
    """What an expiry reminder names of a credential (finalize has a staged result, not the stored record)."""

    org_slug: str
    provider: Provider
    credential_id: str
    credential_hint: str | None
    validation_status: Status


class Assessment(NamedTuple):
    """The outcome of one re-check, before it is written."""

    record: StoredCredential
    result: CheckResult
    after: Status
    validated_at: datetime | None
    event: Event
    verdict: Verdict
    freshness: Freshness | None = None  # what the check read of the cost source; never changes `after`
    reminders: tuple[Event, ...] = ()  # EXPIRY events: a 30/7/1-day mark reached for the first time

    @property
    def alarm(self) -> bool:
        """The stored ciphertext could not be decrypted: the operator's problem (the keyring), never the tenant's."""
        return self.verdict.alarm

    @property
    def data_warnings(self) -> list[WarningInfo]:
        """A late or stalled cost source: a warning with its catalog code, never a failure."""
        fresh = self.freshness
        return [WarningInfo.of(fresh.error_code, fresh.message)] if fresh and fresh.error_code else []

    def outcome(self, warnings: list[WarningInfo]) -> ValidateResult:
        """The answer a caller gets for this check."""
        result, after = self.result, self.after
        error = None
        if result.error_code:
            error = ErrorInfo.of(IntegrationError(Code(result.error_code), result.message, retryable=result.retryable))
        message = result.message
        if result.error_code is None:  # the seed's message first, then what the provider check found
            message = f"{VALIDATED}. {result.message}".strip() if result.message else VALIDATED
        elif result.retryable:
            message = f"Inconclusive: {sentence(result.message)} Status left at {after.value}."
        return ValidateResult(
            success=result.error_code is None,
            provider=self.record.provider,
            validation_status=after,
            message=message,
            error=error,
            capabilities=result.capabilities,
            checks=result.checks,
            rate_limit=result.rate_limit,
            warning_details=warnings + self.data_warnings,
            data_status=self.freshness.data_status if self.freshness else None,
            data_through=self.freshness.data_through if self.freshness else None,
        )


VALIDATED = "Integration validated successfully"  # the seed's success messages, word for word


def guarded(check: Callable[[], CheckResult], org_slug: str) -> CheckResult:
    """Run one credential's check; an unexpected exception is that credential's CHECK_FAILED, never the caller's
    (a bulk run goes on, the API answers in the documented shape)."""
    try:
        return check()
    except IntegrationError as exc:
        return failed(exc.code, exc.message, retryable=exc.retryable)
    except Exception as exc:  # noqa: BLE001 - the type only is logged: an SDK's message may hold key text
        log.error("check failed unexpectedly org=%s: %s", org_slug, type(exc).__name__)
        message = f"The check failed unexpectedly ({type(exc).__name__}); the status was left unchanged."
        return failed(Code.CHECK_FAILED, message, retryable=True)


def check_stored(deps: Deps, record: StoredCredential) -> CheckResult:
    """One stored credential's check; whatever goes wrong is that credential's catalog error, never the caller's."""
    try:
        parsed = deps.vault.open(record)
    except IntegrationError as exc:
        retryable = exc.retryable or exc.code in ALARMS  # an alarm keeps the status: inconclusive for its caller
        return failed(exc.code, exc.message, retryable=retryable)
    return guarded(lambda: deps.validators[record.provider].check(parsed, record.metadata), record.org_slug)


def assess(
    deps: Deps, record: StoredCredential, actor: str = "system", run_id: str | None = None, remind: bool = True
) -> Assessment:
    """Decrypt and re-check one credential; decide the new status (its event names the run, if any). Writes
    nothing. `remind=False` (a nightly task, whose identity reads no events): no expiry reminder is decided here;
    finalize decides them from the staged expiry."""
    started = time.monotonic()
    result = check_stored(deps, record)
    before = record.validation_status
    decided = verdict(result, before)
    event = make_event(
        record.org_slug,
        record.provider,
        Action.VALIDATE,
        decided.outcome,
        actor,
        started,
        credential_id=record.credential_id,
        status_before=before,
        status_after=decided.after,
        error_code=result.error_code,
        message=result.message,
        run_id=run_id,
    )
    fresh = judge(record.provider, result.data, utcnow(), record) if result.data is not None else None
    reminders = tuple(expiry_reminders(deps, record, result.expiry, actor, run_id)) if remind else ()
    validated = utcnow() if decided.validated else None
    return Assessment(record, result, decided.after, validated, event, decided, fresh, reminders)


EXPIRY_MARKS = (30, 7, 1)  # days before expiry: one event (and one alert) at each, never twice
_MARK_RE = re.compile(r"\((\d+)-day mark\)")


def expiry_reminders(
    deps: Deps, record: StoredCredential, expiry: Expiry | None, actor: str, run_id: str | None = None
) -> list[Event]:
    """The EXPIRY event for the most urgent mark the key has reached, unless that mark or a later one was already
    recorded for this credential: two nightly runs six days before expiry give one event, for the 7-day mark."""
    if expiry is None or not expiry.known or expiry.expires_at is None:
        return []
    return mark_reminders(deps, record, expiry.expires_at, actor, run_id)


def mark_reminders(
    deps: Deps, record: StoredCredential | KeyHolder, expires_at: datetime, actor: str, run_id: str | None = None
) -> list[Event]:
    """expiry_reminders for a key known to expire at `expires_at` (finalize calls it for a run's staged results)."""
    left = expires_at - utcnow()
    reached = [m for m in EXPIRY_MARKS if left <= timedelta(days=m)]
    if not reached:
        return []
    mark = min(reached)
    since = utcnow() - timedelta(days=max(EXPIRY_MARKS) + 1)
    done = {
        int(found.group(1))
        for e in deps.store.events(record.org_slug, since)
        if e.action == Action.EXPIRY and e.credential_id == record.credential_id
        for found in [_MARK_RE.search(e.message)]
        if found
    }
    if any(m <= mark for m in done):
        return []
    days = max(left.total_seconds() / 86_400, 0)
    message = (
        f"The {record.provider.label} key {record.credential_hint} expires {expires_at:%Y-%m-%d %H:%M} UTC, in "
        f"{days:.1f} days ({mark}-day mark): create a new key and set it up before then."
    )
    return [
        make_event(
            record.org_slug,
            record.provider,
            Action.EXPIRY,
            Outcome.SUCCESS,
            actor,
            credential_id=record.credential_id,
            status_before=record.validation_status,
            status_after=record.validation_status,
            error_code=Code.KEY_EXPIRING,
            message=message,
            run_id=run_id,
        )
    ]


class Recorded(NamedTuple):
    """What writing assessments did: the cache sync's warnings and the credential ids whose result was applied
    (the others were superseded: their credential changed while it was checked)."""

    warnings: list[WarningInfo]
    applied: set[str]


def apply(deps: Deps, assessments: list[Assessment], actor: str = "system") -> list[str]:
    """Record assessments in one store write and one cache write; returns sync warnings (see `record_checks`)."""
    return [str(w) for w in record_checks(deps, assessments, actor).warnings]


def log_alarm(a: Assessment) -> None:
    """An operator alarm in the log (a ciphertext that did not decrypt, the platform's Google access): no key."""
    log.error(
        "ALARM %s org=%s provider=%s credential_id=%s key_ref=%s: %s",
        a.result.error_code,
        a.record.org_slug,
        a.record.provider.value,
        a.record.credential_id,
        a.record.key_ref,
        "the platform's Google access (see the catalog)"
        if a.result.error_code == Code.GCP_PLATFORM_ACCESS_FAILED
        else "check the keyring",
    )


def record_checks(deps: Deps, assessments: list[Assessment], actor: str = "system") -> Recorded:
    """Record assessments in one store write and one cache write.

    A result is applied only to its credential as the check read it (still active, not written since): a result
    superseded by a newer check, a rotation or a delete changes nothing, reaches neither the cache nor an alert,
    and its event says so. An alarm changes no status: it is an event and an operator alarm."""
    alarms = [a for a in assessments if a.alarm]
    for a in alarms:
        log_alarm(a)
    if alarms:
        deps.store.append_events([a.event for a in alarms])
    checked = [a for a in assessments if not a.alarm]
    reminders = [e for a in checked for e in a.reminders]
    if reminders:
        deps.store.append_events(reminders)
    with deps.locks.hold((a.record.org_slug, a.record.provider) for a in checked):
        matched = deps.store.record_validations([_update(a, actor) for a in checked])
        current = [a for a in checked if a.record.credential_id in matched]
        if not current:
            return Recorded([], matched)
        updates: list[StatusUpdate] = [
            (a.record.org_slug, a.record.provider, a.after, a.record.created_at) for a in current
        ]
        return Recorded(sync(deps, updates, actor, checked=True), matched)


def _update(a: Assessment, actor: str) -> ValidationUpdate:
    message = a.result.message if a.result.error_code else None
    return ValidationUpdate(
        a.record.credential_id,
        a.after,
        a.result.error_code,
        message,
        a.validated_at,
        actor,
        a.event,
        expected_updated_at=a.record.updated_at,  # applied only while the credential is as the check read it
        freshness=a.freshness,
        expiry=a.result.expiry,
    )


def revalidate_record(deps: Deps, record: StoredCredential, actor: str = "system") -> ValidateResult:
    """Validate one stored credential (no attempt limit: used by operators' bulk runs too). CHECK_SUPERSEDED when
    the credential changed while it was checked (deleted, rotated, or checked again): nothing was applied."""
    return _revalidated(deps, record, actor)[1]


def _revalidated(deps: Deps, record: StoredCredential, actor: str) -> tuple[Assessment, ValidateResult]:
    assessment = assess(deps, record, actor)
    recorded = record_checks(deps, [assessment], actor)
    if not assessment.alarm and record.credential_id not in recorded.applied:
        raise IntegrationError(
            Code.CHECK_SUPERSEDED,
            f"The {record.provider.value} credential of {record.org_slug} was deleted, replaced or checked again "
            "while this check ran; its result was not recorded.",
        )
    return assessment, assessment.outcome(recorded.warnings)


def validate(deps: Deps, org_slug: str, provider: Provider | str, actor: str = "system") -> ValidateResult:
    """Re-check the stored credential live. Rejection -> INVALID; a transient failure keeps the status."""
    provider = Provider.parse(provider)
    require(deps, org_slug)
    record = deps.store.get_active(org_slug, provider)
    if record is None:
        raise IntegrationError(Code.NOT_CONFIGURED, f"{org_slug} has no active {provider.value} credential.")
    deps.limiter.hit(org_slug)
    assessment, result = _revalidated(deps, record, actor)
    alerting.alert_later(deps, [assessment, *assessment.reminders], "validate", actor)  # off the request path
    return result
