"""Setup page: drive the form and the buttons by key; the canary never shows."""

from __future__ import annotations

import time

from integrations import IntegrationService, Provider, Status, connect
from streamlit.testing.v1 import AppTest

from tests.console.conftest import ROOT, app, assert_no_canary, rendered
from tests.keys import CANARY, openai_key, service_account_json


def submit(at, credential: str, name: str = "", skip: bool = False, provider: str | None = None):
    if provider:
        at.radio(key="setup_provider").set_value(provider).run()
    if provider == "GCP":  # keyless is the default for GCP: these tests use the key-file path
        at.radio(key="setup_gcp_mode").set_value("Service-account key file").run()
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
    connect(data_dir=tmp_path / "empty")  # an installation (as `integrations init` makes) with no org yet
    at = app()
    assert "integrations org create" in at.info[0].value


def test_the_kind_and_capabilities_are_shown(demo: IntegrationService) -> None:
    from tests.keys import OPENAI_ADMIN

    at = submit(app(org="initech"), OPENAI_ADMIN)
    assert "configured" in at.success[0].value
    captions = [c.value for c in at.caption]
    assert any("**cost data**: passed" in c for c in captions)
    assert any("**inference**: not available" in c for c in captions)
    at = app(org="initech")
    assert [t.value for t in at.text][2] == "Admin key"
    at.button(key="validate").click().run()
    assert any("**cost data**: passed" in c.value for c in at.caption)


def test_a_project_key_is_told_cost_tracking_needs_an_admin_key(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), openai_key())
    assert any("Cost tracking needs an OpenAI Admin key" in c.value for c in at.caption)


def card(at) -> list[str]:
    """The integration card's values (plain text elements)."""
    return [t.value for t in at.text]


def test_the_card_shows_the_new_state_in_the_same_run(demo: IntegrationService) -> None:
    at = app(org="initech")
    assert card(at)[0] == "⚪ Not configured"
    submit(at, openai_key(), name="Prod")
    assert card(at)[0] == "🟢 Valid" and card(at)[3] == "Prod" and card(at)[4] != "never"
    assert [b.key for b in at.button if b.key in ("validate", "rotate", "delete")] == ["validate", "rotate", "delete"]
    assert list(at.dataframe[0].value.action) == ["Setup"], "the history below shows the setup"
    assert at.subheader[1].value == "Rotate the credential"


def test_revalidate_shows_the_new_status_in_the_same_run(demo: IntegrationService) -> None:
    at = app(org="globex")
    at.radio(key="setup_provider").set_value("ANTHROPIC").run()
    assert card(at)[0] == "🟡 Pending"
    at.button(key="validate").click().run()
    assert card(at)[0] == "🟢 Valid" and at.status[0].label == "Done"
    assert list(at.dataframe[0].value.action[:1]) == ["Validate"]


def test_delete_shows_not_configured_in_the_same_run(demo: IntegrationService) -> None:
    at = app(org="acmecorp")
    at.button(key="delete").click().run()
    at.button(key="delete_confirm").click().run()
    assert card(at)[0] == "⚪ Not configured" and "deleted" in at.success[0].value
    assert not [b for b in at.button if b.key == "validate"]
    assert at.subheader[1].value == "Set up a credential"


def test_rotation_form_is_prefilled_and_keeps_name_and_metadata(demo: IntegrationService) -> None:
    at = app(org="acmecorp")
    assert at.text_input(key="setup_credential_name").value == "OpenAI Production Key"
    assert '"environment": "production"' in at.text_area(key="setup_metadata").value
    assert '"environment": "production"' in at.code[0].value, "the card shows the current metadata"
    before = demo.get_one("acmecorp", "openai").credential_id
    at.text_input(key="setup_credential").input(openai_key())
    at.button(key="setup_submit").click().run()
    after = demo.get_one("acmecorp", "openai")
    assert after.credential_id != before and "rotated" in at.success[0].value
    assert (after.credential_name, after.metadata) == ("OpenAI Production Key", {"environment": "production"})
    assert card(at)[3] == "OpenAI Production Key"


