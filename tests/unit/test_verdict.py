"""One rule decides every check's verdict: setup, validate, bulk re-validation and diagnose all use it."""

from __future__ import annotations

import json

import pytest
from integrations import CATALOG, Code, IntegrationError, Status
from integrations.domain import CheckResult, Outcome
from integrations.verdict import verdict


def result(code: str | None = None, retryable: bool = False) -> CheckResult:
    return CheckResult(status=Status.INVALID if code else Status.VALID, error_code=code, retryable=retryable)


@pytest.mark.parametrize("before", list(Status))
def test_a_pass_is_valid_and_counts_as_validated(before: Status) -> None:
    decided = verdict(result(), before)
    assert (decided.after, decided.outcome, decided.validated, decided.alarm, decided.label) == (
        Status.VALID, Outcome.SUCCESS, True, False, "VALID"
    )  # fmt: skip


@pytest.mark.parametrize("code", ["INVALID_CREDENTIAL", "INSUFFICIENT_PERMISSIONS", "BILLING_EXPORT_NOT_FOUND"])
def test_a_rejection_means_invalid(code: str) -> None:
    decided = verdict(result(code), Status.VALID)
    assert (decided.after, decided.outcome, decided.validated, decided.label) == (
        Status.INVALID, Outcome.REJECTED, True, "INVALID"
    )  # fmt: skip


@pytest.mark.parametrize("code", ["NETWORK_ERROR", "RATE_LIMITED", "PROVIDER_UNAVAILABLE", "CHECK_FAILED"])
@pytest.mark.parametrize("before", [Status.VALID, Status.INVALID, Status.PENDING])
def test_a_transient_failure_keeps_the_status(code: str, before: Status) -> None:
    decided = verdict(result(code, retryable=True), before)
    assert (decided.after, decided.outcome, decided.validated, decided.alarm) == (
        before, Outcome.INCONCLUSIVE, False, False
    )  # fmt: skip


@pytest.mark.parametrize("code", ["DECRYPTION_FAILED", "KMS_KEY_VERSION_UNAVAILABLE"])
@pytest.mark.parametrize("retryable", [False, True])
def test_an_alarm_changes_nothing(code: str, retryable: bool) -> None:
    decided = verdict(result(code, retryable=retryable), Status.VALID)
    assert (decided.after, decided.validated, decided.alarm) == (Status.VALID, False, True)
    assert decided.label == "INCONCLUSIVE"


def test_catalog_codes_are_a_str_enum_the_catalog_agrees_with() -> None:
    assert set(CATALOG) == {c.value for c in Code}
    assert all(isinstance(code, Code) for code in CATALOG)
    error = IntegrationError("ORG_NOT_FOUND")
    assert error.code is Code.ORG_NOT_FOUND and error.code == "ORG_NOT_FOUND"
    assert json.dumps(error.to_json())[:26] == '{"code": "ORG_NOT_FOUND", '
    assert f"{Code.RATE_LIMITED}" == "RATE_LIMITED"
