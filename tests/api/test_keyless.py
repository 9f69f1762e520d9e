"""Keyless GCP through the REST API: the same setup endpoint with a `keyless` body, on the sandbox and on live
validation against the HTTP double of Google, where the runtime's ADC is a key file found by google.auth.default()
through GOOGLE_APPLICATION_CREDENTIALS (the gcp profile's path)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from integrations.api import create_app
from integrations.providers.gcp_keyless import principal_id

from tests.conftest import fake_service
from tests.doubles.google_keyless import PLATFORM, RUNTIME, GoogleDouble, Table
from tests.doubles.providers import public_pem
from tests.keys import service_account_json
from tests.servers import serve

BASE = "/api/v1/integrations"
TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
SANDBOX_OK = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
SANDBOX_WAITING = "acme-notgranted.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"


def test_keyless_setup_on_the_sandbox_pending_then_valid() -> None:
    svc = fake_service()
    key = {"X-API-Key": svc.register_org("acmecorp")}
    client = TestClient(create_app(svc))
    info = client.get(f"{BASE}/acmecorp/gcp/keyless", headers=key).json()
    assert info["principal"] == f"{principal_id('acmecorp')}@integrations-platform.iam.gserviceaccount.com"
    assert info["customer_id"] and "roles/bigquery.dataViewer" in info["terraform"]
    r = client.post(f"{BASE}/acmecorp/gcp/setup", headers=key, json={"keyless": {"export_table": SANDBOX_WAITING}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["validation_status"], body["credential_kind"]) == ("PENDING", "KEYLESS")
    assert body["error"]["code"] == "GCP_KEYLESS_NOT_GRANTED" and info["principal"] in body["error"]["message"]
    assert (
        body["keyless"]["principal"] == info["principal"]
        and "acme-notgranted:billing_export" in body["keyless"]["commands"]
    )
    r = client.post(f"{BASE}/acmecorp/gcp/setup", headers=key, json={"keyless": {"export_table": SANDBOX_OK}})
    assert r.json()["validation_status"] == "VALID" and "error" not in r.json()
    one = client.get(f"{BASE}/acmecorp/gcp", headers=key).json()
    assert (one["status"], one["credential_kind"]) == ("VALID", "KEYLESS")
    record = svc.deps.store.get_active("acmecorp", "GCP")
    assert record.metadata == {"billing_export_table": SANDBOX_OK}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"keyless": {"export_table": SANDBOX_OK}, "credential": "sk-proj-x"}, 422, "INVALID_INPUT"),
        ({}, 422, "INVALID_INPUT"),
        ({"keyless": {"export_table": "no-dots"}}, 422, "INVALID_INPUT"),
        ({"keyless": {"export_table": SANDBOX_OK, "customer_service_account": "x@gmail.com"}}, 422, "INVALID_INPUT"),
        ({"keyless": {"export_table": SANDBOX_OK, "principal": "someone-else"}}, 422, "INVALID_INPUT"),
        (  # a descriptor naming another org's principal is never accepted from a caller
            {
                "credential": json.dumps(
                    {
                        "type": "keyless_gcp",
                        "org_slug": "globex",
                        "export_table": SANDBOX_OK,
                        "configured_at": "2026-12-06T00:00:00+00:00",
                    }
                )
            },
            422,
            "MALFORMED_CREDENTIAL",
        ),
    ],
)
def test_keyless_bodies_refused_with_a_catalog_code(body: dict, status: int, code: str) -> None:
    svc = fake_service()
    key = {"X-API-Key": svc.register_org("acmecorp")}
    r = TestClient(create_app(svc)).post(f"{BASE}/acmecorp/gcp/setup", headers=key, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and "Traceback" not in r.text
    assert svc.deps.store.get_active("acmecorp", "GCP") is None


def test_keyless_is_gcp_only() -> None:
    svc = fake_service()
    key = {"X-API-Key": svc.register_org("acmecorp")}
    r = TestClient(create_app(svc)).post(
        f"{BASE}/acmecorp/openai/setup", headers=key, json={"keyless": {"export_table": SANDBOX_OK}}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_INPUT"


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[GoogleDouble, TestClient, dict, object]]:
    """Live validation against the double; the runtime's ADC is its key file (GOOGLE_APPLICATION_CREDENTIALS)."""
    double = GoogleDouble()
    principal = f"{principal_id('acmecorp')}@{PLATFORM}.iam.gserviceaccount.com"
    double.job_users[PLATFORM] = {principal}
    double.tables[TABLE] = Table(location="US")
    runtime_key = service_account_json(RUNTIME, PLATFORM)
    double.runtime_certs = {json.loads(runtime_key)["private_key_id"]: public_pem(runtime_key)}
    with serve(double.route) as (url, _):
        adc = tmp_path / "adc.json"
        adc.write_text(json.dumps({**json.loads(runtime_key), "token_uri": f"{url}/token"}))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        svc = fake_service(
            validation="live",
            allow_http_endpoints=True,
            google_token_uri=f"{url}/token",
            bigquery_api_url=f"{url}/bigquery/v2",
            iamcredentials_api_url=f"{url}/iamcredentials/v1",
            iam_api_url=f"{url}/iam/v1",
            gcp_principals_project=PLATFORM,
            gcp_customer_id="C0test123",
            gcp_create_principals=True,
        )
        key = {"X-API-Key": svc.register_org("acmecorp")}
        yield double, TestClient(create_app(svc)), key, svc


