"""The frontend's contract (issue 14) at the REST level: providers_configured, all_valid, warnings, the
provider's Retry-After, the five-field GCP key file, key kinds and capabilities, the GCP permission checklist."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationService
from integrations.api import create_app

from tests.conftest import fake_service
from tests.fakes import swap
from tests.faults import Faulty
from tests.keys import ANTHROPIC_ADMIN, ANTHROPIC_OK, OPENAI_ADMIN, OPENAI_OK, admin_key, openai_key
from tests.keys import service_account_json as sa_json

BASE = "/api/v1/integrations/acmecorp"
TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"


@pytest.fixture
def env() -> tuple[TestClient, IntegrationService, dict[str, str]]:
    svc = fake_service(attempts_per_minute=1000)
    key = svc.register_org("acmecorp", "Acme Corp")
    return TestClient(create_app(svc)), svc, {"X-API-Key": key}


def five_fields(email: str = "exporter@acme-prod.iam.gserviceaccount.com") -> dict[str, str]:
    """The integration document's key file: type, project_id, private_key_id, private_key, client_email."""
    full = json.loads(sa_json(email, "acme-prod"))
    return {k: full[k] for k in ("type", "project_id", "private_key_id", "private_key", "client_email")}


def setup(client: TestClient, h: dict, provider: str, credential: str, **body: object):
    return client.post(f"{BASE}/{provider}/setup", headers=h, json={"credential": credential, **body})


def test_providers_configured_is_a_list_in_document_order_and_all_valid_needs_every_provider(env) -> None:
    client, _, h = env
    empty = client.get(BASE, headers=h).json()
    assert (empty["providers_configured"], empty["all_valid"]) == ([], False)
    setup(client, h, "openai", OPENAI_OK)
    doc = client.get(BASE, headers=h).json()  # the document's example: OpenAI VALID, Anthropic NOT_CONFIGURED
    assert (doc["providers_configured"], doc["all_valid"]) == (["OPENAI"], False)
    setup(client, h, "gcp", json.dumps(five_fields()))
    setup(client, h, "anthropic", ANTHROPIC_OK)
    full = client.get(BASE, headers=h).json()
    assert (full["providers_configured"], full["all_valid"]) == (["OPENAI", "ANTHROPIC", "GCP"], True)
    setup(client, h, "anthropic", ANTHROPIC_OK, skip_validation=True)  # PENDING
    assert client.get(BASE, headers=h).json()["all_valid"] is False


def test_the_five_field_key_file_is_accepted(env) -> None:
    client, svc, h = env
    r = setup(client, h, "gcp", json.dumps(five_fields()))
    assert r.status_code == 200 and r.json()["validation_status"] == "VALID", r.text
    assert r.json()["credential_kind"] == "SERVICE_ACCOUNT"
    assert svc.validate("acmecorp", "gcp").success  # the stored five-field file validates again


@pytest.mark.parametrize("token_uri", ["https://evil.example/token", "http://oauth2.googleapis.com/token", ""])
def test_a_present_token_uri_must_still_be_googles(env, token_uri: str) -> None:
    client, svc, h = env
    r = setup(client, h, "gcp", json.dumps(five_fields() | {"token_uri": token_uri}))
    assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_CREDENTIAL"
    assert "token_uri" in r.json()["error"]["message"]
    assert svc.store.list_credentials(active_only=False) == []


