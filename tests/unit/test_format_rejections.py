"""A key refused by its format leaves an audit event (issue 27): who tried what, with a hint that names no secret,
and the try still counts against the org's attempt limit."""

from __future__ import annotations

import pytest
from integrations import IntegrationError

from tests.conftest import ORG, fake_service
from tests.keys import CANARY


def test_a_format_rejection_is_recorded_with_a_hint_and_never_the_key() -> None:
    svc = fake_service()
    svc.register_org(ORG)
    wrong = CANARY.replace("sk-proj-", "sk-ant-api03-")[:20]  # an Anthropic-looking key, too short
    with pytest.raises(IntegrationError) as caught:
        svc.setup(ORG, "anthropic", wrong, actor="local:ana")
    assert caught.value.code == "MALFORMED_CREDENTIAL"
    events = svc.events(ORG)
    rejected = events[(events.action == "SETUP") & (events.outcome == "REJECTED")]
    assert len(rejected) == 1
    event = rejected.iloc[0]
    assert event.actor == "local:ana" and event.error_code == "MALFORMED_CREDENTIAL" and event.provider == "ANTHROPIC"
    assert "starts with sk-ant-" in event.message and "20 characters" in event.message
    assert "CANARY" not in events.to_csv()


def test_format_rejections_count_against_the_attempt_limit() -> None:
    svc = fake_service(attempts_per_minute=2)
    svc.register_org(ORG)
    for _ in range(2):
        with pytest.raises(IntegrationError, match="MALFORMED_CREDENTIAL"):
            svc.setup(ORG, "openai", "not-a-key")
    with pytest.raises(IntegrationError) as caught:
        svc.setup(ORG, "openai", "not-a-key")
    assert caught.value.code == "TOO_MANY_ATTEMPTS"
    assert (svc.events(ORG).outcome == "REJECTED").sum() == 2