def test_a_failed_submit_keeps_every_field_but_the_secret(demo: IntegrationService) -> None:
    at = app(org="initech")
    at.text_input(key="setup_credential").input(openai_key("revoked"))
    at.text_input(key="setup_credential_name").input("Keep me")
    at.text_area(key="setup_metadata").input('{"team": "ml"}')
    at.checkbox(key="setup_skip_validation").set_value(False)
    at.button(key="setup_submit").click().run()
    assert "INVALID_CREDENTIAL" in at.error[0].value
    assert at.text_input(key="setup_credential").value == ""
    assert at.text_input(key="setup_credential_name").value == "Keep me"
    assert at.text_area(key="setup_metadata").value == '{"team": "ml"}'
    at.text_area(key="setup_metadata").input("{not json")
    at.text_input(key="setup_credential").input(openai_key())
    at.button(key="setup_submit").click().run()
    assert "INVALID_INPUT" in at.error[0].value and "metadata is not JSON" in at.error[0].value
    assert demo.get_one("initech", "openai").status == Status.NOT_CONFIGURED
    assert at.text_input(key="setup_credential_name").value == "Keep me"


def test_gcp_key_is_uploaded_or_pasted_masked_and_never_shown(demo: IntegrationService) -> None:
    key = service_account_json("sa@p.iam.gserviceaccount.com")
    at = app(org="initech")
    at.radio(key="setup_provider").set_value("GCP").run()
    at.radio(key="setup_gcp_mode").set_value("Service-account key file").run()
    assert at.get("file_uploader") and at.text_input(key="setup_credential").proto.type == 1  # PASSWORD
    submit(at, key, provider="GCP")
    assert "configured" in at.success[0].value
    assert "PRIVATE KEY" not in rendered(at) and "sa@p.iam.gserviceaccount.com" in card(at)[1]


def test_an_error_opens_troubleshooting_on_its_provider(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), "sk-ant-api03-" + "x" * 10 + "revoked" + "x" * 30, provider="ANTHROPIC")
    link = at.get("page_link")[0].proto
    assert "troubleshooting" in link.page and "provider=ANTHROPIC" in link.query_string
    assert "org=initech" in link.query_string


def test_a_check_left_running_is_shown_when_the_operator_comes_back(demo: IntegrationService) -> None:
    from pages import _ui

    svc = _ui.service()  # the console's own service and job runner (same process as AppTest)
    job = _ui.jobs().start("validate", "Checking", lambda j: svc.validate("globex", "anthropic", actor="ops"))
    while job.running:  # the operator is on another page meanwhile
        time.sleep(0.05)
    assert demo.get_one("globex", "anthropic").status == Status.VALID, "recorded without the page"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["org"] = "globex"
    at.session_state["setup_job"] = {"id": job.id, "org": "globex", "provider": "ANTHROPIC", "kind": "validate"}
    at.query_params["provider"] = "ANTHROPIC"
    at.run()
    assert "accepted the key" in at.success[0].value and card(at)[0] == "🟢 Valid"
    assert "setup_job" not in at.session_state


HOSTILE = "![pwn](http://127.0.0.1:9/pwn.png) [click me](http://evil.example/) <img src=x onerror=alert(1)> :red[x]"


def test_tenant_text_is_never_markdown(demo: IntegrationService) -> None:
    demo.setup("initech", "openai", openai_key(), credential_name=HOSTILE, metadata={"note": HOSTILE})
    at = app(org="initech")
    assert card(at)[3] == HOSTILE, "shown literally, as text"
    assert HOSTILE in at.code[0].value
    for element in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info, *at.subheader]:
        assert "](http" not in element.value and "<img" not in element.value, element.value
    status = app("pages/status.py")
    assert HOSTILE in set(status.dataframe[0].value.credential_name)


def test_an_unknown_org_in_the_url_opens_no_org(demo: IntegrationService) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["org"] = "no-such-org"
    at.run()
    assert not at.exception
    assert "No organization no\\-such\\-org exists" in at.error[0].value
    assert at.selectbox(key="org").value is None and not at.text, "no card of another org"
    assert at.query_params["org"] == ["no-such-org"] or at.query_params["org"] == "no-such-org"


