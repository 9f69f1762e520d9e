"""google-auth signs a real JWT with a key generated here; a local token endpoint verifies it; a local
BigQuery endpoint answers the access checks."""

from __future__ import annotations

import json

import pytest
from integrations.domain import Provider, Status
from integrations.errors import IntegrationError
from integrations.providers.gcp_service_account import GcpValidator
from pydantic import SecretStr

from tests.doubles.providers import ALL, CRM_PATH, EMAIL, TABLE, denied, google, service_disabled
from tests.keys import service_account_json
from tests.servers import Reply, listener, refused_url, serve


def check(base_url: str, key_json: str, metadata: dict | None = None):
    validator = GcpValidator(
        f"{base_url}/token", f"{base_url}/bigquery/v2", timeout=2, resource_manager_url=f"{base_url}/crm/v1"
    )
    return validator.check(validator.parse(SecretStr(key_json)), metadata)


@pytest.fixture(scope="module")
def key_json() -> str:
    return service_account_json(EMAIL, "proj-123")


def test_valid_key_passes_every_check_with_one_permission_call(key_json: str) -> None:
    with serve(google(key_json)) as (url, seen):
        result = check(url, key_json)
    assert result.status == Status.VALID and all(c.passed for c in result.checks)
    assert [s.path for s in seen] == ["/token", CRM_PATH]  # one call names all three permissions
    assert [c.name for c in result.checks] == ["token", *ALL]


@pytest.mark.parametrize("description", ["Invalid JWT Signature.", "Invalid grant: account not found"])
def test_deleted_key_or_account_is_invalid(key_json: str, description: str) -> None:
    token = Reply(400, {"error": "invalid_grant", "error_description": description})
    with serve(google(key_json, token=token)) as (url, _):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == ("INVALID_CREDENTIAL", False)
    assert [(c.name, c.passed) for c in result.checks] == [("token", False)]


def test_one_missing_permission_is_named_exactly(key_json: str) -> None:
    with serve(google(key_json, crm=Reply(200, {"permissions": ALL[:2]}))) as (url, _):
        result = check(url, key_json)
    assert result.error_code == "INSUFFICIENT_PERMISSIONS" and not result.retryable
    assert {c.name: c.passed for c in result.checks} == {"token": True, ALL[0]: True, ALL[1]: True, ALL[2]: False}
    assert "lacks: bigquery.jobs.create on project proj-123" in result.message


def test_no_permission_at_all_is_an_empty_object(key_json: str) -> None:
    with serve(google(key_json, crm=Reply(200, {}))) as (url, _):
        result = check(url, key_json)
    assert result.error_code == "INSUFFICIENT_PERMISSIONS"
    assert [c.name for c in result.checks if not c.passed] == ALL
    dataset_level = next(c for c in result.checks if c.name == "bigquery.tables.get")
    assert "a grant made only on a dataset does not show here" in dataset_level.detail
    assert "billing_export_table" in result.message


def test_api_disabled_falls_back_to_the_probes_and_says_so(key_json: str) -> None:
    with serve(google(key_json, crm=service_disabled())) as (url, seen):
        result = check(url, key_json)
    assert result.status == Status.VALID
    assert [s.path.split("?")[0] for s in seen] == [
        "/token",
        CRM_PATH,
        "/bigquery/v2/projects/proj-123/datasets",
        "/bigquery/v2/projects/proj-123/jobs",
    ]
    fallback = result.checks[1]
    assert fallback.name == "projects.testIamPermissions" and "disabled" in fallback.detail
    assert "fell back" in fallback.detail


def test_missing_job_permission_is_named_by_the_fallback_probe(key_json: str) -> None:
    with serve(google(key_json, crm=service_disabled(), jobs=denied("bigquery.jobs.create"))) as (url, _):
        result = check(url, key_json)
    assert result.error_code == "INSUFFICIENT_PERMISSIONS" and not result.retryable
    assert {c.name: c.passed for c in result.checks} == {
        "token": True,
        "projects.testIamPermissions": False,
        "bigquery.datasets.list": True,
        "bigquery.jobs.create (dry-run query)": False,
    }
    assert "bigquery.jobs.create" in result.message


