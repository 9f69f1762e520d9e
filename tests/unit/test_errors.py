"""The catalog: every code DESIGN.md names is there, complete, and errors never carry more than their text."""

from __future__ import annotations

import pytest
from integrations.errors import CATALOG, IntegrationError

DESIGN_CODES = [
    "ORG_NOT_FOUND",
    "ORG_API_KEY_MISSING",
    "ORG_API_KEY_INVALID",
    "ORG_API_KEY_FORBIDDEN",
    "UNSUPPORTED_PROVIDER",
    "MALFORMED_CREDENTIAL",
    "INVALID_CREDENTIAL",
    "INSUFFICIENT_PERMISSIONS",
    "RATE_LIMITED",
    "NETWORK_ERROR",
    "PROVIDER_UNAVAILABLE",
    "NOT_CONFIGURED",
    "ENCRYPTION_FAILED",
    "DECRYPTION_FAILED",
    "STORAGE_FAILED",
    "STATUS_SYNC_FAILED",
    "TOO_MANY_ATTEMPTS",
]


@pytest.mark.parametrize("code", DESIGN_CODES)
def test_design_codes_are_catalogued(code: str) -> None:
    assert code in CATALOG


@pytest.mark.parametrize("entry", CATALOG.values(), ids=list(CATALOG))
def test_every_entry_is_complete(entry) -> None:
    assert entry.title and entry.message.endswith(".") and entry.causes and entry.fixes
    assert 400 <= entry.http_status < 600


def test_transient_codes_are_retryable_and_rejections_are_not() -> None:
    for code in ("RATE_LIMITED", "NETWORK_ERROR", "PROVIDER_UNAVAILABLE", "STATUS_SYNC_FAILED", "TOO_MANY_ATTEMPTS"):
        assert CATALOG[code].retryable
    for code in ("INVALID_CREDENTIAL", "INSUFFICIENT_PERMISSIONS", "MALFORMED_CREDENTIAL"):
        assert not CATALOG[code].retryable


def test_error_json_shape() -> None:
    err = IntegrationError("NOT_CONFIGURED")
    assert err.to_json() == {
        "code": "NOT_CONFIGURED",
        "message": CATALOG["NOT_CONFIGURED"].message,
        "retryable": False,
        "hint": CATALOG["NOT_CONFIGURED"].fixes[0],
    }
    assert str(err).startswith("NOT_CONFIGURED: ") and err.http_status == 404
