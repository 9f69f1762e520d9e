"""The BigQuery store and the Supabase cache read the overview's frames directly (one query, no models); on
their wire doubles they must equal the port defaults built from records and org rows."""

from __future__ import annotations

import pandas as pd
from integrations import IntegrationService, Provider, Status
from integrations.crypto.local import LocalKeyring
from integrations.overview import orgs_frame, overview_frame, records_frame
from integrations.providers import build_validators
from integrations.settings import Settings
from integrations.status_cache.supabase import SupabaseStatusCache
from integrations.store.bigquery import BigQueryStore
from pydantic import SecretStr

from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.doubles.pg_cluster import Cluster
from tests.doubles.postgrest import SERVICE_KEY, postgrest
from tests.keys import ANTHROPIC_OK, anthropic_key, openai_key


def test_cloud_frames_equal_the_port_defaults(tmp_path, pg: Cluster) -> None:
    with postgrest(pg, max_rows=4) as double:
        url = double.url
        double.seed_org("a-org", "A")
        double.seed_org("b-org")
        store = BigQueryStore(DuckBigQuery(), PROJECT)
        store.init()
        cache = SupabaseStatusCache(url, SecretStr(SERVICE_KEY))
        settings = Settings(_env_file=None, data_dir=tmp_path)
        svc = IntegrationService(
            store, LocalKeyring(tmp_path / "k"), cache, build_validators(settings), attempts_per_minute=0
        )
        svc.register_org("a-org", name="A")
        svc.register_org("b-org")
        svc.setup("a-org", "anthropic", ANTHROPIC_OK, credential_name="Claude")
        svc.setup("a-org", "openai", openai_key("revoked"), skip_validation=True)
        svc.validate("a-org", "openai")
        svc.setup("b-org", "anthropic", anthropic_key(), skip_validation=True)
        svc.cache.set_status("b-org", Provider.GCP, Status.VALID, None)
        fast = overview_frame(store.active_frame(), cache.status_frame())
        slow = overview_frame(records_frame(store.list_credentials()), orgs_frame(cache.all_orgs()))
    keep = [c for c in fast.columns if c != "validation_age_days"]
    pd.testing.assert_frame_equal(fast[keep], slow[keep], check_dtype=False)
    by = fast.set_index(["org_slug", "provider"])
    assert by.loc[("a-org", "OPENAI")].status == "INVALID" and by.loc[("a-org", "OPENAI")].error_code
    assert bool(by.loc[("b-org", "GCP")].drift) and by.loc[("a-org", "ANTHROPIC")].has_ciphertext
    assert len(fast) == 6 and by.loc[("a-org", "OPENAI")].org_name == "A"