def test_warnings_tell_the_frontend_when_the_status_cache_was_not_updated(env) -> None:
    client, svc, h = env
    assert setup(client, h, "openai", OPENAI_OK).json()["warnings"] == []
    swap(svc, cache=Faulty(svc.cache, "STATUS_SYNC_FAILED", {"set_many", "set_checked"}))
    for response in (
        setup(client, h, "openai", openai_key()),
        client.post(f"{BASE}/openai/validate", headers=h),
        client.delete(f"{BASE}/openai", headers=h),
    ):
        assert response.status_code == 200 and response.json()["success"] is True
        [warning] = response.json()["warnings"]
        assert warning.startswith("STATUS_SYNC_FAILED") and "integrations reconcile" in warning


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_providers_429_gives_its_own_retry_after(env, provider: str) -> None:
    client, svc, h = env
    key = openai_key("ratelimited") if provider == "openai" else "sk-ant-api03-ratelimited" + "x" * 30
    r = setup(client, h, provider, key)
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
    assert r.headers["retry-after"] == "2"  # what the sandboxed provider said, not a default
    setup(client, h, provider, key, skip_validation=True)
    v = client.post(f"{BASE}/{provider}/validate", headers=h)
    assert v.status_code == 200 and v.json()["error"]["code"] == "RATE_LIMITED"
    assert v.headers["retry-after"] == "2"


def test_no_retry_after_on_a_validate_that_was_not_rate_limited(env) -> None:
    client, _, h = env
    setup(client, h, "openai", OPENAI_OK)
    assert "retry-after" not in client.post(f"{BASE}/openai/validate", headers=h).headers


@pytest.mark.parametrize(
    ("provider", "key", "kind"),
    [
        ("openai", OPENAI_OK, "PROJECT"),
        ("openai", "sk-svcacct-Abc123def456ghi789jkl012mno345", "SERVICE_ACCOUNT"),
        ("openai", "sk-Abc123def456ghi789jkl012mno345pqr", "USER"),
        ("openai", OPENAI_ADMIN, "ADMIN"),
        ("anthropic", ANTHROPIC_OK, "API"),
        ("anthropic", ANTHROPIC_ADMIN, "ADMIN"),
    ],
)
def test_the_kind_is_read_from_the_format_and_shown_in_get_one_and_get_all(
    env, provider: str, key: str, kind: str
) -> None:
    client, _, h = env
    r = setup(client, h, provider, key)
    assert r.status_code == 200 and r.json()["credential_kind"] == kind, r.text
    assert client.get(f"{BASE}/{provider}", headers=h).json()["credential_kind"] == kind
    assert client.get(BASE, headers=h).json()["integrations"][provider.upper()]["credential_kind"] == kind


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_admin_key_is_valid_and_reads_cost_data(env, provider: str) -> None:
    client, _, h = env
    body = setup(client, h, provider, OPENAI_ADMIN if provider == "openai" else ANTHROPIC_ADMIN).json()
    assert (body["validation_status"], body["credential_kind"]) == ("VALID", "ADMIN")
    caps = {c["name"]: c["status"] for c in body["capabilities"]}
    assert caps == {"inference": "not available", "cost data": "passed"}
    again = client.post(f"{BASE}/{provider}/validate", headers=h).json()
    assert again["success"] and {c["name"]: c["status"] for c in again["capabilities"]} == caps


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_valid_inference_key_says_cost_tracking_needs_an_admin_key(env, provider: str) -> None:
    client, _, h = env
    body = setup(client, h, provider, OPENAI_OK if provider == "openai" else ANTHROPIC_OK).json()
    assert body["success"] is True and body["validation_status"] == "VALID"  # information, not a failure
    inference, cost = body["capabilities"]
    assert (inference["name"], inference["status"]) == ("inference", "passed")
    assert (cost["name"], cost["status"]) == ("cost data", "not available")
    assert "Admin key" in cost["detail"] and "creates one" in cost["detail"]


@pytest.mark.parametrize(("provider", "status"), [("openai", 403), ("anthropic", 403)])
def test_an_admin_key_without_usage_read_is_named(env, provider: str, status: int) -> None:
    client, svc, h = env
    r = setup(client, h, provider, admin_key(provider, "noperms"))
    assert r.status_code == status and r.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    assert "cost report" in r.json()["error"]["message"]
    assert svc.store.list_credentials(active_only=False) == []


