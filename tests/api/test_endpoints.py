"""Every endpoint and error through FastAPI's TestClient; JSON compared field by field with DESIGN.md."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationService
from integrations.api import create_app

from tests.conftest import fake_service
from tests.keys import CANARY, OPENAI_OK, openai_key, service_account_json

BASE = "/api/v1/integrations"
ERROR_KEYS = {"code", "message", "retryable", "hint"}


@pytest.fixture
def env() -> tuple[TestClient, IntegrationService, dict[str, str]]:
    svc = fake_service(attempts_per_minute=1000)
    keys = {"acmecorp": svc.register_org("acmecorp", "Acme Corp"), "globex": svc.register_org("globex")}
    return TestClient(create_app(svc)), svc, keys


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and set(body["error"]) == ERROR_KEYS and body["error"]["code"] == code
    return body["error"]


def test_setup_openai(env) -> None:
    client, svc, keys = env
    r = client.post(
        f"{BASE}/acmecorp/openai/setup",
        headers=auth(keys["acmecorp"]),
        json={
            "credential": OPENAI_OK,
            "credential_name": "OpenAI Production Key",
            "metadata": {"environment": "production"},
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "success",
        "provider",
        "credential_id",
        "validation_status",
        "message",
        "credential_kind",
        "capabilities",
        "warnings",
        "warning_details",
    }
    assert (body["success"], body["provider"], body["validation_status"]) == (True, "OPENAI", "VALID")
    assert (body["credential_kind"], body["warnings"]) == ("PROJECT", [])
    assert body["credential_id"].startswith("cred_")
    assert svc.store.events("acmecorp")[0].actor.startswith("api:key_")


def test_setup_gcp_service_account(env) -> None:
    client, _, keys = env
    r = client.post(
        f"{BASE}/acmecorp/GCP/setup",
        headers=auth(keys["acmecorp"]),
        json={"credential": service_account_json("sa@p.iam.gserviceaccount.com")},
    )
    assert r.json()["validation_status"] == "VALID" and r.json()["provider"] == "GCP"


def test_get_all_and_get_one_shapes(env) -> None:
    client, _, keys = env
    client.post(
        f"{BASE}/acmecorp/openai/setup",
        headers=auth(keys["acmecorp"]),
        json={"credential": OPENAI_OK, "credential_name": "Prod"},
    )
    body = client.get(f"{BASE}/acmecorp", headers=auth(keys["acmecorp"])).json()
    assert set(body) == {"org_slug", "integrations", "all_valid", "providers_configured", "warnings", "warning_details"}
    assert body["warnings"] == []
    assert (body["org_slug"], body["all_valid"], body["providers_configured"]) == ("acmecorp", False, ["OPENAI"])
    openai = body["integrations"]["OPENAI"]
    assert set(openai) == {
        "provider",
        "status",
        "credential_name",
        "credential_hint",
        "data_status",
        "data_through",
        "last_success_at",
        "expiry",
        "expires_at",
        "last_used_at",
        "credential_kind",
        "last_validated_at",
        "created_at",
        "credential_id",
        "metadata",
    }
    assert (openai["status"], openai["credential_name"], openai["credential_hint"]) == (
        "VALID",
        "Prod",
        "sk-proj-...Yz99",
    )
    assert body["integrations"]["ANTHROPIC"] == {"provider": "ANTHROPIC", "status": "NOT_CONFIGURED"}
    assert client.get(f"{BASE}/acmecorp/OpenAI", headers=auth(keys["acmecorp"])).json() == openai
    assert client.get(f"{BASE}/acmecorp/gcp", headers=auth(keys["acmecorp"])).json() == {
        "provider": "GCP",
        "status": "NOT_CONFIGURED",
    }


def test_validate_valid_rejected_and_inconclusive(env) -> None:
    client, svc, keys = env
    h = auth(keys["acmecorp"])
    client.post(f"{BASE}/acmecorp/openai/setup", headers=h, json={"credential": OPENAI_OK})
    ok = client.post(f"{BASE}/acmecorp/openai/validate", headers=h)
    assert ok.status_code == 200
    assert set(ok.json()) == {
        "success",
        "provider",
        "validation_status",
        "message",
        "capabilities",
        "warnings",
        "warning_details",
    }
    client.post(
        f"{BASE}/acmecorp/anthropic/setup",
        headers=h,
        json={"credential": "sk-ant-api03-revoked" + "x" * 30, "skip_validation": True},
    )
    rejected = client.post(f"{BASE}/acmecorp/anthropic/validate", headers=h)
    assert rejected.status_code == 200
    body = rejected.json()
    assert (body["success"], body["validation_status"], body["error"]["code"], body["error"]["retryable"]) == (
        False,
        "INVALID",
        "INVALID_CREDENTIAL",
        False,
    )
    client.post(
        f"{BASE}/acmecorp/openai/setup",
        headers=h,
        json={"credential": openai_key("unreachable"), "skip_validation": True},
    )
    inconclusive = client.post(f"{BASE}/acmecorp/openai/validate", headers=h).json()
    assert (
        inconclusive["success"],
        inconclusive["validation_status"],
        inconclusive["error"]["code"],
        inconclusive["error"]["retryable"],
    ) == (False, "PENDING", "NETWORK_ERROR", True)


def test_delete(env) -> None:
    client, _, keys = env
    h = auth(keys["acmecorp"])
    client.post(f"{BASE}/acmecorp/openai/setup", headers=h, json={"credential": OPENAI_OK})
    r = client.delete(f"{BASE}/acmecorp/OPENAI", headers=h)
    assert r.status_code == 200 and r.json() == {
        "success": True,
        "message": r.json()["message"],
        "warnings": [],
        "warning_details": [],
    }
    assert_error(client.delete(f"{BASE}/acmecorp/openai", headers=h), 404, "NOT_CONFIGURED")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "ORG_API_KEY_MISSING"),
        ({"X-API-Key": ""}, 401, "ORG_API_KEY_MISSING"),
        ({"X-API-Key": "acmecorp_api_not-a-real-key"}, 401, "ORG_API_KEY_INVALID"),
        ("globex", 403, "ORG_API_KEY_FORBIDDEN"),
        ("revoked", 401, "ORG_API_KEY_INVALID"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/acmecorp"),
        ("get", "/acmecorp/openai"),
        ("post", "/acmecorp/openai/validate"),
        ("delete", "/acmecorp/openai"),
        ("post", "/acmecorp/openai/setup"),
    ],
)
def test_auth_matrix(env, headers, status: int, code: str, method: str, path: str) -> None:
    client, svc, keys = env
    if headers == "globex":
        headers = auth(keys["globex"])
    elif headers == "revoked":
        svc.revoke_org_keys("acmecorp")
        headers = auth(keys["acmecorp"])
    kwargs = {"json": {"credential": OPENAI_OK}} if path.endswith("setup") else {}
    assert_error(client.request(method, f"{BASE}{path}", headers=headers, **kwargs), status, code)
    assert svc.store.list_credentials(active_only=False) == []


def test_right_key_after_rotation(env) -> None:
    client, svc, keys = env
    new = svc.rotate_org_key("acmecorp")
    assert_error(client.get(f"{BASE}/acmecorp", headers=auth(keys["acmecorp"])), 401, "ORG_API_KEY_INVALID")
    assert client.get(f"{BASE}/acmecorp", headers=auth(new)).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/acmecorp/azure/setup", {"credential": OPENAI_OK}, 422, "UNSUPPORTED_PROVIDER"),
        ("/acmecorp/openai/setup", {"credential": "sk-nope"}, 422, "MALFORMED_CREDENTIAL"),
        ("/acmecorp/openai/setup", {"credential": openai_key("revoked")}, 400, "INVALID_CREDENTIAL"),
        ("/acmecorp/openai/setup", {"credential": openai_key("noperms")}, 403, "INSUFFICIENT_PERMISSIONS"),
        ("/acmecorp/openai/setup", {"credential": openai_key("ratelimited")}, 429, "RATE_LIMITED"),
        ("/acmecorp/openai/setup", {"credential": openai_key("unreachable")}, 503, "NETWORK_ERROR"),
        ("/acmecorp/openai/setup", {"credential": openai_key("outage")}, 503, "PROVIDER_UNAVAILABLE"),
        ("/acmecorp/openai/setup", {}, 422, "INVALID_INPUT"),
        ("/acmecorp/openai/setup", {"credential": 42}, 422, "INVALID_INPUT"),
        ("/acmecorp/openai/setup", {"credential": OPENAI_OK, "metadata": {"a": {"b": 1}}}, 422, "INVALID_INPUT"),
        ("/acmecorp/openai/setup", {"credential": "sk-proj-" + "a" * 17000}, 422, "MALFORMED_CREDENTIAL"),
    ],
)
def test_setup_errors(env, path: str, body: dict, status: int, code: str) -> None:
    client, svc, keys = env
    error = assert_error(client.post(f"{BASE}{path}", headers=auth(keys["acmecorp"]), json=body), status, code)
    assert error["retryable"] == (status in (429, 503))
    assert svc.store.list_credentials(active_only=False) == []


def test_validation_error_never_echoes_the_input(env) -> None:
    client, _, keys = env
    r = client.post(
        f"{BASE}/acmecorp/openai/setup",
        headers=auth(keys["acmecorp"]),
        json={"credential": [CANARY], "metadata": CANARY},
    )
    assert r.status_code == 422 and CANARY not in r.text


def test_bad_slug_in_path(env) -> None:
    client, _, keys = env
    assert_error(client.get(f"{BASE}/ACME", headers=auth(keys["acmecorp"])), 422, "INVALID_ORG_SLUG")


def test_body_limits(env) -> None:
    client, svc, keys = env
    big = {"credential": "x" * (70 * 1024)}
    assert_error(
        client.post(f"{BASE}/acmecorp/openai/setup", headers=auth(keys["acmecorp"]), json=big), 413, "PAYLOAD_TOO_LARGE"
    )

    def chunks():  # no content-length: the stream itself is counted
        for _ in range(80):
            yield b"x" * 1024

    r = client.post(f"{BASE}/acmecorp/openai/setup", headers=auth(keys["acmecorp"]), content=chunks())
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_attempts_are_rate_limited_with_retry_after() -> None:
    svc = fake_service(attempts_per_minute=2)
    key = svc.register_org("acmecorp")
    client = TestClient(create_app(svc))
    for _ in range(2):
        client.post(f"{BASE}/acmecorp/openai/setup", headers=auth(key), json={"credential": openai_key()})
    r = client.post(f"{BASE}/acmecorp/openai/setup", headers=auth(key), json={"credential": openai_key()})
    assert_error(r, 429, "TOO_MANY_ATTEMPTS")
    assert 1 <= int(r.headers["retry-after"]) <= 61


def test_unknown_route(env) -> None:
    client, _, _ = env
    assert_error(client.get("/api/v1/nothing"), 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/acmecorp/openai", {"GET", "DELETE"}),  # two routes share the path: both methods are named
        ("get", "/acmecorp/openai/setup", {"POST"}),
        ("delete", "/acmecorp", {"GET"}),
        ("post", "/acmecorp/gcp/keyless", {"GET"}),
        ("patch", "/acmecorp/openai/validate", {"POST"}),
    ],
)
def test_a_wrong_method_is_405_with_its_own_code_and_an_allow_header(env, method: str, path: str, allowed) -> None:
    """Issue 27 (review 9): 405 answered ENDPOINT_NOT_FOUND ("Method Not Allowed") with no Allow header."""
    client, _, keys = env
    error = assert_error(
        client.request(method, f"{BASE}{path}", headers=auth(keys["acmecorp"])), 405, "METHOD_NOT_ALLOWED"
    )
    r = client.request(method, f"{BASE}{path}")
    assert set(r.headers["allow"].split(", ")) == allowed
    assert method.upper() in error["message"] and all(m in error["message"] for m in allowed)


def test_health_and_readiness(env) -> None:
    client, _, _ = env
    assert client.get("/healthz").json() == {"status": "ok", "store": None, "status_cache": None}
    assert client.get("/readyz").json()["status"] == "ready"


def test_readiness_reports_a_broken_store(tmp_path) -> None:
    from integrations import connect

    svc = connect(data_dir=tmp_path)
    (tmp_path / "warehouse.sqlite").unlink()
    (tmp_path / "warehouse.sqlite").mkdir()  # the store path is now a directory: unusable
    svc.store._local.conn = None
    assert_error(TestClient(create_app(svc)).get("/readyz"), 503, "STORAGE_FAILED")


def test_openapi_declares_every_endpoint(env) -> None:
    client, _, _ = env
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {
        f"{BASE}/{{org_slug}}",
        f"{BASE}/{{org_slug}}/{{provider}}",
        f"{BASE}/{{org_slug}}/{{provider}}/setup",
        f"{BASE}/{{org_slug}}/{{provider}}/validate",
    }
    setup = paths[f"{BASE}/{{org_slug}}/{{provider}}/setup"]["post"]
    assert {"200", "401", "403", "422", "429"} <= set(setup["responses"])
    assert client.get("/docs").status_code == 200


def test_a_probe_reuses_a_recent_ready_answer_but_never_a_failure(tmp_path, monkeypatch) -> None:
    """A readiness probe every few seconds: the store and the cache are read once per PROBE_MAX_AGE_S (on
    BigQuery each answer is a ping job and an overview job); an operator's readiness() always checks again."""
    from integrations import connect
    from integrations.usecases import health

    svc = connect(data_dir=tmp_path)
    client = TestClient(create_app(svc))
    first = client.get("/readyz").json()
    reads = svc.store.queries + svc.cache.queries
    for _ in range(5):
        again = client.get("/readyz").json()
        assert again["status"] == "ready" and again["drift"] == first["drift"]
    assert svc.store.queries + svc.cache.queries == reads and again["checked_s_ago"] >= first["checked_s_ago"] == 0
    assert svc.readiness()["checked_s_ago"] == 0 and svc.store.queries + svc.cache.queries > reads

    monkeypatch.setattr(health, "PROBE_MAX_AGE_S", 0.0)  # the reused answer has expired
    path = tmp_path / "warehouse.sqlite"
    path.rename(tmp_path / "moved.sqlite")
    path.mkdir()  # the store path is now a directory: unusable
    svc.store._local.conn = None
    assert_error(client.get("/readyz"), 503, "STORAGE_FAILED")
    monkeypatch.setattr(health, "PROBE_MAX_AGE_S", 30.0)
    assert_error(client.get("/readyz"), 503, "STORAGE_FAILED")  # a failure is not reused as "ready"
    path.rmdir()
    (tmp_path / "moved.sqlite").rename(path)
    svc.store._local.conn = None
    assert client.get("/readyz").json()["status"] == "ready"


