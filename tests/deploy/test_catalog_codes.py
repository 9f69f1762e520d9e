"""The deployment's catalog codes: an overridden job env, and BigQuery quota errors read as a quota (retry later),
not as an outage or a permission problem."""

from __future__ import annotations

from integrations.errors import IntegrationError, entry


def test_quota_has_its_own_message_retryable_and_no_grant() -> None:
    quota = entry("STORE_QUOTA_EXCEEDED")
    assert quota.retryable and quota.http_status == 503
    assert "quota" in quota.message.lower() and "not an outage" in quota.message
    assert "Retry later" in quota.fixes[0] and "Grant" not in quota.fixes[0]
    assert IntegrationError("STORE_QUOTA_EXCEEDED").retryable


def test_an_overridden_env_is_not_retryable_and_says_how_to_change_a_setting() -> None:
    overridden = entry("SETTINGS_OVERRIDDEN")
    assert not overridden.retryable and "deploy/deploy.sh" in overridden.fixes[0]
