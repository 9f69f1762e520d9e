"""`integrations doctor --role job|finalize|api` against the doubles: each identity is checked for what it needs
and nothing else (deploy/iam.sh grants exactly that); a wrong Supabase key reads "check the key"; the dataset's
location is compared with the setting."""

from __future__ import annotations

import json

import pytest
from integrations import doctor
from integrations.cli import app
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.adapters.test_doctor import DATASET, _failing, _ready, cloud  # noqa: F401 - the fixture
from tests.doubles.bigquery import DuckBigQuery


def _names(report: doctor.DoctorReport) -> set[str]:
    return {f"{c.area}: {c.name}" for c in report.checks}


def test_the_tasks_identity_needs_decrypt_and_its_two_tables_only(cloud) -> None:  # noqa: F811
    settings, bq, kms_state = cloud
    client = bq["client"] = _ready(DuckBigQuery())
    kms_state.deny = {"Encrypt", "MacSign", "GetCryptoKey"}  # what integrations-tasks is not granted
    report = doctor.run(settings, role="job")
    assert report.ok, _failing(report)
    names = _names(report)
    assert {
        "bigquery: read org_integrations (dry run)",
        "bigquery: read revalidation_results (dry run)",
        "bigquery: write revalidation_results (dry run)",
        "kms: decrypt",
        "supabase: not needed",
    } <= names
    assert not any("org_api_keys (dry run)" in n or "write org_integrations" in n or "encrypt" in n for n in names)
    assert client.dry_runs == 3 and report.role == "job"


def test_the_tasks_identity_without_decrypt_is_told_the_role(cloud) -> None:  # noqa: F811
    settings, bq, kms_state = cloud
    bq["client"] = _ready(DuckBigQuery())
    kms_state.deny = {"Decrypt"}
    check = _failing(doctor.run(settings, role="job"))["kms: decrypt"]
    assert "roles/cloudkms.cryptoKeyDecrypter" in check.fix


def test_finalize_makes_no_kms_call_and_checks_its_tables_and_supabase(cloud) -> None:  # noqa: F811
    settings, bq, kms_state = cloud
    client = bq["client"] = _ready(DuckBigQuery())
    kms_state.deny = True  # integrations-finalize has no KMS role at all
    report = doctor.run(settings, role="finalize")
    assert report.ok, _failing(report)
    names = _names(report)
    assert {
        "bigquery: read revalidation_results (dry run)",
        "bigquery: write org_integrations (dry run)",
        "bigquery: write org_integration_events (dry run)",
        "kms: not needed",
        "supabase: status columns of organizations",
    } <= names
    assert "bigquery: write revalidation_results (dry run)" not in names and client.dry_runs == 5


def test_a_denied_table_names_the_table_level_role(cloud) -> None:  # noqa: F811
    settings, bq, _ = cloud
    client = bq["client"] = _ready(DuckBigQuery())
    client.granted = client.granted - {"bigquery.tables.updateData"}
    failing = _failing(doctor.run(settings, role="finalize"))
    check = failing["bigquery: write org_integrations (dry run)"]
    assert "roles/bigquery.dataEditor on the table test-project:organizations.org_integrations" in check.fix


@pytest.mark.parametrize("role", ["api", "finalize"])
def test_a_wrong_supabase_key_says_check_the_key_not_retry(cloud, role: str) -> None:  # noqa: F811
    settings, bq, _ = cloud
    bq["client"] = _ready(DuckBigQuery())
    wrong = settings.model_copy(update={"supabase_service_role_key": SecretStr("not-the-service-role-key")})
    check = _failing(doctor.run(wrong, role=role))["supabase: organizations table reachable"]
    assert check.fix.startswith("Check the key") and "retry" not in check.fix.lower().replace("retrying will not", "")
    assert "not-the-service-role-key" not in check.detail + check.fix


def test_the_dataset_location_is_compared_with_the_setting(cloud) -> None:  # noqa: F811
    settings, bq, _ = cloud
    client = DuckBigQuery()
    client.add_dataset(DATASET, "EU")
    bq["client"] = _ready(client)
    check = _failing(doctor.run(settings, role="job"))["bigquery: dataset location"]
    assert "The dataset is in EU" in check.detail and "INTEGRATIONS_BIGQUERY_LOCATION=EU" in check.fix
    located = settings.model_copy(update={"bigquery_location": "EU"})
    assert "bigquery: dataset location" not in _failing(doctor.run(located, role="job"))


def test_the_cli_takes_a_role_and_refuses_an_unknown_one(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_STORE", "INTEGRATIONS_CIPHER", "INTEGRATIONS_STATUS_CACHE"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    unknown = runner.invoke(app, ["doctor", "--role", "owner", "--json"])
    assert unknown.exit_code == 1 and json.loads(unknown.output)["error"]["code"] == "INVALID_INPUT"
    assert runner.invoke(app, ["init"]).exit_code == 0
    job = runner.invoke(app, ["doctor", "--role", "job", "--json"])
    assert job.exit_code == 0 and json.loads(job.output)["role"] == "job"