def test_the_history_is_a_bounded_read(demo: IntegrationService, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The page reads one integration's history from the last 90 days only (the store scans no more), 20 rows."""
    from integrations.store.sqlite import SqliteStore

    reads: list[object] = []

    def spying(real):  # type: ignore[no-untyped-def]
        def spy(self, org_slug=None, since=None):  # type: ignore[no-untyped-def]
            reads.append(since)
            return real(self, org_slug, since)

        return spy

    for name in ("events", "events_frame"):  # the models, or the frame read straight from the store
        monkeypatch.setattr(SqliteStore, name, spying(getattr(SqliteStore, name)))
    submit(app(org="initech"), CANARY, name="Prod")
    assert reads and None not in reads, "every history read of the page has a time window"
    assert len(demo.history("initech", "openai", limit=1)) == 1


GRANTED = "cyberdyne-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"


def test_gcp_recommends_keyless_and_shows_what_to_run(demo: IntegrationService) -> None:
    demo.register_org("cyberdyne")
    demo.setup_keyless("cyberdyne", GRANTED.replace("-billing.", "-notgranted."))  # waiting on the customer's grant
    at = app(org="cyberdyne")
    at.radio(key="setup_provider").set_value("GCP").run()
    assert at.radio(key="setup_gcp_mode").value == "Without a key file (recommended)"
    assert not at.get("file_uploader")  # no key file asked for
    principal = demo.keyless_info("cyberdyne").principal
    codes = [c.value for c in at.code]
    assert principal in codes and "C00sandbx" in codes
    assert any("bq add-iam-policy-binding" in c and principal in c for c in codes)
    assert any('resource "google_bigquery_dataset_iam_member"' in c for c in codes)
    assert demo.get_one("cyberdyne", "gcp").error.code == "GCP_KEYLESS_NOT_GRANTED"  # the seeded, waiting state
    at.text_input(key="keyless_export_table").set_value(GRANTED)
    at.button(key="keyless_submit").click().run()
    assert not at.exception, at.exception
    assert "status VALID" in at.success[0].value
    one = demo.get_one("cyberdyne", "gcp")
    assert one.status == Status.VALID and one.credential_kind.value == "KEYLESS" and one.error is None


def test_a_pasted_google_error_is_named_and_stays_data(demo: IntegrationService) -> None:
    at = app(org="stark-industries")
    at.radio(key="setup_provider").set_value("GCP").run()
    assert "GCP_DOMAIN_RESTRICTED_SHARING" in rendered(at)  # the seeded domain-restricted org
    hostile = (
        "**bold** [x](http://evil.example/) FAILED_PRECONDITION: Key creation is not allowed on this service account."
    )
    at.text_area(key="keyless_grant_error").set_value(hostile)
    at.text_input(key="keyless_export_table").set_value("stark-restricted.billing_export.t")
    at.button(key="keyless_submit").click().run()
    assert "GCP_KEY_CREATION_DISABLED" in at.warning[-1].value or any(
        "GCP_KEY_CREATION_DISABLED" in w.value for w in at.warning
    )
    assert all("](http" not in m.value for m in at.markdown)  # tenant text is never rendered as a link


def test_a_key_file_integration_opens_on_the_key_file_form(demo: IntegrationService) -> None:
    at = app(org="acmecorp")
    at.radio(key="setup_provider").set_value("GCP").run()
    assert at.radio(key="setup_gcp_mode").value == "Service-account key file" and at.get("file_uploader")


def _advice_text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_an_anthropic_admin_key_missing_a_scope_gets_only_its_own_causes(demo: IntegrationService) -> None:
    """Issue 27: the advice was generic (OpenAI and GCP causes for an Anthropic Admin key; "then re-validate" for
    a key that was never stored)."""
    from tests.keys import admin_key

    at = submit(app(org="initech"), admin_key("anthropic", "noperms"), provider="ANTHROPIC")
    assert "INSUFFICIENT_PERMISSIONS" in at.error[0].value
    text = _advice_text(at)
    assert "Admin key" in text
    assert "OpenAI" not in text and "GCP" not in text and "BigQuery" not in text
    assert "re-validate" not in text, "the key was never stored: nothing to re-validate"


def test_a_network_error_on_setup_offers_storing_it_as_pending(demo: IntegrationService) -> None:
    at = submit(app(org="initech"), openai_key("unreachable"))
    assert "NETWORK_ERROR" in at.error[0].value
    assert "store it as PENDING" in _advice_text(at) and "skip_validation" in _advice_text(at)


def test_a_failed_rotation_says_the_current_key_is_unchanged(demo: IntegrationService) -> None:
    before = demo.get_one("acmecorp", "openai")
    at = submit(app(org="acmecorp"), openai_key("revoked"))
    assert "INVALID_CREDENTIAL" in at.error[0].value
    assert "the current key is unchanged" in _advice_text(at)
    assert demo.get_one("acmecorp", "openai").credential_id == before.credential_id


def test_an_inconclusive_revalidation_links_to_troubleshooting(demo: IntegrationService) -> None:
    demo.setup("initech", "openai", openai_key("unreachable"), skip_validation=True)
    at = app(org="initech")
    at.button(key="validate").click().run()
    text = rendered(at)
    assert "inconclusive" in text.lower() or "NETWORK_ERROR" in text
    assert "Open troubleshooting" in text and "troubleshooting" in text


def test_the_card_shows_data_status_data_through_last_success_and_expiry(demo: IntegrationService) -> None:
    """Issue 26: beside a VALID credential, the card says whether cost data arrives, since when, and when the key
    expires ("never expires" and "unknown" explicitly); late data is a warning with its catalog code."""
    from tests.keys import admin_key

    demo.setup("initech", "anthropic", admin_key("anthropic", "age30h"))  # listed nowhere: expiry unknown
    at = app(org="initech")
    at.radio(key="setup_provider").set_value("ANTHROPIC").run()
    values = card(at)
    assert values[0] == "🟢 Valid" and "🟠 Stale" in values
    assert values[values.index("🟠 Stale") + 1].count("-") == 2  # the newest day with data, YYYY-MM-DD
    assert values[values.index("🟠 Stale") + 2].endswith(" UTC")  # the source's last successful read
    assert "unknown" in values and any("Expiry unknown" in c.value for c in at.caption)
    assert any("DATA_STALE" in w.value and "credential is valid" in w.value for w in at.warning)
    demo.setup("initech", "openai", admin_key("openai", "exp6d"))
    at.radio(key="setup_provider").set_value("OPENAI").run()
    values = card(at)
    assert "🟢 Fresh" in values and any(v.startswith("expires 20") for v in values)
    assert not any("DATA_STALE" in w.value for w in at.warning)
    demo.setup("initech", "openai", openai_key())  # an inference key: no cost data, no expiry asked
    at.run()
    assert "🟢 Fresh" not in card(at) and "not asked" not in card(at)


def test_the_history_shows_empty_cells_and_readable_headers(demo: IntegrationService) -> None:
    demo.validate("acmecorp", "openai")  # a VALID check: no error code, an empty cell
    at = app("pages/setup.py", org="acmecorp")
    [history] = [d for d in at.dataframe if "message" in d.value.columns]
    assert not history.value.select_dtypes("object").isna().any().any(), "an empty cell is empty, not None"
    headers = history.proto.columns  # the column configuration, as JSON: each field's header
    assert all(f'"{label}"' in headers for label in ("Time (UTC)", "Before", "After", "Code", "Actor"))


def _drawn(at: AppTest) -> str:
    """What the page draws (not the session state, which stays on the server)."""
    parts: list[str] = []

    def walk(node: object) -> None:
        parts.append(str(getattr(node, "proto", "")))
        children = getattr(node, "children", None) or {}
        for child in children.values() if isinstance(children, dict) else children:
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def test_a_network_error_on_a_new_key_stores_it_as_pending_in_one_click(demo: IntegrationService) -> None:
    """Issue 27: the provider out of reach on a NEW key: one click stores it as PENDING, with no second paste; the
    key is never drawn and leaves the session once used."""
    key = openai_key("unreachable")
    at = submit(app(org="initech"), key, name="Kept name")
    assert "NETWORK_ERROR" in at.error[0].value
    assert key not in _drawn(at) and key[8:] not in _drawn(at)
    at.button(key="setup_store_pending").click().run()
    assert not at.exception, at.exception
    one = demo.get_one("initech", "openai")
    assert one.status == Status.PENDING and one.credential_name == "Kept name"
    assert "PENDING" in at.warning[0].value  # "Validation skipped: stored as PENDING until re-validated"
    assert key not in rendered(at) and key[8:] not in rendered(at)  # gone from the session too


def test_the_kept_key_is_dropped_when_not_taken(demo: IntegrationService) -> None:
    key = openai_key("unreachable")
    at = submit(app(org="initech"), key)
    assert at.button(key="setup_store_pending")
    at.radio(key="setup_provider").set_value("ANTHROPIC").run()  # the operator moves on
    assert key not in rendered(at) and key[8:] not in rendered(at)
    assert demo.get_one("initech", "openai").status == Status.NOT_CONFIGURED


def test_a_rejected_key_is_not_kept(demo: IntegrationService) -> None:
    key = openai_key("revoked")
    at = submit(app(org="initech"), key)
    assert "INVALID_CREDENTIAL" in at.error[0].value
    assert not [b for b in at.button if b.key == "setup_store_pending"]
    assert key not in rendered(at) and key[8:] not in rendered(at)


def test_the_kept_key_is_dropped_when_another_page_opens(demo: IntegrationService) -> None:
    key = openai_key("unreachable")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["org"] = "initech"
    at.run()
    at = submit(at, key)
    assert at.button(key="setup_store_pending") and key in rendered(at)  # kept on the server for one click
    at.switch_page("pages/status.py").run()
    assert not at.exception, at.exception
    assert key not in rendered(at) and key[8:] not in rendered(at)
