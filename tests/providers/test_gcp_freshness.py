"""Issue 26 for GCP and Anthropic: the billing export's freshness from BigQuery tables.get (lastModifiedTime,
creationTime, numRows: metadata only, free) through the keyless token and the key file, judged by freshness.py
against GCP's lag; a key file's expiry from IAM keys.get (validBeforeTime, 9999-12-31 = never); an Anthropic key's
expiry from the organization's key list as its Admin key sees it. On the HTTP doubles of Google and Anthropic and on
the sandbox: a stale source is a warning, never INVALID, and an unreadable expiry is "unknown", never a failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.oauth2.credentials import Credentials
from integrations import IntegrationService, Provider, Status
from integrations.domain import Action, DataStatus
from integrations.freshness import judge
from integrations.providers.anthropic_keys import AnthropicValidator
from integrations.providers.gcp_keyless import KeylessSettings, principal_id
from integrations.providers.gcp_service_account import GcpValidator
from integrations.usecases import checks
from pydantic import SecretStr

from tests.conftest import ORG
from tests.doubles.google_keyless import PLATFORM, GoogleDouble, Table
from tests.doubles.providers import ANTHROPIC_COSTS, EMAIL, TABLE, billing_table, google, iam_key
from tests.keys import ANTHROPIC_ADMIN, admin_key, service_account_json
from tests.servers import Reply, serve

KEYLESS_TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
NOW = datetime.now(UTC)


# --- keyless, on the HTTP double of Google --------------------------------------------------------------------
@pytest.fixture
def keyless() -> Iterator[tuple[GoogleDouble, GcpValidator]]:
    double = GoogleDouble()
    reader = f"{principal_id('acme')}@{PLATFORM}.iam.gserviceaccount.com"
    double.accounts.add(reader)
    double.job_users[PLATFORM] = {reader}
    double.grant_reader(reader, KEYLESS_TABLE.rsplit(".", 1)[0])
    with serve(double.route) as (url, _):
        settings = KeylessSettings(PLATFORM, f"{url}/iamcredentials/v1", f"{url}/iam/v1", customer_id="C0test123")

        def adc() -> Credentials:
            token_uri = f"{url}/token"
            return Credentials(None, refresh_token="rt-runtime", token_uri=token_uri, client_id="c", client_secret="s")

        yield double, GcpValidator(f"{url}/token", f"{url}/bigquery/v2", timeout=5, keyless=settings, adc=adc)


def keyless_check(v: GcpValidator):
    return v.check(v.parse_keyless("acme", KEYLESS_TABLE, None, NOW - timedelta(hours=1)), {})


def test_keyless_a_table_created_10h_ago_with_no_rows_is_pending_first_data_and_valid(keyless) -> None:
    double, v = keyless
    created = NOW - timedelta(hours=10)
    double.tables[KEYLESS_TABLE] = Table(modified=created, created=created, rows=0)
    result = keyless_check(v)
    assert result.status == Status.VALID and result.error_code is None
    assert (
        result.data is not None
        and result.data.newest_at is None
        and result.data.since == created.replace(microsecond=created.microsecond // 1000 * 1000)
    )
    fresh = judge(Provider.GCP, result.data, datetime.now(UTC))
    assert fresh.data_status == DataStatus.PENDING_FIRST_DATA and fresh.error_code is None
    assert fresh.data_through is None  # no data is no day, never $0
    assert [c.api for c in double.calls if c.api in ("tables.get", "jobs.insert")] == ["tables.get", "jobs.insert"]
    assert result.expiry is not None and result.expiry.label == "never expires"  # no key to expire


@pytest.mark.parametrize(
    ("hours", "want", "code"),
    [(3, DataStatus.FRESH, None), (30, DataStatus.STALE, "DATA_STALE"), (80, DataStatus.STALLED, "DATA_STALLED")],
)
def test_keyless_last_modified_time_against_gcps_lag(keyless, hours: int, want: DataStatus, code) -> None:
    double, v = keyless
    modified = datetime.now(UTC) - timedelta(hours=hours)
    double.tables[KEYLESS_TABLE] = Table(modified=modified)
    result = keyless_check(v)
    assert result.status == Status.VALID  # a stale export is a warning, never INVALID
    fresh = judge(Provider.GCP, result.data, datetime.now(UTC))
    assert (fresh.data_status, fresh.error_code) == (want, code)
    assert fresh.data_through == modified.date()
    if code:
        assert f"{hours} h old" in fresh.message


# --- key file, on the HTTP double of Google -------------------------------------------------------------------
@pytest.fixture(scope="module")
def key_json() -> str:
    return service_account_json(EMAIL, "proj-123")


def key_file_check(url: str, key_json: str, iam: bool = True):
    v = GcpValidator(
        f"{url}/token",
        f"{url}/bigquery/v2",
        timeout=2,
        resource_manager_url=f"{url}/crm/v1",
        iam_url=f"{url}/iam/v1" if iam else None,
    )
    return v.check(v.parse(SecretStr(key_json)), {"billing_export_table": ".".join(TABLE)})


def test_key_file_stale_export_and_a_key_expiring_in_6_days(key_json: str) -> None:
    key_id = json.loads(key_json)["private_key_id"]
    expires = (NOW + timedelta(days=6)).replace(microsecond=0)
    table = billing_table(NOW - timedelta(hours=30), rows=48211, created=NOW - timedelta(days=90))
    with serve(google(key_json, table=table, key=iam_key(key_id, f"{expires:%Y-%m-%dT%H:%M:%SZ}"))) as (url, seen):
        result = key_file_check(url, key_json)
    assert result.status == Status.VALID
    fresh = judge(Provider.GCP, result.data, datetime.now(UTC))
    assert (fresh.data_status, fresh.error_code) == (DataStatus.STALE, "DATA_STALE")
    assert result.expiry is not None and result.expiry.expires_at == expires and result.expiry.label.startswith("exp")
    [get] = [s for s in seen if s.path.startswith("/iam/")]
    assert get.method == "GET" and get.path.endswith(f"/keys/{key_id}")  # the key file's own key, by its id


def test_key_file_empty_table_is_pending_and_a_key_without_expiry_says_never(key_json: str) -> None:
    table = billing_table(NOW - timedelta(hours=10), rows=0)
    with serve(google(key_json, table=table)) as (url, _):
        result = key_file_check(url, key_json)
    assert result.status == Status.VALID
    assert judge(Provider.GCP, result.data, datetime.now(UTC)).data_status == DataStatus.PENDING_FIRST_DATA
    assert result.expiry is not None and result.expiry.known and result.expiry.label == "never expires"


def test_key_file_expiry_refused_is_unknown_never_a_failure(key_json: str) -> None:
    message = "Permission 'iam.serviceAccountKeys.get' denied on resource (or it may not exist)."
    refused = Reply(403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}})
    table = billing_table(NOW - timedelta(hours=2), rows=10)
    with serve(google(key_json, table=table, key=refused)) as (url, _):
        result = key_file_check(url, key_json)
    assert result.status == Status.VALID and result.error_code is None
    assert result.expiry is not None and result.expiry.label == "unknown"
    with serve(google(key_json, table=table)) as (url, seen):
        assert key_file_check(url, key_json, iam=False).expiry is None  # not configured: not asked
    assert not [s for s in seen if s.path.startswith("/iam/")]


# --- Anthropic expiry, on the HTTP double -----------------------------------------------------------------------
def anthropic_keys(hint: str, expires_at: str | None) -> dict:
    """GET /v1/organizations/api_keys (https://platform.claude.com/docs/en/api/admin/api_keys)."""
    other = {
        "type": "api_key",
        "id": "apikey_01Other",
        "name": "someone else's",
        "created_at": "2026-10-01T00:00:00Z",
        "created_by": {"id": "user_01", "type": "user"},
        "expires_at": None,
        "partial_key_hint": "sk-ant-api03-R2D...igAA",
        "principal": None,
        "status": "active",
        "workspace_id": None,
    }
    ours = {**other, "id": "apikey_01Ours", "partial_key_hint": hint, "expires_at": expires_at}
    return {"data": [other, ours], "has_more": False, "first_id": other["id"], "last_id": ours["id"]}


@pytest.mark.parametrize(
    ("hint", "expires_at", "label"),
    [
        (f"{ANTHROPIC_ADMIN[:18]}...{ANTHROPIC_ADMIN[-4:]}", "2027-01-05T10:00:00Z", "expires 2027-01-05"),
        (f"{ANTHROPIC_ADMIN[:18]}...{ANTHROPIC_ADMIN[-4:]}", None, "never expires"),
        ("sk-ant-admin01-Zzz...Q9Q9", None, "unknown"),  # the Admin key is not listed: no documented expiry
    ],
)
def test_anthropic_expiry_as_the_admin_key_sees_the_keys(hint: str, expires_at: str | None, label: str) -> None:
    def route(seen):
        if seen.path.startswith("/v1/organizations/api_keys"):
            sent = seen.headers.get("x-api-key") or seen.headers.get("authorization", "").removeprefix("Bearer ")
            assert sent == ANTHROPIC_ADMIN and "anthropic-version" in seen.headers  # as the SDK sends its key
            return Reply(200, anthropic_keys(hint, expires_at))
        return Reply(200, ANTHROPIC_COSTS)

    with serve(route) as (url, seen):
        check = AnthropicValidator(url, timeout=2)
        result = check.check(check.parse(SecretStr(ANTHROPIC_ADMIN)))
    assert result.status == Status.VALID and result.expiry is not None and result.expiry.label == label
    assert result.expiry.last_used_at is None  # Anthropic shows no last use on a key
    assert [s.path.split("?")[0] for s in seen] == ["/v1/organizations/cost_report", "/v1/organizations/api_keys"]


def test_anthropic_expiry_refused_is_unknown() -> None:
    def route(seen):
        if seen.path.startswith("/v1/organizations/api_keys"):
            return Reply(403, {"type": "error", "error": {"type": "permission_error", "message": "denied"}})
        return Reply(200, ANTHROPIC_COSTS)

    with serve(route) as (url, _):
        check = AnthropicValidator(url, timeout=2)
        result = check.check(check.parse(SecretStr(ANTHROPIC_ADMIN)))
    assert result.status == Status.VALID and result.expiry is not None and result.expiry.label == "unknown"


# --- the sandbox, through the facade ----------------------------------------------------------------------------
SANDBOX = "{}.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"


@pytest.mark.parametrize(
    ("project", "want", "code"),
    [
        ("acme-nodata", DataStatus.PENDING_FIRST_DATA, None),
        ("acme-age3h", DataStatus.FRESH, None),
        ("acme-age30h", DataStatus.STALE, "DATA_STALE"),
        ("acme-age80h", DataStatus.STALLED, "DATA_STALLED"),
    ],
)
def test_sandbox_keyless_freshness_beside_a_valid_credential(
    svc: IntegrationService, project: str, want: DataStatus, code: str | None
) -> None:
    setup = svc.setup_keyless(ORG, SANDBOX.format(project))
    assert setup.validation_status == Status.VALID and setup.data_status == want
    validated = svc.validate(ORG, "gcp")
    assert validated.validation_status == Status.VALID and validated.data_status == want
    assert any(code in w for w in validated.warnings) if code else not validated.warnings
    shown = svc.get_one(ORG, "gcp")
    assert (shown.status, shown.data_status, shown.expiry) == (Status.VALID, want, "never expires")
    assert shown.last_success_at is not None
    assert (shown.data_through is None) == (want == DataStatus.PENDING_FIRST_DATA)


@pytest.mark.parametrize(
    ("email", "label"),
    [
        ("exporter-exp6d@acme-prod.iam.gserviceaccount.com", "expires"),
        ("exporter@acme-prod.iam.gserviceaccount.com", "never expires"),
        ("exporter-nokeyview@acme-prod.iam.gserviceaccount.com", "unknown"),
    ],
)
def test_sandbox_key_file_expiry_and_freshness(svc: IntegrationService, email: str, label: str) -> None:
    key = service_account_json(email, "acme-prod")
    setup = svc.setup(ORG, "gcp", key, metadata={"billing_export_table": SANDBOX.format("acme-age30h")})
    assert setup.validation_status == Status.VALID and setup.data_status == DataStatus.STALE
    shown = svc.get_one(ORG, "gcp")
    assert shown.expiry is not None and shown.expiry.startswith(label)
    for _night in range(2):
        checks.revalidate_record(svc.deps, svc.store.get_active(ORG, Provider.GCP), actor="nightly")
    marks = [e for e in svc.store.events(ORG) if e.action == Action.EXPIRY]
    assert [("(7-day mark)" in e.message) for e in marks] == ([True] if label == "expires" else [])


@pytest.mark.parametrize(("marker", "label"), [("exp6d", "expires"), ("noexp", "never expires"), ("", "unknown")])
def test_sandbox_anthropic_admin_key_expiry(svc: IntegrationService, marker: str, label: str) -> None:
    svc.setup(ORG, "anthropic", admin_key("anthropic", marker))
    for _night in range(2):
        checks.revalidate_record(svc.deps, svc.store.get_active(ORG, Provider.ANTHROPIC), actor="nightly")
    shown = svc.get_one(ORG, "anthropic")
    assert shown.expiry is not None and shown.expiry.startswith(label)
    marks = [e for e in svc.store.events(ORG) if e.action == Action.EXPIRY]
    assert [("(7-day mark)" in e.message) for e in marks] == ([True] if marker == "exp6d" else [])