# Issue 27 (review 7): a malformed body is answered after the caller is authenticated, then in words with a fix
@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        (None, 401, "ORG_API_KEY_MISSING"),
        ("acmecorp_api_not-a-real-key", 401, "ORG_API_KEY_INVALID"),
        ("globex", 403, "ORG_API_KEY_FORBIDDEN"),
    ],
)
@pytest.mark.parametrize("path", ["/acmecorp/openai/setup", "/acmecorp/openai/test"])
def test_a_malformed_json_body_is_authenticated_first(env, who, status: int, code: str, path: str) -> None:
    client, svc, keys = env
    headers = {"Content-Type": "application/json"}
    if who is not None:
        headers["X-API-Key"] = keys.get(who, who)
    assert_error(client.post(f"{BASE}{path}", headers=headers, content=b"{bad"), status, code)
    assert svc.store.list_credentials(active_only=False) == []


def test_a_malformed_json_body_with_the_right_key_says_where_and_what_to_do(env) -> None:
    client, _, keys = env
    headers = {"Content-Type": "application/json", **auth(keys["acmecorp"])}
    error = assert_error(
        client.post(f"{BASE}/acmecorp/openai/setup", headers=headers, content=b"{bad"), 422, "INVALID_INPUT"
    )
    assert error["message"].startswith("The request body is not valid JSON (line 1, column 2")
    assert "JSON object" in error["hint"] and "application/json" in error["hint"]
    second_line = b'{\n  "credential": "' + CANARY.encode() + b'",,\n}'
    r = client.post(f"{BASE}/acmecorp/openai/setup", headers=headers, content=second_line)
    assert "(line 2, column" in assert_error(r, 422, "INVALID_INPUT")["message"] and CANARY not in r.text


