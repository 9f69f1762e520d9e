"""`integrations doctor` against the doubles, in each failure mode: it names what is missing with its fix and
changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from integrations import doctor
from integrations.cli import app
from integrations.store.bigquery import BigQueryStore
from integrations.store.bigquery import sql as bigquery_sql
from typer.testing import CliRunner

from tests.adapters.gcp_profile import gcp_doubles
from tests.doubles.bigquery import ALL_PERMISSIONS, DATA_EDITOR_ON_DATASET, PROJECT, DuckBigQuery
from tests.doubles.pg_cluster import Cluster
from tests.doubles.postgrest import postgrest

DATASET = f"{PROJECT}.organizations"


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, pg: Cluster):
    """The gcp profile's settings pointing at the three doubles; `bq` is the BigQuery double doctor will use."""
    bq = {"client": DuckBigQuery()}
    make_store = lambda settings: BigQueryStore(bq["client"], PROJECT, settings.bigquery_dataset, timeout=5)  # noqa: E731
    with gcp_doubles(monkeypatch, pg, make_store) as (settings, _, kms_state):
        yield settings, bq, kms_state


def _ready(client: DuckBigQuery) -> DuckBigQuery:
    BigQueryStore(client, PROJECT).init()
    return client


def _failing(report: doctor.DoctorReport) -> dict[str, doctor.Check]:
    return {f"{c.area}: {c.name}": c for c in report.checks if not c.ok}


def test_a_ready_deployment_passes_and_doctor_runs_no_job(cloud) -> None:
    settings, bq, _ = cloud
    client = bq["client"] = _ready(DuckBigQuery())
    jobs = client.jobs
    report = doctor.run(settings)
    assert report.ok, _failing(report)
    names = {c.name for c in report.checks}
    assert {"dataset test-project.organizations", "table org_integration_events", "decrypt"} <= names
    assert "status columns of organizations" in names and "write org_api_keys (dry run)" in names
    assert client.jobs == jobs and client.dry_runs == 6  # gets and dry runs only


def test_a_missing_dataset_without_create_permission(cloud) -> None:
    settings, bq, _ = cloud
    client = bq["client"] = DuckBigQuery(granted=DATA_EDITOR_ON_DATASET)
    failing = _failing(doctor.run(settings))
    check = failing[f"bigquery: dataset {DATASET}"]
    assert "does not exist" in check.detail and "bq mk" in check.fix and "bigquery.datasets.create" in check.fix
    assert client.datasets == {} and client.jobs == 0  # nothing created


def test_missing_tables_are_named_not_created(cloud) -> None:
    settings, bq, _ = cloud
    client = bq["client"] = DuckBigQuery()
    client.add_dataset(DATASET)
    failing = _failing(doctor.run(settings))
    assert {f"bigquery: table {t}" for t in bigquery_sql.TABLES} <= set(failing)
    assert all("integrations init" in failing[f"bigquery: table {t}"].fix for t in bigquery_sql.TABLES)
    assert client.tables == {} and client.jobs == 0


def test_the_old_events_column_gets_its_migration(cloud) -> None:
    settings, bq, _ = cloud
    client = bq["client"] = _ready(DuckBigQuery())
    client.tables[f"{DATASET}.org_integration_events"] = [
        ("at" if name == "event_at" else name, kind)
        for name, kind in client.tables[f"{DATASET}.org_integration_events"]
    ]
    check = _failing(doctor.run(settings))["bigquery: table org_integration_events"]
    assert "event_at" in check.detail and "EXCEPT (`at`), `at` AS event_at" in check.fix


def test_without_job_user_the_dry_runs_name_the_role(cloud) -> None:
    settings, bq, _ = cloud
    client = bq["client"] = _ready(DuckBigQuery())
    client.granted = ALL_PERMISSIONS - {"bigquery.jobs.create"}
    failing = _failing(doctor.run(settings))
    assert failing and all("roles/bigquery.jobUser" in c.fix for c in failing.values())


def test_kms_denials_and_key_version_states(cloud) -> None:
    settings, bq, kms_state = cloud
    bq["client"] = _ready(DuckBigQuery())
    kms_state.deny = {"Encrypt", "MacSign"}
    failing = _failing(doctor.run(settings))
    assert "roles/cloudkms.cryptoKeyEncrypterDecrypter" in failing["kms: encrypt and decrypt"].detail
    assert "roles/cloudkms.signerVerifier" in failing["kms: MAC key version (fingerprints)"].detail
    kms_state.deny = {"GetCryptoKey"}  # what the README's roles leave out: not needed
    kms_state.states[1] = "DISABLED"
    check = _failing(doctor.run(settings))["kms: encrypt and decrypt"]
    assert "KMS_KEY_VERSION_UNAVAILABLE" in check.detail and "DISABLED" in check.detail and "enable" in check.fix


def test_an_unmigrated_supabase_names_each_missing_column_and_the_function(
    cloud, pg: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, bq, _ = cloud
    bq["client"] = _ready(DuckBigQuery())
    with postgrest(pg, migrate=False) as bare:  # the frontend's table alone, as before our migrations
        monkeypatch.setenv("SUPABASE_URL", bare.url)
        rows = bare.sql("SELECT count(*) FROM organizations")
        failing = _failing(doctor.run(settings.model_copy(update={"supabase_url": bare.url})))
        assert bare.sql("SELECT count(*) FROM organizations") == rows  # doctor changed nothing
    columns = failing["supabase: status columns of organizations"]
    assert all(f"integration_{p}_status" in columns.detail for p in ("openai", "anthropic", "gcp"))
    assert "001_integration_status_columns.sql" in columns.fix
    assert "002_integration_status_sync.sql" in failing["supabase: function integration_status_sync"].fix
    assert "004_integration_check_attempts.sql" in failing["supabase: function integration_check_attempt"].fix


def test_missing_settings_are_named(cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _, _ = cloud
    monkeypatch.delenv("SUPABASE_URL")
    bare = settings.model_copy(update={"kms_key": None, "supabase_url": None})
    failing = _failing(doctor.run(bare))
    assert "INTEGRATIONS_KMS_KEY" in failing["kms: settings"].detail
    assert "SUPABASE_URL" in failing["supabase: settings"].detail


def test_the_cli_prints_each_check_and_exits_1_until_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_STORE", "INTEGRATIONS_CIPHER", "INTEGRATIONS_STATUS_CACHE"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    before = runner.invoke(app, ["doctor", "--json"])
    assert before.exit_code == 1 and not (tmp_path / "data").exists()  # doctor created nothing
    body = json.loads(before.output)
    assert body["ok"] is False and all(c["fix"] for c in body["checks"] if not c["ok"])
    assert runner.invoke(app, ["init"]).exit_code == 0
    after = runner.invoke(app, ["doctor"])
    assert after.exit_code == 0 and "missing" not in after.output and after.output.count("ok") >= 3
