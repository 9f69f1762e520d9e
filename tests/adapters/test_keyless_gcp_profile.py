"""Keyless GCP on the gcp profile: the BigQuery store (DuckDB double), Cloud KMS (its double) and Supabase (its
double), with live validation against the HTTP double of Google's IAM Credentials and BigQuery."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from integrations import Provider, Status, connect
from integrations.domain import CredentialKind
from integrations.providers.gcp_keyless import principal_id
from integrations.store.bigquery import BigQueryStore

from tests.adapters.gcp_profile import gcp_doubles
from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.doubles.google_keyless import PLATFORM, RUNTIME, GoogleDouble, Table, live_settings
from tests.doubles.pg_cluster import Cluster
from tests.doubles.providers import public_pem
from tests.keys import service_account_json
from tests.servers import serve

TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"


def test_keyless_lifecycle_on_the_gcp_profile(monkeypatch: pytest.MonkeyPatch, pg: Cluster, tmp_path: Path) -> None:
    google = GoogleDouble()
    principal = f"{principal_id('acmecorp')}@{PLATFORM}.iam.gserviceaccount.com"
    google.accounts.add(principal)
    google.job_users[PLATFORM] = {principal}
    google.tables[TABLE] = Table(location="EU")
    key = service_account_json(RUNTIME, PLATFORM)
    google.runtime_certs = {json.loads(key)["private_key_id"]: public_pem(key)}
    make_store = lambda settings: BigQueryStore(DuckBigQuery(), PROJECT, settings.bigquery_dataset)  # noqa: E731
    with serve(google.route) as (url, _), gcp_doubles(monkeypatch, pg, make_store) as (settings, supabase, kms):
        adc = tmp_path / "adc.json"
        adc.write_text(json.dumps({**json.loads(key), "token_uri": f"{url}/token"}))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        supabase.seed_org("acmecorp", "Acme Corp")
        svc = connect(settings.model_copy(update=live_settings(url)))
        assert svc.backends["store"] == "bigquery" and svc.backends["validation"] == "live"
        svc.register_org("acmecorp", "Acme Corp")
        pending = svc.setup_keyless("acmecorp", TABLE)
        assert pending.validation_status == Status.PENDING and pending.error.code == "GCP_KEYLESS_NOT_GRANTED"
        assert svc.cache.get_org("acmecorp").status_of(Provider.GCP).status == Status.PENDING
        row = svc.store.get_active("acmecorp", Provider.GCP)
        assert row.credential_kind == CredentialKind.KEYLESS and row.key_ref.endswith("/cryptoKeyVersions/1")
        assert row.validation_error_code == "GCP_KEYLESS_NOT_GRANTED" and TABLE.encode() not in row.encrypted_credential
        google.grant_reader(principal, TABLE, ago=timedelta(minutes=5))
        assert svc.validate("acmecorp", "gcp").validation_status == Status.VALID
        assert svc.cache.get_org("acmecorp").status_of(Provider.GCP).status == Status.VALID
        kms.rotate()
        svc.cipher._primary = None
        assert svc.rewrap().rewrapped == 1  # the descriptor moves to the new key version like any credential
        report = svc.revalidate_many()
        assert report.outcomes == {"VALID": 1} and svc.reconcile().drifts == []
        assert {c.identity for c in google.calls if c.api in ("tables.get", "jobs.insert")} == {principal}