def test_live_keyless_against_the_double_pending_valid_revoked_and_our_alarm(live) -> None:
    double, client, key, svc = live
    principal = f"{principal_id('acmecorp')}@{PLATFORM}.iam.gserviceaccount.com"
    r = client.post(f"{BASE}/acmecorp/gcp/setup", headers=key, json={"keyless": {"export_table": TABLE}})
    body = r.json()
    assert r.status_code == 200 and body["validation_status"] == "PENDING", r.text
    assert body["error"]["code"] == "GCP_KEYLESS_NOT_GRANTED" and "C0test123" in body["error"]["message"]
    assert principal in double.accounts  # created on demand through the IAM API
    assert [c.api for c in double.calls] == [
        "token",
        "serviceAccounts.create",
        "generateAccessToken",
        "tables.get",
    ]  # the runtime's ADC came from its key file, verified by the double
    double.grant_reader(principal, TABLE.rsplit(".", 1)[0], ago=timedelta(minutes=5))
    ok = client.post(f"{BASE}/acmecorp/gcp/validate", headers=key).json()
    assert ok["validation_status"] == "VALID" and ok["success"] is True, ok
    double.revoke_reader(principal, TABLE.rsplit(".", 1)[0])
    # set up seconds ago: a denial now may be propagation, so VALID is kept (tests/providers: INVALID after 10 min)
    kept = client.post(f"{BASE}/acmecorp/gcp/validate", headers=key).json()
    assert kept["validation_status"] == "VALID" and kept["error"]["code"] == "GCP_KEYLESS_NOT_GRANTED"
    double.disabled.add((PLATFORM, "iamcredentials.googleapis.com"))
    alarm = client.post(f"{BASE}/acmecorp/gcp/validate", headers=key).json()
    assert alarm["validation_status"] == "VALID" and alarm["error"]["code"] == "GCP_PLATFORM_ACCESS_FAILED"
    assert svc.get_one("acmecorp", "gcp").status.value == "VALID"  # never a tenant flip


@pytest.mark.parametrize("spelled", ["GCP", "Gcp", "gCp"])
def test_the_keyless_route_takes_the_provider_in_any_case(spelled: str) -> None:
    """Issue 27 (review 8): the README promises provider names in any case; GCP/keyless answered 404."""
    svc = fake_service()
    key = {"X-API-Key": svc.register_org("acmecorp")}
    client = TestClient(create_app(svc))
    r = client.get(f"{BASE}/acmecorp/{spelled}/keyless", headers=key)
    assert r.status_code == 200, r.text
    assert r.json() == client.get(f"{BASE}/acmecorp/gcp/keyless", headers=key).json()
    assert client.get(f"{BASE}/acmecorp/{spelled}/keyless").status_code == 401  # still authenticated


def test_keyless_for_another_provider_says_it_is_gcp_only() -> None:
    svc = fake_service()
    key = {"X-API-Key": svc.register_org("acmecorp")}
    client = TestClient(create_app(svc))
    r = client.get(f"{BASE}/acmecorp/OpenAI/keyless", headers=key)
    assert r.status_code == 404 and r.json()["error"]["code"] == "ENDPOINT_NOT_FOUND"
    assert "GCP only" in r.json()["error"]["message"] and "/gcp/keyless" in r.json()["error"]["message"]
    r = client.get(f"{BASE}/acmecorp/azure/keyless", headers=key)
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNSUPPORTED_PROVIDER"
    paths = client.get("/openapi.json").json()["paths"]
    assert f"{BASE}/{{org_slug}}/gcp/keyless" in paths and f"{BASE}/{{org_slug}}/{{provider}}/keyless" not in paths
