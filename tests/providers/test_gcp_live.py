"""google-auth signs a real JWT with a key generated here; a local token endpoint verifies it; a local
BigQuery endpoint answers the access checks."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from google.auth import jwt
from integrations.domain import Status
from integrations.errors import IntegrationError
from integrations.providers.gcp_service_account import GcpValidator
from pydantic import SecretStr

from tests.keys import service_account_json
from tests.servers import Reply, Seen, listener, refused_url, serve

EMAIL = "exporter@proj-123.iam.gserviceaccount.com"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth signs for Google's endpoint


def public_pem(key_json: str) -> bytes:
    private = serialization.load_pem_private_key(json.loads(key_json)["private_key"].encode(), password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def google(key_json: str, token: Reply | None = None, datasets: Reply | None = None, jobs: Reply | None = None):
    """Route: token endpoint verifying the JWT signature, then BigQuery datasets and jobs."""
    certs = {json.loads(key_json)["private_key_id"]: public_pem(key_json)}

    def route(seen: Seen) -> Reply:
        if seen.path == "/token":
            form = parse_qs(seen.body.decode())
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            claims = jwt.decode(form["assertion"][0], certs=certs, audience=GOOGLE_AUDIENCE)
            assert claims["iss"] == EMAIL and "bigquery" in claims["scope"]  # signature verified above
            return token or Reply(200, {"access_token": "ya29.local-token", "expires_in": 3599, "token_type": "Bearer"})
        assert seen.headers["authorization"] == "Bearer ya29.local-token"
        if seen.path.startswith("/bigquery/v2/projects/proj-123/datasets"):
            return datasets or Reply(200, {"kind": "bigquery#datasetList", "datasets": []})
        if seen.path == "/bigquery/v2/projects/proj-123/jobs":
            assert json.loads(seen.body)["configuration"]["dryRun"] is True
            return jobs or Reply(200, {"kind": "bigquery#job", "status": {"state": "DONE"}})
        return Reply(404, {"error": {"code": 404, "message": "not found"}})

    return route


def check(base_url: str, key_json: str):
    validator = GcpValidator(f"{base_url}/token", f"{base_url}/bigquery/v2", timeout=2)
    return validator.check(validator.parse(SecretStr(key_json)))


def denied(permission: str) -> Reply:
    msg = f"Access Denied: Project proj-123: User does not have {permission} permission in project proj-123."
    return Reply(
        403,
        {
            "error": {
                "code": 403,
                "message": msg,
                "errors": [{"message": msg, "domain": "global", "reason": "accessDenied"}],
                "status": "PERMISSION_DENIED",
            }
        },
    )


@pytest.fixture(scope="module")
def key_json() -> str:
    return service_account_json(EMAIL, "proj-123")


def test_valid_key_passes_every_check(key_json: str) -> None:
    with serve(google(key_json)) as (url, seen):
        result = check(url, key_json)
    assert result.status == Status.VALID and all(c.passed for c in result.checks)
    assert [s.path.split("?")[0] for s in seen] == [
        "/token",
        "/bigquery/v2/projects/proj-123/datasets",
        "/bigquery/v2/projects/proj-123/jobs",
    ]


@pytest.mark.parametrize("description", ["Invalid JWT Signature.", "Invalid grant: account not found"])
def test_deleted_key_or_account_is_invalid(key_json: str, description: str) -> None:
    token = Reply(400, {"error": "invalid_grant", "error_description": description})
    with serve(google(key_json, token=token)) as (url, _):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == ("INVALID_CREDENTIAL", False)
    assert [(c.name, c.passed) for c in result.checks] == [("token", False)]


def test_missing_job_permission_is_named(key_json: str) -> None:
    with serve(google(key_json, jobs=denied("bigquery.jobs.create"))) as (url, _):
        result = check(url, key_json)
    assert result.error_code == "INSUFFICIENT_PERMISSIONS" and not result.retryable
    assert {c.name: c.passed for c in result.checks} == {
        "token": True,
        "bigquery.datasets.list": True,
        "bigquery.jobs.create (dry-run query)": False,
    }
    assert "bigquery.jobs.create" in result.message


@pytest.mark.parametrize(("reply", "code"), [(Reply(503, {"error": "backend"}), "PROVIDER_UNAVAILABLE")])
def test_token_endpoint_outage_is_retryable(key_json: str, reply: Reply, code: str) -> None:
    with serve(google(key_json, token=reply)) as (url, _):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == (code, True)


@pytest.mark.parametrize(("status", "code"), [(429, "RATE_LIMITED"), (500, "PROVIDER_UNAVAILABLE")])
def test_bigquery_transient_errors_are_retryable(key_json: str, status: int, code: str) -> None:
    with serve(google(key_json, datasets=Reply(status, {"error": {"code": status}}))) as (url, _):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == (code, True)


@pytest.mark.parametrize(("reason", "domain"), [("rateLimitExceeded", "usageLimits"), ("quotaExceeded", "global")])
def test_bigquery_403_quota_errors_are_retryable_not_permissions(key_json: str, reason: str, domain: str) -> None:
    msg = "Exceeded rate limits: too many api requests per user per method for this user_method."
    body = {"error": {"code": 403, "message": msg, "errors": [{"message": msg, "domain": domain, "reason": reason}]}}
    with serve(google(key_json, jobs=Reply(403, body))) as (url, _):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == ("RATE_LIMITED", True) and reason in result.message


def test_unreachable_token_endpoint_is_network_error(key_json: str) -> None:
    result = check(refused_url(), key_json)
    assert (result.error_code, result.retryable) == ("NETWORK_ERROR", True)


@pytest.mark.parametrize("field", ["token_uri", "universe_domain"])
def test_key_naming_another_endpoint_is_refused_before_any_request(key_json: str, field: str) -> None:
    with listener() as (evil, connections):
        data = json.loads(key_json) | {field: f"{evil}/token" if field == "token_uri" else "evil.example"}
        validator = GcpValidator(f"{evil}/token", f"{evil}/bq", timeout=1)
        with pytest.raises(IntegrationError) as err:
            validator.parse(SecretStr(json.dumps(data)))
    assert err.value.code == "MALFORMED_CREDENTIAL" and field in err.value.message
    assert connections == []


def test_token_endpoint_comes_from_settings_not_the_key(key_json: str) -> None:
    with serve(google(key_json)) as (url, seen):
        assert check(url, key_json).status == Status.VALID
    assert seen[0].path == "/token"  # the key file says oauth2.googleapis.com; settings won


def test_a_hanging_token_endpoint_times_out_at_the_configured_timeout(key_json: str) -> None:
    """google-auth's own default is 120 s; the validator's pool applies the provider timeout to every request."""
    import time

    with serve(google(key_json, token=Reply(200, {"access_token": "x"}, hang_s=1.5))) as (url, seen):
        validator = GcpValidator(f"{url}/token", f"{url}/bigquery/v2", timeout=0.3)
        started = time.monotonic()
        result = validator.check(validator.parse(SecretStr(key_json)))
        elapsed = time.monotonic() - started
    assert (result.error_code, result.retryable) == ("NETWORK_ERROR", True)
    assert elapsed < 1.2 and len(seen) == 1, "one attempt, no retry"


def test_the_pool_takes_the_https_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib3
    from integrations.providers.gcp_service_account import google_pool

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    pool = google_pool("https://bigquery.googleapis.com/bigquery/v2", 5)
    assert isinstance(pool, urllib3.ProxyManager) and pool.proxy is not None and pool.proxy.host == "proxy.internal"
    monkeypatch.setenv("NO_PROXY", ".googleapis.com")
    assert not isinstance(google_pool("https://bigquery.googleapis.com/bigquery/v2", 5), urllib3.ProxyManager)
