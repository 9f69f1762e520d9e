"""Setup page: drive the form and the buttons by key; the canary never shows."""

from __future__ import annotations

from integrations import IntegrationService, Provider, Status

from tests.console.conftest import app, assert_no_canary, rendered
from tests.keys import CANARY, openai_key, service_account_json


def submit(at, credential: str, name: str = "", skip: bool = False, provider: str | None = None):
    if provider:
        at.radio(key="setup_provider").set_value(provider).run()
    at.text_input(key="setup_credential").input(credential)
    at.text_input(key="setup_credential_name").input(name)
    at.checkbox(key="setup_skip_validation").set_value(skip)
    at.button(key="setup_submit").click().run()
    assert not at.exception, at.exception
    return at


def test_setup_success_shows_credential_id_and_steps(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), CANARY, name="Prod")
    assert "configured" in at.success[0].value and "cred_" in at.success[0].value
    assert [s.label for s in at.status] == ["Done"]
    one = demo.get_one("initech", "openai")
    assert one.status == Status.VALID and one.credential_name == "Prod" and one.metadata == {}
    assert_no_canary(at)
    assert at.session_state["setup_credential"] == ""  # the secret left the session with the submit


def test_gcp_setup_shows_the_checklist(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), service_account_json("sa@p.iam.gserviceaccount.com"), provider="GCP")
    assert "configured" in at.success[0].value
    assert any("bigquery.jobs.create" in c.value for c in at.caption)


def test_rejected_key_shows_the_catalog_entry(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), openai_key("revoked") + "CANARY")
    assert "INVALID_CREDENTIAL" in at.error[0].value and "Credential rejected by the provider" in at.error[0].value
    assert any("Create a new key" in m.value for m in at.markdown)
    assert at.status[0].label == "Failed: INVALID_CREDENTIAL"
    assert demo.get_one("initech", "openai").status == Status.NOT_CONFIGURED


def test_transient_failure_says_retry(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), openai_key("unreachable"))
    assert "NETWORK_ERROR" in at.error[0].value
    assert any("temporary" in c.value for c in at.caption)


def test_malformed_key_is_explained(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), "sk-ant-api03-" + "x" * 30)
    assert "MALFORMED_CREDENTIAL" in at.error[0].value and "Anthropic key" in at.error[0].value


def test_skip_validation_warns_and_stores_pending(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), openai_key(), skip=True)
    assert any("PENDING" in w.value for w in at.warning)
    assert demo.get_one("initech", "openai").status == Status.PENDING


def test_rotate_replaces_the_credential(demo: IntegrationService) -> None:
    before = demo.get_one("acmecorp", "openai").credential_id
    at = app(org="acmecorp")
    at.button(key="rotate").click().run()
    assert "deactivated and its ciphertext erased" in at.info[0].value
    submit(at, openai_key())
    assert "rotated" in at.success[0].value
    assert demo.get_one("acmecorp", "openai").credential_id != before


def test_delete_asks_for_confirmation(demo: IntegrationService) -> None:
    at = app(org="acmecorp")
    at.button(key="delete").click().run()
    assert demo.get_one("acmecorp", "openai").status == Status.VALID
    assert "Delete the OpenAI credential of acmecorp?" in at.error[0].value
    at.button(key="delete_confirm").click().run()
    assert not at.exception
    assert demo.get_one("acmecorp", "openai").status == Status.NOT_CONFIGURED
    assert demo.cache.get_org("acmecorp").status_of(Provider.OPENAI).status == Status.NOT_CONFIGURED


def test_revalidate_button_reports_rejection(demo: IntegrationService) -> None:
    at = app(org="globex")
    assert "INVALID" in rendered(at) and "INVALID_CREDENTIAL" in at.warning[0].value
    at.button(key="validate").click().run()
    assert "rejected the key" in at.error[0].value


def test_no_orgs_explains_what_to_do(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "empty"))
    at = app()
    assert "integrations org create" in at.info[0].value
