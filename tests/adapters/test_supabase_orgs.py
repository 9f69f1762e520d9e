"""With the Supabase status cache (the gcp profile's), org rows are the frontend's: register_org only checks the
row exists, nothing ever inserts into it, and the REST API keeps answering from the store while Supabase is down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationError, IntegrationService, Provider, Status
from integrations.api import create_app
from integrations.bootstrap import build_validators
from integrations.settings import Settings
from integrations.status_cache.supabase import SupabaseStatusCache
from pydantic import SecretStr

from tests.doubles.pg_cluster import Cluster
from tests.doubles.postgrest import SERVICE_KEY, PostgrestDouble, postgrest
from tests.fakes import InMemoryCipher, InMemoryStore
from tests.keys import OPENAI_OK

BASE = "/api/v1/integrations"


@pytest.fixture
def supabase(pg: Cluster) -> Iterator[tuple[IntegrationService, PostgrestDouble]]:
    with postgrest(pg) as double:
        double.seed_org("acmecorp", "Acme Corp (frontend)")
        cache = SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY), timeout=2)
        validators = build_validators(Settings(_env_file=None))
        yield IntegrationService(InMemoryStore(), InMemoryCipher(), cache, validators, attempts_per_minute=1000), double


def test_register_org_never_inserts(supabase) -> None:
    svc, double = supabase
    with pytest.raises(IntegrationError) as err:
        svc.register_org("newco", name="New Co")
    assert err.value.code == "ORG_NOT_FOUND" and err.value.http_status == 404
    assert "frontend" in err.value.message and err.value.entry.fixes
    assert svc.store.api_keys("newco") == [], "no key for an org the frontend does not know"
    assert svc.register_org("acmecorp", name="Renamed").startswith("acmecorp_api_")
    svc.setup("acmecorp", "openai", OPENAI_OK)
    svc.validate("acmecorp", "openai")
    svc.delete("acmecorp", "openai")
    svc.reconcile()
    assert double.sql("select org_slug, org_name from organizations") == [("acmecorp", "Acme Corp (frontend)")]
    writes = {(m, p) for m, p in double.faults.calls if m != "GET"}
    ours = {("POST", "/rest/v1/rpc/integration_check_attempt")}  # the attempt limiter's own table (migration 004)
    assert writes <= {("PATCH", "/rest/v1/organizations"), ("POST", "/rest/v1/rpc/integration_status_sync")} | ours


def test_reconcile_reports_an_org_the_frontend_has_no_row_for(supabase) -> None:
    svc, double = supabase
    svc.register_org("acmecorp")
    double.seed_org("gone")
    svc.register_org("gone")
    svc.setup("gone", "openai", OPENAI_OK)
    svc.setup("acmecorp", "openai", OPENAI_OK)
    double.sql("delete from organizations where org_slug = 'gone'")  # the frontend removed it
    svc.cache.set_status("acmecorp", Provider.OPENAI, Status.INVALID, None)
    report = svc.reconcile()
    assert (report.fixed, len(report.drifts)) == (1, 4)
    assert len(report.warnings) == 1 and report.warnings[0].startswith("gone: not fixed")
    assert svc.cache.get_org("acmecorp").status_of(Provider.OPENAI).status == Status.VALID
    assert double.sql("select count(*) from organizations") == [(1,)]


def test_rest_reads_keep_working_while_supabase_is_down(supabase) -> None:
    svc, double = supabase
    key = svc.register_org("acmecorp")
    svc.setup("acmecorp", "openai", OPENAI_OK)
    client = TestClient(create_app(svc))
    headers = {"X-API-Key": key}
    assert client.get(f"{BASE}/acmecorp", headers=headers).json()["warnings"] == []
    double.faults.status = 503
    response = client.get(f"{BASE}/acmecorp", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["integrations"]["OPENAI"]["status"] == "VALID" and body["providers_configured"]
    assert body["warnings"][0].startswith("STATUS_CACHE_READ_FAILED") and SERVICE_KEY not in response.text
    assert client.get(f"{BASE}/acmecorp/openai", headers=headers).json()["status"] == "VALID"
    assert client.get(f"{BASE}/ghost", headers=headers).status_code == 403, "another org's key, not a 503"
    assert client.get("/readyz").status_code == 503
    with pytest.raises(IntegrationError) as err:
        svc.get_all("ghost")
    assert err.value.code == "ORG_NOT_FOUND"