# Issue 27 (review 16): the body's own mistakes in words: which of credential/keyless is missing, flat metadata
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "neither credential"),
        ({"credential_name": "Prod"}, "neither credential"),
        ({"credential": OPENAI_OK, "keyless": {"export_table": "p.d.t"}}, "both credential and keyless"),
    ],
)
def test_setup_says_which_of_credential_or_keyless_is_wrong(env, body: dict, words: str) -> None:
    client, _, keys = env
    r = client.post(f"{BASE}/acmecorp/gcp/setup", headers=auth(keys["acmecorp"]), json=body)
    message = assert_error(r, 422, "INVALID_INPUT")["message"]
    assert words in message and "Value error" not in message and not message.startswith("request:")


@pytest.mark.parametrize("path", ["/acmecorp/openai/setup", "/acmecorp/openai/test"])
@pytest.mark.parametrize("metadata", [{"a": {"b": 1}}, {"a": [1, 2]}])
def test_nested_metadata_says_what_the_cli_says(env, path: str, metadata: dict) -> None:
    client, svc, keys = env
    r = client.post(
        f"{BASE}{path}", headers=auth(keys["acmecorp"]), json={"credential": OPENAI_OK, "metadata": metadata}
    )
    message = assert_error(r, 422, "INVALID_INPUT")["message"]
    assert "must be a string, number, boolean or null (the object must be flat)" in message, message
    assert ".str" not in message and svc.store.list_credentials(active_only=False) == []


