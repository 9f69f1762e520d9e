"""Issue 27: POST .../{provider}/test checks a credential without saving it; the answer never holds the key."""

from __future__ import annotations

from fastapi.testclient import TestClient
from integrations import IntegrationService
from integrations.api import create_app

from tests.conftest import ORG
from tests.keys import CANARY, openai_key

BASE = "/api/v1/integrations"


def test_the_test_endpoint_checks_without_storing(svc: IntegrationService) -> None:
    key = svc.rotate_org_key(ORG)
    client = TestClient(create_app(svc))
    h = {"X-API-Key": key}
    ok = client.post(f"{BASE}/{ORG}/openai/test", headers=h, json={"credential": CANARY})
    assert ok.status_code == 200 and ok.json()["outcome"] == "VALID" and ok.json()["success"] is True
    assert CANARY not in ok.text and CANARY[8:] not in ok.text
    refused = client.post(f"{BASE}/{ORG}/openai/test", headers=h, json={"credential": openai_key("revoked")})
    body = refused.json()
    assert refused.status_code == 200 and body["outcome"] == "INVALID" and body["error"]["code"] == "INVALID_CREDENTIAL"
    malformed = client.post(f"{BASE}/{ORG}/openai/test", headers=h, json={"credential": "nope"})
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "MALFORMED_CREDENTIAL"
    assert client.post(f"{BASE}/{ORG}/openai/test", json={"credential": CANARY}).status_code == 401
    assert client.get(f"{BASE}/{ORG}", headers=h).json()["providers_configured"] == []  # nothing stored
    assert "/api/v1/integrations/{org_slug}/{provider}/test" in create_app(svc).openapi()["paths"]
