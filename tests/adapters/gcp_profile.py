"""The gcp profile's settings pointing at the three cloud doubles, for tests that wire them together."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from integrations.settings import Settings
from integrations.store.bigquery import BigQueryStore

from tests.doubles.bigquery import PROJECT
from tests.doubles.kms import KEY, MAC_KEY_VERSION, kms_server
from tests.doubles.pg_cluster import Cluster
from tests.doubles.postgrest import SERVICE_KEY, PostgrestDouble, postgrest


@contextmanager
def gcp_doubles(
    monkeypatch: pytest.MonkeyPatch, pg: Cluster, make_store: Callable[[Settings], BigQueryStore]
) -> Iterator[tuple[Settings, PostgrestDouble, Any]]:
    """Supabase and KMS come from settings (their doubles); BigQuery's store is `make_store`'s, since its client is
    the one object that settings cannot point at a local endpoint. Yields the settings, Supabase's double and the
    KMS double's state."""
    with postgrest(pg) as supabase, kms_server() as (kms_address, kms_state):
        monkeypatch.setenv("SUPABASE_URL", supabase.url)
        monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
        monkeypatch.setattr("integrations.bootstrap.build_store", make_store)
        settings = Settings(
            _env_file=None,
            profile="gcp",
            validation="sandbox",
            gcp_project=PROJECT,
            kms_key=KEY,
            kms_mac_key_version=MAC_KEY_VERSION,
            kms_endpoint=kms_address,
        )
        yield settings, supabase, kms_state