def test_a_body_that_is_not_a_json_object_says_so(env) -> None:
    client, _, keys = env
    h = auth(keys["acmecorp"])
    for content, headers in ((b"[1]", {"Content-Type": "application/json"}), (b'{"credential": "x"}', {})):
        r = client.post(f"{BASE}/acmecorp/openai/setup", headers={**h, **headers}, content=content)
        error = assert_error(r, 422, "INVALID_INPUT")
        assert error["message"].startswith("The request body must be a JSON object") and "JSON object" in error["hint"]


def test_get_all_and_get_one_read_back_the_credential_id_and_metadata(env) -> None:
    """Issue 27 (review 19): the credential's id and the tenant's metadata could be written but not read back."""
    client, _, keys = env
    h = auth(keys["acmecorp"])
    meta = {"environment": "production", "team": "billing", "cost_center": 42, "shared": False, "note": None}
    setup = client.post(
        f"{BASE}/acmecorp/openai/setup", headers=h, json={"credential": OPENAI_OK, "metadata": meta}
    ).json()
    openai = client.get(f"{BASE}/acmecorp", headers=h).json()["integrations"]["OPENAI"]
    assert openai["credential_id"] == setup["credential_id"] and openai["metadata"] == meta  # data, not a string
    assert client.get(f"{BASE}/acmecorp/openai", headers=h).json() == openai
    assert {"credential_hint", "credential_name", "status", "created_at"} <= set(openai)  # every field kept
    plain = client.post(f"{BASE}/acmecorp/anthropic/setup", headers=h, json={"credential": "sk-ant-api03-" + "a" * 40})
    anthropic = client.get(f"{BASE}/acmecorp/anthropic", headers=h).json()
    assert anthropic["metadata"] == {} and anthropic["credential_id"] == plain.json()["credential_id"]
    assert client.get(f"{BASE}/acmecorp/gcp", headers=h).json() == {"provider": "GCP", "status": "NOT_CONFIGURED"}
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ConfiguredIntegration"]
    assert {"credential_id", "metadata"} <= set(schema["required"])
    assert schema["properties"]["credential_id"]["type"] == "string"
    assert schema["properties"]["metadata"]["type"] == "object"


def test_a_body_that_is_not_utf8_is_authenticated_first_then_explained(env) -> None:
    client, svc, keys = env
    body, json_type = b'{"credential": "\xff\xfe"}', {"Content-Type": "application/json"}
    assert_error(
        client.post(f"{BASE}/acmecorp/openai/setup", headers=json_type, content=body), 401, "ORG_API_KEY_MISSING"
    )
    headers = {**json_type, **auth(keys["globex"])}
    assert_error(
        client.post(f"{BASE}/acmecorp/openai/setup", headers=headers, content=body), 403, "ORG_API_KEY_FORBIDDEN"
    )
    headers = {**json_type, **auth(keys["acmecorp"])}
    error = assert_error(
        client.post(f"{BASE}/acmecorp/openai/setup", headers=headers, content=body), 422, "INVALID_INPUT"
    )
    assert "not UTF-8" in error["message"] and "JSON object" in error["hint"]
    assert svc.store.list_credentials(active_only=False) == []