@pytest.mark.parametrize(
    ("marker", "metadata", "status", "code"),
    [
        ("exporter", {}, 200, None),  # all granted
        ("exporter", {"billing_export_table": TABLE}, 200, None),  # all granted, costs readable
        ("noperms", {}, 403, "INSUFFICIENT_PERMISSIONS"),  # one missing: bigquery.jobs.create
        ("crmdisabled", {}, 200, None),  # Resource Manager disabled: today's probes
        ("notable", {"billing_export_table": TABLE}, 422, "BILLING_EXPORT_NOT_FOUND"),  # table missing
    ],
)
def test_gcp_outcomes_over_rest(env, marker: str, metadata: dict, status: int, code: str | None) -> None:
    client, _, h = env
    credential = sa_json(f"{marker}@acme-prod.iam.gserviceaccount.com", "acme-prod")
    r = setup(client, h, "gcp", credential, metadata=metadata)
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code
        return
    [cost] = r.json()["capabilities"]
    assert cost["name"] == "cost data" and cost["status"] == ("passed" if metadata else "not available")


def test_a_malformed_billing_table_name_is_refused_before_anything_is_stored(env) -> None:
    client, svc, h = env
    r = setup(client, h, "gcp", json.dumps(five_fields()), metadata={"billing_export_table": "no-dots"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_INPUT"
    assert "project.dataset.table" in r.json()["error"]["message"]
    r = setup(
        client,
        h,
        "gcp",
        json.dumps(five_fields()),
        metadata={"billing_export_table": "a.b.c`; DROP"},
        skip_validation=True,
    )
    assert r.status_code == 422 and svc.store.list_credentials(active_only=False) == []


def test_a_gcp_429_without_retry_after_sends_none_on_setup_and_on_validate(env) -> None:
    """Issue 27: Google's 429 (sandboxed: none given) used to get an invented `Retry-After: 60` on setup."""
    client, _, h = env
    key = sa_json("ratelimited@acme-prod.iam.gserviceaccount.com", "acme-prod")
    r = setup(client, h, "gcp", key)
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
    assert "retry-after" not in r.headers
    setup(client, h, "gcp", key, skip_validation=True)
    v = client.post(f"{BASE}/gcp/validate", headers=h)
    assert v.json()["error"]["code"] == "RATE_LIMITED" and "retry-after" not in v.headers


def test_the_seeds_success_messages(env) -> None:
    client, _, h = env
    assert setup(client, h, "openai", OPENAI_OK).json()["message"].startswith("Integration configured successfully")
    v = client.post(f"{BASE}/openai/validate", headers=h).json()
    assert v["message"].startswith("Integration validated successfully")
    d = client.delete(f"{BASE}/openai", headers=h).json()
    assert d["message"].startswith("Integration deleted successfully")


def test_a_trailing_slash_is_served_not_redirected(env) -> None:
    client, _, h = env
    r = client.get(f"{BASE}/", headers=h, follow_redirects=False)
    assert r.status_code == 200 and r.json()["org_slug"] == "acmecorp"


def test_the_schema_declares_retry_after_where_it_is_sent(env) -> None:
    """Issue 27 (review 10): every 429 sends Retry-After (the attempt limit's or the provider's), and validate's and
    test's 200 after a provider's 429; the schema said so nowhere, so a generated client could not read it."""
    client, _, _ = env
    paths = client.get("/openapi.json").json()["paths"]
    checks = [(f"/api/v1/integrations/{{org_slug}}/{{provider}}/{op}", op) for op in ("setup", "validate", "test")]
    for path, op in checks:
        responses = paths[path]["post"]["responses"]
        header = responses["429"]["headers"]["Retry-After"]
        assert header["schema"] == {"type": "string"} and header["description"]
        ok = responses["200"].get("headers", {})
        assert ("Retry-After" in ok) == (op in ("validate", "test")), op
        if op != "setup":
            assert "RATE_LIMITED" in ok["Retry-After"]["description"]
    for path, item in paths.items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                sent = status == "429" or (status == "200" and path.endswith(("/validate", "/test")))
                assert ("Retry-After" in response.get("headers", {})) == sent, (method, path, status)
