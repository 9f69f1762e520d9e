"""The three cloud adapters wired together on their doubles, through connect() and the service."""

from __future__ import annotations

import pytest
from integrations import IntegrationError, Provider, Status, connect
from integrations.settings import Settings
from integrations.store.bigquery import BigQueryStore

from tests.adapters.gcp_profile import gcp_doubles
from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.doubles.kms import KEY, MAC_KEY_VERSION, kms_server
from tests.doubles.pg_cluster import Cluster
from tests.keys import OPENAI_OK, openai_key, service_account_json


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, pg: Cluster):
    """connect() in the gcp profile: Supabase and KMS from settings (their doubles); BigQuery's client is the
    DuckDB double, the one object that cannot be pointed at a local endpoint by settings."""
    make_store = lambda settings: BigQueryStore(DuckBigQuery(), PROJECT, settings.bigquery_dataset)  # noqa: E731
    with gcp_doubles(monkeypatch, pg, make_store) as (settings, supabase, kms_state):
        supabase.seed_org("acmecorp", "Acme Corp")  # the frontend's onboarding
        yield connect(settings), kms_state


def test_lifecycle_on_all_three_cloud_doubles(cloud) -> None:
    svc, kms_state = cloud
    assert svc.backends == {
        "profile": "gcp",
        "store": "bigquery",
        "cipher": "kms",
        "status_cache": "supabase",
        "validation": "sandbox",
    }
    svc.register_org("acmecorp", "Acme Corp")
    first = svc.setup("acmecorp", "openai", OPENAI_OK, credential_name="Prod", actor="ops")
    assert first.validation_status == Status.VALID
    assert svc.cache.get_org("acmecorp").status_of(Provider.OPENAI).status == Status.VALID
    row = svc.store.get_active("acmecorp", Provider.OPENAI)
    assert row.key_ref.endswith("/cryptoKeyVersions/1") and OPENAI_OK.encode() not in row.encrypted_credential
    assert svc.validate("acmecorp", "openai").success
    svc.setup("acmecorp", "gcp", service_account_json("sa@p.iam.gserviceaccount.com"))
    second = svc.setup("acmecorp", "openai", openai_key(), actor="ops")  # rotate
    assert second.rotated_credential_id == first.credential_id
    kms_state.rotate()
    svc.cipher._primary = None
    assert svc.rewrap().rewrapped == 2
    assert all(svc.validate("acmecorp", p).success for p in ("openai", "gcp"))
    assert svc.delete("acmecorp", "openai").success
    assert svc.cache.get_org("acmecorp").status_of(Provider.OPENAI).status == Status.NOT_CONFIGURED
    assert svc.reconcile().drifts == []
    assert [e.action.value for e in svc.store.events("acmecorp")][:2] == ["DELETE", "VALIDATE"]


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"profile": "gcp"}, "INTEGRATIONS_GCP_PROJECT"),
        ({"cipher": "kms"}, "INTEGRATIONS_KMS_KEY, INTEGRATIONS_KMS_MAC_KEY_VERSION"),
        ({"status_cache": "supabase"}, "SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY"),
    ],
)
def test_missing_cloud_settings_are_named(tmp_path, monkeypatch, overrides: dict, missing: str) -> None:
    for var in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(IntegrationError) as err:
        connect(Settings(_env_file=None, data_dir=tmp_path, **overrides))
    assert err.value.code == "CONFIGURATION_ERROR" and missing in err.value.message


def test_unknown_backend_lists_the_valid_ones(tmp_path) -> None:
    with pytest.raises(IntegrationError) as err:
        connect(Settings(_env_file=None, data_dir=tmp_path, store="postgres"))
    assert "sqlite, bigquery" in err.value.message


def test_one_cloud_adapter_alone(tmp_path) -> None:
    with kms_server() as (address, _):
        svc = connect(
            Settings(
                _env_file=None,
                data_dir=tmp_path,
                cipher="kms",
                kms_key=KEY,
                kms_mac_key_version=MAC_KEY_VERSION,
                kms_endpoint=address,
            )
        )
        svc.register_org("acmecorp")
        assert svc.setup("acmecorp", "openai", OPENAI_OK).success
        assert svc.backends["store"] == "sqlite" and svc.backends["cipher"] == "kms"
        row = svc.store.get_active("acmecorp", Provider.OPENAI)
        assert row.key_ref.startswith(KEY) and svc.validate("acmecorp", "openai").success
