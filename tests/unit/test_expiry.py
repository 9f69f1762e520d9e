"""Issue 26, expiry and last use: an OpenAI Admin key's expires_at / last_used_at read from the organization's
Admin key list, "never expires" and "unknown" shown explicitly, and one EXPIRY event per 30/7/1-day mark however
many nightly runs see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from integrations import IntegrationService, Provider, Status
from integrations.domain import Action
from integrations.usecases import checks

from tests.conftest import ORG
from tests.keys import OPENAI_OK, admin_key


def expiry_events(svc: IntegrationService) -> list:
    return [e for e in svc.store.events(ORG) if e.action == Action.EXPIRY]


def nightly(svc: IntegrationService) -> None:
    """What the nightly re-validation does for each stored credential."""
    for record in svc.store.list_credentials(ORG):
        checks.revalidate_record(svc.deps, record, actor="nightly")


def test_an_admin_key_expiring_in_6_days_gives_one_event_for_the_7_day_mark_over_two_nights(
    svc: IntegrationService,
) -> None:
    setup = svc.setup(ORG, "openai", admin_key("openai", "exp6d"))
    assert setup.validation_status == Status.VALID
    nightly(svc)
    nightly(svc)
    [event] = expiry_events(svc)
    assert "(7-day mark)" in event.message and event.error_code == "KEY_EXPIRING"
    assert event.credential_id == setup.credential_id and event.status_after == Status.VALID  # no flip
    assert "sk-admin-" not in event.message.replace("sk-admin-...", "")  # the hint, never the key
    shown = svc.get_one(ORG, "openai")
    assert shown.expires_at is not None and timedelta(days=5) < shown.expires_at - datetime.now(UTC) < timedelta(days=6)
    assert shown.expiry == f"expires {shown.expires_at:%Y-%m-%d}" and shown.last_used_at is not None


@pytest.mark.parametrize(("marker", "mark"), [("exp25d", 30), ("exp1d", 1)])
def test_each_mark_once(svc: IntegrationService, marker: str, mark: int) -> None:
    svc.setup(ORG, "openai", admin_key("openai", marker))
    nightly(svc)
    nightly(svc)
    assert [f"({mark}-day mark)" in e.message for e in expiry_events(svc)] == [True]


def test_a_key_without_expiry_says_never_and_gives_no_event(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", admin_key("openai"))
    nightly(svc)
    assert svc.get_one(ORG, "openai").expiry == "never expires" and expiry_events(svc) == []


def test_expiry_is_unknown_when_the_list_cannot_be_read_and_not_asked_for_inference_keys(
    svc: IntegrationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc.setup(ORG, "openai", OPENAI_OK)
    assert svc.get_one(ORG, "openai").expiry is None  # inference keys: the provider was not asked
    validator = svc.deps.validators[Provider.OPENAI]
    original = validator._client

    def refusing():
        shared = original()

        class Refusing:
            def __getattr__(self, name):
                return getattr(shared, name)

            def get(self, *args, **kwargs):
                import openai

                raise openai.PermissionDeniedError("denied", response=_response(), body=None)

        return Refusing()

    monkeypatch.setattr(validator, "_client", refusing)
    result = svc.setup(ORG, "openai", admin_key("openai", "exp6d"))
    assert result.validation_status == Status.VALID  # unknown expiry is never a failure
    assert svc.get_one(ORG, "openai").expiry == "unknown" and svc.get_one(ORG, "openai").expires_at is None


def _response():
    import httpx2

    return httpx2.Response(403, request=httpx2.Request("GET", "https://api.openai.com/v1/organization/admin_api_keys"))
