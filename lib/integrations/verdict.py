"""The one rule for a check's verdict: a rejection means INVALID, a transient failure keeps the status, an alarm
(the operator's key material failed, not the tenant's credential) changes nothing. And who must act on a check's
problem (ProblemClass): the tenant, the operator, nobody yet (transient), or nobody (dark)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from .domain import CheckResult, Outcome, Status
from .errors import Code

ALARMS = (Code.DECRYPTION_FAILED, Code.KMS_KEY_VERSION_UNAVAILABLE, Code.GCP_PLATFORM_ACCESS_FAILED)
# A keyless integration waiting on the customer (a grant, the export table, a policy): PENDING until it has worked;
# once it has (VALID, or INVALID after a revocation), the same answer means access was taken away: INVALID.
AWAITING_CUSTOMER = (
    Code.GCP_KEYLESS_NOT_GRANTED,
    Code.GCP_TOKEN_CREATOR_MISSING,
    Code.GCP_DOMAIN_RESTRICTED_SHARING,
    Code.GCP_VPC_SERVICE_CONTROLS,
    Code.GCP_EXPORT_WRONG_LOCATION,
    Code.GCP_API_DISABLED,
    Code.GCP_EXPORT_NOT_BILLING,
)


class Verdict(NamedTuple):
    after: Status  # the status the credential has after the check
    outcome: Outcome  # SUCCESS, REJECTED or INCONCLUSIVE
    validated: bool  # the check was conclusive: it counts as a validation (last_validated_at moves)
    alarm: bool  # the operator's side failed (key material, the platform's Google access): never a tenant's status

    @property
    def label(self) -> str:
        """VALID, INVALID or INCONCLUSIVE: how a report counts it."""
        return {Outcome.SUCCESS: "VALID", Outcome.REJECTED: "INVALID"}.get(self.outcome, "INCONCLUSIVE")


def verdict(result: CheckResult, before: Status) -> Verdict:
    """What a check's result means for a credential whose status was `before`."""
    if result.error_code is None:
        return Verdict(Status.VALID, Outcome.SUCCESS, True, False)
    if result.error_code in ALARMS:
        return Verdict(before, Outcome.INCONCLUSIVE, False, True)
    if result.retryable:
        return Verdict(before, Outcome.INCONCLUSIVE, False, False)
    if result.error_code in AWAITING_CUSTOMER and before not in (Status.VALID, Status.INVALID):
        return Verdict(Status.PENDING, Outcome.INCONCLUSIVE, False, False)
    return Verdict(Status.INVALID, Outcome.REJECTED, True, False)


def failed(
    code: str,
    message: str,
    *,
    retryable: bool,
    checks: list[Any] | None = None,
    rate_limit: dict[str, str] | None = None,
) -> CheckResult:
    """A failed check's result. Its status is what the verdict makes of it from an open (PENDING) state: INVALID for a
    rejection, PENDING for a transient failure or an alarm."""
    result = CheckResult(
        status=Status.PENDING,
        error_code=code,
        message=message,
        retryable=retryable,
        checks=checks or [],
        rate_limit=rate_limit or {},
    )
    return result.model_copy(update={"status": verdict(result, Status.PENDING).after})


class ProblemClass(StrEnum):
    """Who must act on a check's problem. One place (PROBLEM_CLASSES below) classes every catalog code."""

    TENANT_ACTION = "tenant_action"  # the tenant's credential: revoked, a permission or grant missing, wrong kind
    OPERATOR_ACTION = "operator_action"  # ours: KMS/keyring, BigQuery, our Google identity, a provider's contract
    TRANSIENT = "transient"  # 429, 5xx, timeouts: never a flip, never an alert; recorded, the last error shown
    DARK = "dark"  # not configured, no data yet: informational only


