"""Issue 27: test a key without saving (Grafana's "Save & test" without the save). The format check and the live
check run as in setup; nothing is stored, no status changes, the cache is not written; the try counts against
the org's attempt limit and leaves one TEST event with the key's hint, never the key."""

from __future__ import annotations

import pytest
from integrations import IntegrationError, IntegrationService, Status
from integrations.domain import Action, Outcome

from tests.conftest import ORG, fake_service
from tests.keys import OPENAI_OK, openai_key


def _state(svc: IntegrationService) -> tuple[object, ...]:
    rows = svc.store.list_credentials(ORG, active_only=False)
    return (
        [(r.credential_id, r.validation_status, r.encrypted_credential, r.updated_at) for r in rows],
        svc.cache.get_org(ORG),
    )


def test_a_working_key_is_tested_and_nothing_is_stored(svc: IntegrationService) -> None:
    before = _state(svc)
    result = svc.test_credential(ORG, "openai", OPENAI_OK, actor="ops@example.com")
    assert result.success and result.outcome == "VALID" and "nothing was stored" in result.message
    assert result.credential_hint.endswith(OPENAI_OK[-4:]) and OPENAI_OK not in result.model_dump_json()
    assert _state(svc) == before and svc.get_one(ORG, "openai").status == Status.NOT_CONFIGURED
    [event] = [e for e in svc.store.events(ORG) if e.action == Action.TEST]
    assert (event.outcome, event.actor, event.credential_id) == (Outcome.SUCCESS, "ops@example.com", None)
    assert OPENAI_OK not in event.model_dump_json() and result.credential_hint in (event.message or "")


def test_a_refused_key_beside_a_working_one_changes_nothing(svc: IntegrationService) -> None:
    stored = svc.setup(ORG, "openai", OPENAI_OK)
    before = _state(svc)
    revoked = openai_key("revoked")
    result = svc.test_credential(ORG, "openai", revoked)
    assert not result.success and result.outcome == "INVALID" and result.error is not None
    assert result.error.code == "INVALID_CREDENTIAL"
    assert _state(svc) == before  # the stored key stays VALID, same row, same ciphertext, cache untouched
    assert svc.get_one(ORG, "openai").credential_id == stored.credential_id
    assert revoked not in str(svc.events(ORG).to_dict())


def test_an_unreachable_provider_is_inconclusive_not_a_failure_of_the_key(svc: IntegrationService) -> None:
    result = svc.test_credential(ORG, "openai", openai_key("unreachable"))
    assert result.outcome == "INCONCLUSIVE" and result.error is not None and result.error.retryable
    assert "test again later" in result.message


def test_a_malformed_key_raises_its_code_and_is_recorded_without_the_key(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.test_credential(ORG, "openai", "not-a-key-CANARYzz99")
    assert err.value.code == "MALFORMED_CREDENTIAL" and "CANARYzz99" not in str(err.value)
    [event] = [e for e in svc.store.events(ORG) if e.action == Action.TEST]
    assert event.outcome == Outcome.REJECTED and event.error_code == "MALFORMED_CREDENTIAL"
    assert "CANARYzz99" not in event.model_dump_json() and "characters" in (event.message or "")


def test_each_test_counts_against_the_orgs_attempt_limit() -> None:
    svc = fake_service(attempts_per_minute=2)
    svc.register_org(ORG)
    svc.test_credential(ORG, "openai", OPENAI_OK)
    with pytest.raises(IntegrationError):
        svc.test_credential(ORG, "openai", "malformed")  # a format rejection counts too
    with pytest.raises(IntegrationError) as err:
        svc.test_credential(ORG, "openai", OPENAI_OK)
    assert err.value.code == "TOO_MANY_ATTEMPTS"


def test_an_unknown_org_is_refused_before_anything_is_sent(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.test_credential("no-such-org", "openai", OPENAI_OK)
    assert err.value.code == "ORG_NOT_FOUND"
