"""Issue 27 on the pages (AppTest): the action buttons beside a failed Diagnose step fit the failure (store as
PENDING only when the provider could not be reached, as the troubleshooting guide says), and a new org API key is
in the session for exactly one render."""

from __future__ import annotations

import pytest
from integrations import IntegrationService

from tests.console.conftest import app, demo  # noqa: F401  (demo: the fixture)


def _labels(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.label for b in at.button]


def test_an_unreachable_provider_offers_store_as_pending(
    demo: IntegrationService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTEGRATIONS_SANDBOX_OUTAGE", "OPENAI")
    at = app("pages/troubleshooting.py", org="acmecorp")
    at.button(key="diagnose").click().run()
    assert not at.exception
    labels = _labels(at)
    assert "Store a key as PENDING (skip validation)" in labels and "Re-validate" in labels


def test_a_rejected_key_offers_no_pending_and_a_drift_offers_resync(demo: IntegrationService) -> None:  # noqa: F811
    at = app("pages/troubleshooting.py", org="globex")
    at.button(key="diagnose").click().run()
    assert "Re-validate" in _labels(at) and "Store a key as PENDING (skip validation)" not in _labels(at)
    at = app("pages/troubleshooting.py", org="hooli")
    at.radio(key="ts_provider").set_value("ANTHROPIC").run()
    at.button(key="diagnose").click().run()
    at.button(key="act_resync").click().run()
    assert not at.exception and any("1 drift(s) fixed" in s.value for s in at.success)
    assert all("❌" not in m.value for m in at.markdown)  # diagnosed again after the action


def test_a_new_org_key_lives_in_the_session_for_one_render(demo: IntegrationService) -> None:  # noqa: F811
    at = app("pages/orgs.py", org="acmecorp")
    at.button(key="orgs_rotate").click().run()
    at.button(key="orgs_rotate_confirm").click().run()
    [code] = at.code
    key = code.value
    assert demo.authenticate("acmecorp", key).org_slug == "acmecorp"
    assert all(key not in str(at.session_state[k]) for k in at.session_state)  # popped by the render that shows it
    at.button(key="orgs_copied").click().run()
    assert not at.code
