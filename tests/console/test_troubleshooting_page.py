"""Troubleshooting: diagnose, format check, resync, walkthroughs, catalog search."""

from __future__ import annotations

from integrations import IntegrationService
from integrations.errors import CATALOG

from tests.console.conftest import app, assert_no_canary
from tests.keys import CANARY, service_account_json


def test_diagnose_stops_at_the_failing_step(demo: IntegrationService) -> None:
    at = app("pages/troubleshooting.py", org="globex")
    at.button(key="diagnose").click().run()
    lines = [m.value for m in at.markdown if m.value.startswith(("✅", "❌", "⏸️"))]
    assert lines[3].startswith("✅ **ciphertext decrypts**") and lines[4].startswith("❌ **live validation**")
    assert lines[5].startswith("⏸️ **status cache agrees**")
    assert any("`INVALID_CREDENTIAL` · **Fix:**" in m.value for m in at.markdown)


def test_diagnose_all_green(demo: IntegrationService) -> None:
    at = app("pages/troubleshooting.py", org="acmecorp")
    at.radio(key="ts_provider").set_value("GCP").run()
    at.button(key="diagnose").click().run()
    assert sum(m.value.startswith("✅") for m in at.markdown) == 6


def test_format_check_stores_nothing(demo: IntegrationService) -> None:
    at = app("pages/troubleshooting.py", org="initech")
    at.text_input(key="format_credential").input(CANARY)
    at.button(key="format_check").click().run()
    assert at.success[0].value == "Well-formed:" and at.text[0].value == "sk-proj-...IjKl"
    at.text_input(key="format_credential").input("sk-nope")
    at.button(key="format_check").click().run()
    assert "MALFORMED_CREDENTIAL" in at.error[0].value
    assert any(c.value.startswith("Fix: ") for c in at.caption), "a refused format says what to do, as elsewhere"
    assert demo.get_one("initech", "openai").status.value == "NOT_CONFIGURED"
    assert (demo.events("initech").action == "ORG_KEY").all()  # only its registration: nothing stored
    assert_no_canary(at)


def test_resync_fixes_a_drifted_org(demo: IntegrationService) -> None:
    at = app("pages/troubleshooting.py", org="hooli")
    at.button(key="resync").click().run()
    assert at.success[0].value == "1 drift(s) fixed."
    at.button(key="resync").click().run()
    assert "No drift" in at.success[0].value


def test_walkthroughs_and_catalog_search(demo: IntegrationService) -> None:
    at = app("pages/troubleshooting.py")
    titles = [e.label for e in at.expander]
    assert sum("—" in t and "`" not in t for t in titles) == 3  # the document's three issues, as they apply to OpenAI
    for title in (
        "Organization API key not found",
        "Validation failed for a valid credential",
        "Integration status not updating in UI",
    ):
        assert any(t.startswith(title) for t in titles)
    assert any(c.value.startswith("curl -s https://api.openai.com/v1/models") for c in at.code)
    assert all("$KEY" in c.value for c in at.code)
    assert sum(t.startswith("`") for t in titles) == len(CATALOG)
    at.radio(key="ts_provider").set_value("GCP").run()  # keyless GCP's walkthrough too; no OpenAI test by hand
    titles = [e.label for e in at.expander]
    assert sum("—" in t and "`" not in t for t in titles) == 4
    assert not any("api.openai.com" in c.value for c in at.code)
    at.text_input(key="catalog_search").input("permission").run()
    codes = [e.label.split("`")[1] for e in at.expander if e.label.startswith("`")]
    assert "INSUFFICIENT_PERMISSIONS" in codes and "NETWORK_ERROR" not in codes


def test_the_url_provider_is_kept_and_an_unknown_org_is_refused(demo: IntegrationService) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.console.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "pages/troubleshooting.py"), default_timeout=60)
    at.query_params.update({"org": "globex", "provider": "ANTHROPIC"})
    at.run()
    assert at.radio(key="ts_provider").value == "ANTHROPIC" and "Diagnose globex · Anthropic" in at.subheader[0].value
    at = AppTest.from_file(str(ROOT / "pages/troubleshooting.py"), default_timeout=60)
    at.query_params["org"] = "ghost-org"
    at.run()
    assert "No organization ghost\\-org exists" in at.error[0].value and not at.button


def test_diagnose_shows_tenant_text_literally(demo: IntegrationService) -> None:
    demo.register_org("evil-org", name="Evil")
    email = "![x](http://evil.example/x.png)@proj-123.iam.gserviceaccount.com"  # the key file's e-mail: tenant text
    demo.setup("evil-org", "gcp", service_account_json(email, "proj-123"), skip_validation=True)
    at = app("pages/troubleshooting.py", org="evil-org")
    at.radio(key="ts_provider").set_value("GCP").run()
    at.button(key="diagnose").click().run()
    assert all("](http" not in m.value for m in at.markdown)
    assert any(email in t.value for t in at.text)  # shown as written, as text: no Markdown at all
