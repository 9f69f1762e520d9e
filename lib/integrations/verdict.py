"""The one rule for a check's verdict: a rejection means INVALID, a transient failure keeps the status, an alarm
(the operator's key material failed, not the tenant's credential) changes nothing."""

from __future__ import annotations

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
