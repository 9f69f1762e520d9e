"""Issue 26: every check result is classed by who must act, from one table (verdict.PROBLEM_CLASSES): no catalog
code a check can return is unclassed, and the class agrees with the verdict (a transient failure is never a
tenant's problem; an alarm is always ours)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from integrations.errors import CATALOG, Code
from integrations.verdict import ALARMS, PROBLEM_CLASSES, ProblemClass, problem_class

LIB = Path(__file__).resolve().parents[2] / "lib" / "integrations"
# where a check's result is made: the providers' checks, the key material's decrypt, the check path and freshness
CHECK_SOURCES = [*sorted((LIB / "providers").glob("*.py")), *sorted((LIB / "crypto").glob("*.py"))]
CHECK_SOURCES += [LIB / "vault.py", LIB / "usecases" / "checks.py", LIB / "freshness.py", LIB / "verdict.py"]


def _codes_in(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    named = set(re.findall(r"Code\.([A-Z][A-Z0-9_]+)", text))
    quoted = {c for c in re.findall(r"[\"']([A-Z][A-Z0-9_]{3,})[\"']", text) if c in Code.__members__}
    return named | quoted


def test_no_code_a_check_can_return_is_unclassed() -> None:
    used = set().union(*(_codes_in(p) for p in CHECK_SOURCES if p.exists()))
    assert used, "the scan found the checks' codes"
    assert sorted(used - {c.value for c in PROBLEM_CLASSES}) == []


def test_every_catalog_code_is_classed_in_one_table() -> None:
    assert sorted(set(CATALOG) - {c.value for c in PROBLEM_CLASSES}) == []


@pytest.mark.parametrize(
    ("code", "retryable", "expected"),
    [
        ("INVALID_CREDENTIAL", False, ProblemClass.TENANT_ACTION),  # revoked
        ("INSUFFICIENT_PERMISSIONS", False, ProblemClass.TENANT_ACTION),  # a permission or scope missing
        ("WRONG_KEY_KIND", False, ProblemClass.TENANT_ACTION),
        ("GCP_KEYLESS_NOT_GRANTED", False, ProblemClass.TENANT_ACTION),
        ("KMS_KEY_VERSION_UNAVAILABLE", True, ProblemClass.OPERATOR_ACTION),  # our KMS: an alarm
        ("DECRYPTION_FAILED", True, ProblemClass.OPERATOR_ACTION),  # our keyring
        ("GCP_PLATFORM_ACCESS_FAILED", True, ProblemClass.OPERATOR_ACTION),  # our impersonation identity
        ("STORAGE_FAILED", True, ProblemClass.OPERATOR_ACTION),  # our BigQuery
        ("CHECK_FAILED", True, ProblemClass.OPERATOR_ACTION),  # a provider's contract changed under us
        ("RATE_LIMITED", True, ProblemClass.TRANSIENT),
        ("PROVIDER_UNAVAILABLE", True, ProblemClass.TRANSIENT),
        ("NETWORK_ERROR", True, ProblemClass.TRANSIENT),  # timeouts too
        ("INSUFFICIENT_PERMISSIONS", True, ProblemClass.TRANSIENT),  # marked retryable: the status was kept
        ("NOT_CONFIGURED", False, ProblemClass.DARK),
        (None, False, None),
        ("SOME_FUTURE_CODE", False, ProblemClass.OPERATOR_ACTION),  # unknown: ours to look at
    ],
)
def test_a_result_is_classed_by_who_must_act(code: str | None, retryable: bool, expected: ProblemClass | None) -> None:
    assert problem_class(code, retryable) == expected


def test_every_alarm_is_the_operators_and_every_retryable_catalog_code_is_no_tenants() -> None:
    assert {problem_class(c, True) for c in ALARMS} == {ProblemClass.OPERATOR_ACTION}
    for code, entry in CATALOG.items():
        if entry.retryable:
            assert problem_class(code, True) != ProblemClass.TENANT_ACTION, code
