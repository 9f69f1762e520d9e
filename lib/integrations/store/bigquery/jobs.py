"""A BigQuery job's failures as catalog errors: quotas and denials, concurrent-update aborts (worth another attempt),
and a job that outlived the deadline (cancelled; whether its write happened is said)."""

from __future__ import annotations

import time
from typing import Any

from google.api_core import exceptions as gexc

from ...errors import Code, IntegrationError

RETRYABLE = (
    "concurrent update",
    "Transaction is aborted",
    "too many DML statements outstanding",
    "Could not serialize access",
)
QUOTA_REASONS = ("rateLimitExceeded", "quotaExceeded")  # short- and long-term quotas: transient, never a verdict
CANCEL_WAIT_S = 5.0


def _reason(exc: gexc.GoogleAPICallError) -> str:
    errors = getattr(exc, "errors", None) or []
    return str(errors[0].get("reason", "")) if errors and isinstance(errors[0], dict) else ""


class Aborted(Exception):
    """A concurrent-update abort: worth another attempt; `error` is what the caller gets when attempts run out."""

    def __init__(self, error: IntegrationError) -> None:
        self.error = error


def job_error(exc: gexc.GoogleAPICallError, writes: bool, table: str) -> Exception:
    """The catalog error for a failed job, or Aborted (holding it) when a concurrent update aborted the job."""
    reason = _reason(exc)
    if reason in QUOTA_REASONS:
        return IntegrationError(
            Code.STORE_QUOTA_EXCEEDED,
            f"BigQuery quota ({reason}): {exc.message[:200]} Nothing was written; retry later.",
            retryable=True,
        )
    if isinstance(exc, gexc.Forbidden):
        return IntegrationError(
            Code.STORAGE_FAILED,
            f"BigQuery denied access: {exc.message[:200]} Grant the service account BigQuery Data Editor "
            f"on the dataset {table} and BigQuery Job User on the project (`integrations doctor`).",
            retryable=False,
        )
    again = any(m.lower() in exc.message.lower() for m in RETRYABLE)
    error = IntegrationError(
        Code.STORAGE_FAILED,
        f"BigQuery failed: {exc.message[:200]}" + (" Nothing was written." if writes else ""),
        retryable=again or isinstance(exc, gexc.ServerError),
    )
    return Aborted(error) if again else error


def timed_out(job: Any, writes: bool, timeout: float) -> IntegrationError:
    """Cancel a job that outlived the deadline; say whether its write is known not to have happened."""
    what = f"BigQuery did not answer within {timeout:g} s (INTEGRATIONS_STORE_TIMEOUT_S)."
    if not writes:
        return IntegrationError(Code.STORAGE_FAILED, f"{what} Nothing was changed; retry.", retryable=True)
    stopped = False
    if job is not None:
        try:
            job.cancel(timeout=CANCEL_WAIT_S)
            waited = time.monotonic() + CANCEL_WAIT_S
            while not job.done() and time.monotonic() < waited:
                time.sleep(0.05)
            stopped = job.state == "DONE" and (job.error_result or {}).get("reason") == "stopped"
        except gexc.GoogleAPICallError:
            stopped = False
    if stopped:
        return IntegrationError(
            Code.STORAGE_FAILED,
            f"{what} The job was cancelled before it committed: nothing was written; retry.",
            retryable=True,
        )
    return IntegrationError(
        Code.STORAGE_FAILED,
        f"{what} The job was cancelled, but it may have committed: the write may have happened; check before retrying.",
        retryable=True,
    )