def test_billing_table_is_read_with_tables_get_and_a_dry_run_in_its_location(key_json: str) -> None:
    with serve(google(key_json)) as (url, seen):
        result = check(url, key_json, {"billing_export_table": ".".join(TABLE)})
    assert result.status == Status.VALID
    assert [c.status for c in result.capabilities if c.name == "cost data"] == ["passed"]
    dry_run = json.loads(seen[-1].body)
    assert dry_run["jobReference"] == {"projectId": "proj-123", "location": "EU"}
    assert "`{}.{}.{}`".format(*TABLE) in dry_run["configuration"]["query"]["query"]


def test_a_dataset_only_grant_is_confirmed_by_the_table_check(key_json: str) -> None:
    crm = Reply(200, {"permissions": ["bigquery.jobs.create"]})
    with serve(google(key_json, crm=crm)) as (url, _):
        result = check(url, key_json, {"billing_export_table": ".".join(TABLE)})
    assert result.status == Status.VALID and all(c.passed for c in result.checks)
    assert "dataset" in next(c for c in result.checks if c.name == "bigquery.tables.get").detail


def test_a_missing_billing_table_is_reported(key_json: str) -> None:
    table = Reply(404, {"error": {"code": 404, "message": "Not found: Table billing-proj:billing_export.x"}})
    with serve(google(key_json, table=table)) as (url, _):
        result = check(url, key_json, {"billing_export_table": ".".join(TABLE)})
    assert (result.error_code, result.retryable) == ("BILLING_EXPORT_NOT_FOUND", False)
    assert [c.status for c in result.capabilities] == ["not available"]


def test_an_unreadable_billing_table_is_a_permission_error(key_json: str) -> None:
    with serve(google(key_json, jobs=denied("bigquery.tables.getData"))) as (url, _):
        result = check(url, key_json, {"billing_export_table": ".".join(TABLE)})
    assert result.error_code == "INSUFFICIENT_PERMISSIONS" and "billing export" in result.message
    assert "bigquery.tables.getData" in result.checks[-1].detail


@pytest.mark.parametrize(("reply", "code"), [(Reply(503, {"error": "backend"}), "PROVIDER_UNAVAILABLE")])
def test_token_endpoint_outage_is_retryable(key_json: str, reply: Reply, code: str) -> None:
    with serve(google(key_json, token=reply)) as (url, seen):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == (code, True)
    assert [s.path for s in seen] == ["/token"], "one token request per check: google-auth's own retry is off"


@pytest.mark.parametrize(("status", "code"), [(429, "RATE_LIMITED"), (500, "PROVIDER_UNAVAILABLE")])
def test_google_transient_errors_are_retryable(key_json: str, status: int, code: str) -> None:
    reply = Reply(status, {"error": {"code": status}}, {"Retry-After": "17"})
    with serve(google(key_json, crm=reply)) as (url, _):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == (code, True)
    with serve(google(key_json, crm=service_disabled(), datasets=reply)) as (url, _):
        result = check(url, key_json)
    assert (result.error_code, result.retryable) == (code, True)
    if status == 429:
        assert result.retry_after == "17"


@pytest.mark.parametrize("where", ["testIamPermissions", "fallback dry-run job"])
@pytest.mark.parametrize(("reason", "domain"), [("rateLimitExceeded", "usageLimits"), ("quotaExceeded", "global")])
def test_google_403_quota_errors_are_retryable_not_permissions(
    key_json: str, reason: str, domain: str, where: str
) -> None:
    msg = "Exceeded rate limits: too many api requests per user per method for this user_method."
    body = {"error": {"code": 403, "message": msg, "errors": [{"message": msg, "domain": domain, "reason": reason}]}}
    replies = (
        {"crm": Reply(403, body)}
        if where == "testIamPermissions"
        else {"crm": service_disabled(), "jobs": Reply(403, body)}
    )
    with serve(google(key_json, **replies)) as (url, _):
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


def test_the_resource_manager_endpoint_comes_from_settings(key_json: str) -> None:
    from integrations.providers import build_validators
    from integrations.settings import Settings

    with serve(google(key_json)) as (url, seen):
        settings = Settings(
            _env_file=None,
            validation="live",
            google_token_uri=f"{url}/token",
            bigquery_api_url=f"{url}/bigquery/v2",
            resource_manager_api_url=f"{url}/crm/v1",
            allow_http_endpoints=True,  # the local server speaks http
        )
        validator = build_validators(settings)[Provider.GCP]
        data = json.loads(key_json) | {"resource_manager_url": "http://evil.example"}  # ignored: not a setting
        assert validator.check(validator.parse(SecretStr(json.dumps(data)))).status == Status.VALID
    assert [s.path for s in seen] == ["/token", CRM_PATH]