_T, _O, _R, _D = (
    ProblemClass.TENANT_ACTION,
    ProblemClass.OPERATOR_ACTION,
    ProblemClass.TRANSIENT,
    ProblemClass.DARK,
)
# Every catalog code, classed (tests/unit/test_problem_classes.py: none unclassed). Codes a check can return come
# first; the others are what a request or the platform answers, classed by who would fix them.
PROBLEM_CLASSES: dict[Code, ProblemClass] = {
    # a check's answer about the tenant's credential
    Code.INVALID_CREDENTIAL: _T,
    Code.INSUFFICIENT_PERMISSIONS: _T,
    Code.MALFORMED_CREDENTIAL: _T,
    Code.WRONG_KEY_KIND: _T,
    Code.BILLING_EXPORT_NOT_FOUND: _T,
    Code.GCP_KEYLESS_NOT_GRANTED: _T,
    Code.GCP_TOKEN_CREATOR_MISSING: _T,
    Code.GCP_DOMAIN_RESTRICTED_SHARING: _T,
    Code.GCP_KEY_CREATION_DISABLED: _T,
    Code.GCP_VPC_SERVICE_CONTROLS: _T,
    Code.GCP_EXPORT_WRONG_LOCATION: _T,
    Code.GCP_API_DISABLED: _T,
    Code.GCP_EXPORT_NOT_BILLING: _T,
    Code.DATA_STALLED: _T,  # the export was switched off or points elsewhere: the tenant's console
    Code.KEY_EXPIRING: _T,  # the tenant creates the next key
    # ours: key material, storage, our Google identity, a provider answering outside its contract
    Code.DECRYPTION_FAILED: _O,
    Code.ENCRYPTION_FAILED: _O,
    Code.KMS_KEY_VERSION_UNAVAILABLE: _O,
    Code.KEYRING_MISSING: _O,
    Code.KEYRING_MISMATCH: _O,
    Code.KEY_VERSION_IN_USE: _O,
    Code.KEY_VERSION_RETIRED: _O,
    Code.KEY_VERSION_NOT_FOUND: _O,
    Code.KEY_VERSION_ALREADY_RETIRED: _O,
    Code.ADDRESS_IN_USE: _O,
    Code.GCP_PLATFORM_ACCESS_FAILED: _O,
    Code.CHECK_FAILED: _O,  # an unexpected answer or exception: a provider contract change until shown otherwise
    Code.STORAGE_FAILED: _O,
    Code.STORE_QUOTA_EXCEEDED: _O,
    Code.STATUS_SYNC_FAILED: _O,
    Code.STATUS_CACHE_READ_FAILED: _O,
    Code.STATUS_CACHE_DRIFT: _O,  # our cache disagrees with the record: reconcile (ours to act on)
    Code.CONFIGURATION_ERROR: _O,
    Code.SETTINGS_OVERRIDDEN: _O,
    Code.TASK_SETTINGS_INVALID: _O,
    Code.JOB_FAILED: _O,
    Code.ALERT_DELIVERY_FAILED: _O,
    Code.ERASE_INCOMPLETE: _O,
    Code.DATA_DIR_NOT_OWNED: _O,
    # transient: the next check decides
    Code.RATE_LIMITED: _R,
    Code.NETWORK_ERROR: _R,
    Code.PROVIDER_UNAVAILABLE: _R,
    Code.TOO_MANY_ATTEMPTS: _R,
    Code.JOB_ALREADY_RUNNING: _R,
    Code.RUN_TASKS_RUNNING: _R,
    Code.CHECK_SUPERSEDED: _R,
    Code.DATA_STALE: _R,  # late, not stopped: providers lag; DATA_STALLED is the one to act on
    # dark: nothing to check yet
    Code.NOT_CONFIGURED: _D,
    Code.RUN_NOT_FOUND: _D,
    # a request's own answer: the caller (the tenant's frontend) fixes it
    Code.ORG_NOT_FOUND: _T,
    Code.INVALID_ORG_SLUG: _T,
    Code.ORG_API_KEY_MISSING: _T,
    Code.ORG_API_KEY_INVALID: _T,
    Code.ORG_API_KEY_FORBIDDEN: _T,
    Code.UNSUPPORTED_PROVIDER: _T,
    Code.INVALID_INPUT: _T,
    Code.PAYLOAD_TOO_LARGE: _T,
    Code.ENDPOINT_NOT_FOUND: _T,
    Code.METHOD_NOT_ALLOWED: _T,
    Code.ORG_EXISTS: _T,
}
_BY_CODE: dict[str, ProblemClass] = {str(code): found for code, found in PROBLEM_CLASSES.items()}


def problem_class(code: str | None, retryable: bool = False) -> ProblemClass | None:
    """Who must act on a check that ended with `code` (None: no problem). A tenant-class answer that the check
    marked retryable kept the status (the verdict's rule), so it is transient; an operator-class one stays ours
    (an alarm keeps the status too, and still needs us). A code not in the table is ours to look at."""
    if code is None or code == "":
        return None
    found = _BY_CODE.get(str(code), ProblemClass.OPERATOR_ACTION)
    if retryable and found == ProblemClass.TENANT_ACTION:
        return ProblemClass.TRANSIENT
    return found
