"""Keyless GCP against the HTTP double of IAM Credentials and BigQuery (tests/doubles/google_keyless.py): google-auth
refreshes the runtime's credentials at the double's token endpoint, the validator mints tokens with
generateAccessToken and reads with them; the double authorizes every call by the identity its token was minted for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.oauth2.credentials import Credentials
from integrations.domain import CredentialKind, Status
from integrations.errors import IntegrationError
from integrations.providers.gcp_keyless import KeylessSettings, principal_id
from integrations.providers.gcp_service_account import GcpValidator
from integrations.verdict import verdict
from pydantic import SecretStr

from tests.doubles.google_keyless import PLATFORM, RUNTIME, GoogleDouble, Table
from tests.servers import serve

TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
DATASET = TABLE.rsplit(".", 1)[0]
OTHER = "globex-billing.billing_export.gcp_billing_export_v1_0FFFFF_000000_111111"
CUSTOMER_SA = "cost-reader@acme-billing.iam.gserviceaccount.com"


def principal(org: str) -> str:
    return f"{principal_id(org)}@{PLATFORM}.iam.gserviceaccount.com"


@pytest.fixture
def google() -> Iterator[tuple[GoogleDouble, str]]:
    double = GoogleDouble()
    for org in ("acme", "globex"):
        double.accounts.add(principal(org))
        double.job_users.setdefault(PLATFORM, set()).add(principal(org))
    double.tables[TABLE] = Table(location="EU")
    double.tables[OTHER] = Table(location="US")
    with serve(double.route) as (url, _):
        yield double, url


def validator(url: str, **keyless: object) -> GcpValidator:
    settings = KeylessSettings(
        project=PLATFORM,
        iamcredentials_url=f"{url}/iamcredentials/v1",
        iam_url=f"{url}/iam/v1",
        customer_id="C0test123",
        **keyless,  # type: ignore[arg-type]
    )

    def adc() -> Credentials:  # the runtime's ADC: user credentials google-auth refreshes at the double
        return Credentials(None, refresh_token="rt-runtime", token_uri=f"{url}/token", client_id="c", client_secret="s")

    return GcpValidator(f"{url}/token", f"{url}/bigquery/v2", timeout=5, keyless=settings, adc=adc)


def check(v: GcpValidator, org: str = "acme", table: str = TABLE, sa: str | None = None, ago: float = 60):
    parsed = v.parse_keyless(org, table, sa, datetime.now(UTC) - timedelta(minutes=ago))
    return v.check(parsed, {})


def test_mode_a_valid_with_three_google_calls_and_a_300s_token(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), DATASET)
    v = validator(url)
    result = check(v)
    assert result.status == Status.VALID and result.error_code is None, result.message
    assert [c.api for c in double.calls] == ["token", "generateAccessToken", "tables.get", "jobs.insert"]
    mint = double.by("generateAccessToken")[0]
    assert (mint.identity, mint.resource) == (RUNTIME, principal("acme"))
    assert mint.body == {"scope": ["https://www.googleapis.com/auth/cloud-platform"], "lifetime": "300s"}
    job = double.by("jobs.insert")[0]
    assert job.identity == principal("acme") and job.resource == TABLE
    assert job.body["configuration"]["dryRun"] is True
    assert job.body["jobReference"] == {"projectId": PLATFORM, "location": "EU"}  # billed to us, in the table's place
    assert "_PARTITIONTIME" in job.body["configuration"]["query"]["query"]
    table_item = next(c for c in result.checks if c.name.startswith("billing export table"))
    assert "EU" in table_item.detail and "last modified 2026-12-06T06:00:00+00:00" in table_item.detail
    double.calls.clear()
    assert check(v).status == Status.VALID
    assert [c.api for c in double.calls] == ["generateAccessToken", "tables.get", "jobs.insert"]  # ADC cached


def test_missing_grant_is_pending_with_what_to_do_and_revoked_is_invalid(google) -> None:
    double, url = google
    result = check(validator(url))
    assert (result.error_code, result.retryable) == ("GCP_KEYLESS_NOT_GRANTED", False)
    assert principal("acme") in result.message and "48 h" in result.message and "C0test123" in result.message
    assert verdict(result, Status.PENDING).after == Status.PENDING  # never worked: waiting on the customer
    assert verdict(result, Status.VALID).after == Status.INVALID  # worked, then the grant was revoked
    assert verdict(result, Status.VALID).outcome.value == "REJECTED"


def test_a_denial_within_ten_minutes_of_setup_is_rechecked_then_valid_once_the_grant_applies(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), TABLE, ago=timedelta(seconds=30))  # propagation: 2 minutes
    v = validator(url)
    early = check(v, ago=1)
    assert (early.error_code, early.retryable) == ("GCP_KEYLESS_NOT_GRANTED", True)
    assert "re-checked, not INVALID" in early.message
    assert verdict(early, Status.VALID).after == Status.VALID  # propagation never flips a working integration
    double.advance(timedelta(minutes=3))
    assert check(v, ago=4).status == Status.VALID  # a table-level grant is enough


def test_table_not_created_yet_says_so(google) -> None:
    double, url = google
    missing = f"{DATASET}.gcp_billing_export_v1_NOT_YET"
    double.grant_reader(principal("acme"), DATASET)
    result = check(validator(url), table=missing)
    assert result.error_code == "GCP_KEYLESS_NOT_GRANTED" and "does not exist yet" in result.message
    assert "48 h" in result.message


def test_mode_b_needs_token_creator_then_reads_as_the_customer(google) -> None:
    double, url = google
    double.accounts.add(CUSTOMER_SA)
    double.grant_reader(CUSTOMER_SA, DATASET)
    double.job_users["acme-billing"] = {CUSTOMER_SA}
    v = validator(url)
    refused = check(v, sa=CUSTOMER_SA)
    assert refused.error_code == "GCP_TOKEN_CREATOR_MISSING" and CUSTOMER_SA in refused.message
    assert verdict(refused, Status.PENDING).after == Status.PENDING
    double.grant_token_creator(principal("acme"), CUSTOMER_SA)
    double.calls.clear()
    result = check(v, sa=CUSTOMER_SA)
    assert result.status == Status.VALID, result.message
    mints = [(c.identity, c.resource) for c in double.by("generateAccessToken")]
    assert mints == [(RUNTIME, principal("acme")), (principal("acme"), CUSTOMER_SA)]  # delegation, hop by hop
    assert {c.identity for c in double.by("tables.get") + double.by("jobs.insert")} == {CUSTOMER_SA}
    assert double.by("jobs.insert")[0].body["jobReference"]["projectId"] == "acme-billing"


def test_one_orgs_principal_never_reads_another_orgs_table(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), DATASET)
    double.grant_reader(principal("globex"), OTHER.rsplit(".", 1)[0])
    v = validator(url)
    assert check(v, org="globex", table=OTHER).status == Status.VALID
    double.calls.clear()
    stolen = check(v, org="globex", table=TABLE)  # globex names acme's export
    assert stolen.error_code == "GCP_KEYLESS_NOT_GRANTED"
    readers = {c.identity for c in double.calls if c.api in ("tables.get", "jobs.insert")}
    assert readers == {principal("globex")}  # the double saw only globex's own principal
    descriptor = {"type": "keyless_gcp", "org_slug": "acme", "export_table": TABLE, "customer_service_account": None}
    forged = SecretStr(json.dumps({**descriptor, "configured_at": "2026-12-06T00:00:00+00:00"}))
    with pytest.raises(IntegrationError) as caught:  # a caller cannot hand in a descriptor naming acme
        v.parse(forged)
    assert caught.value.code == "MALFORMED_CREDENTIAL"
    assert v.parse(forged, stored=True).kind == CredentialKind.KEYLESS  # only the vault's opened rows parse


def test_our_iam_credentials_api_disabled_is_an_alarm_never_a_tenant_flip(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), DATASET)
    double.disabled.add((PLATFORM, "iamcredentials.googleapis.com"))
    result = check(validator(url))
    assert (result.error_code, result.retryable) == ("GCP_PLATFORM_ACCESS_FAILED", True)
    assert "IAM Service Account Credentials API has not been used" in result.message
    decided = verdict(result, Status.VALID)
    assert decided.alarm and decided.after == Status.VALID


def test_our_token_quota_is_an_alarm(google) -> None:
    double, url = google
    double.exhausted.add(PLATFORM)
    result = check(validator(url))
    assert result.error_code == "GCP_PLATFORM_ACCESS_FAILED" and verdict(result, Status.INVALID).after == Status.INVALID


def test_principal_missing_in_our_project_is_ours(google) -> None:
    double, url = google
    double.accounts.discard(principal("acme"))
    result = check(validator(url))
    assert result.error_code == "GCP_PLATFORM_ACCESS_FAILED" and verdict(result, Status.VALID).alarm


def test_customer_project_api_disabled_is_named_for_the_customer(google) -> None:
    double, url = google
    double.accounts.add(CUSTOMER_SA)
    double.grant_token_creator(principal("acme"), CUSTOMER_SA)
    double.disabled.add(("acme-billing", "bigquery.googleapis.com"))
    result = check(validator(url), sa=CUSTOMER_SA)
    assert result.error_code == "GCP_API_DISABLED" and "BigQuery API has not been used" in result.message


def test_vpc_service_controls_keeps_the_identifier(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), DATASET)
    double.perimeters["acme-billing"] = set()
    result = check(validator(url))
    assert result.error_code == "GCP_VPC_SERVICE_CONTROLS"
    assert "vpcServiceControlsUniqueIdentifier: 6kVmJuTDVm0C8" in result.message


def test_export_in_another_location_is_named(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), DATASET)
    double.tables[TABLE] = Table(location="asia-northeast1")
    result = check(validator(url))
    assert result.error_code == "GCP_EXPORT_WRONG_LOCATION" and "asia-northeast1" in result.message
    assert check(validator(url, locations=())).status == Status.VALID  # any location allowed: the dry run runs there


def test_a_table_that_is_not_a_billing_export(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), DATASET)
    double.tables[TABLE] = Table(location="EU", fields=["sku", "price"])
    assert check(validator(url)).error_code == "GCP_EXPORT_NOT_BILLING"


def test_a_run_mints_one_token_per_org_not_per_check(google) -> None:
    double, url = google
    double.grant_reader(principal("acme"), DATASET)
    double.grant_reader(principal("globex"), OTHER.rsplit(".", 1)[0])
    v = validator(url)
    with v.run_scope():
        for _ in range(3):
            assert check(v).status == Status.VALID
            assert check(v, org="globex", table=OTHER).status == Status.VALID
    assert len(double.by("generateAccessToken")) == 2 and len(double.by("token")) == 1
    assert len(double.by("tables.get")) == 6
    check(v)  # outside a run: a fresh token
    assert len(double.by("generateAccessToken")) == 3


def test_principals_are_created_on_demand_once(google) -> None:
    double, url = google
    v = validator(url, create_principals=True)
    created = v.ensure_principal("initech")
    assert created == principal("initech") and created in double.accounts
    assert v.ensure_principal("initech") == created  # 409 ALREADY_EXISTS is fine
    assert [c.body["accountId"] for c in double.by("serviceAccounts.create")] == [principal_id("initech")] * 2


@pytest.mark.parametrize(
    ("pasted", "code"),
    [
        (
            "ERROR: (gcloud.iam.service-accounts.keys.create) FAILED_PRECONDITION: Key creation is not allowed on "
            "this service account.\n- '@type': type.googleapis.com/google.rpc.PreconditionFailure\n  violations:\n"
            "  - description: Key creation is not allowed on this service account.\n"
            "    type: constraints/iam.disableServiceAccountKeyCreation",
            "GCP_KEY_CREATION_DISABLED",
        ),
        (
            "ERROR: (gcloud.projects.add-iam-policy-binding) FAILED_PRECONDITION: One or more users named in the "
            "policy do not belong to a permitted customer.",
            "GCP_DOMAIN_RESTRICTED_SHARING",
        ),
    ],
)
def test_a_key_file_customer_pasting_googles_refusal_is_pointed_to_keyless(pasted: str, code: str) -> None:
    v = GcpValidator("https://oauth2.googleapis.com/token", "https://bigquery.googleapis.com/bigquery/v2", timeout=1)
    with pytest.raises(IntegrationError) as caught:
        v.parse(SecretStr(pasted))
    assert caught.value.code == code and "keyless" in caught.value.message


def test_principal_ids_follow_googles_rules() -> None:
    ids = {principal_id(f"org-{i}") for i in range(200)}
    assert len(ids) == 200
    assert all(6 <= len(i) <= 30 and i[0].isalpha() and i == i.lower() for i in ids)


def test_the_deploy_script_names_principals_as_the_library_does() -> None:
    import hashlib
    import re as _re
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "deploy" / "keyless_principals.sh").read_text()
    assert "printf 'integrations-org:%s'" in script and "cut -c1-24" in script and _re.search(r'id="int-', script)
    assert principal_id("acme") == "int-" + hashlib.sha256(b"integrations-org:acme").hexdigest()[:24]
