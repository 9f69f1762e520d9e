"""The Supabase adapter under faults: every failure is bounded and retryable (STATUS_SYNC_FAILED for writes,
STATUS_CACHE_READ_FAILED for reads)."""

from __future__ import annotations

import time

import pytest
from integrations.domain import Provider, Status
from integrations.errors import IntegrationError
from integrations.status_cache.supabase import SupabaseStatusCache
from pydantic import SecretStr

from tests.doubles.pg_cluster import Cluster
from tests.doubles.postgrest import SERVICE_KEY, Faults, postgrest
from tests.servers import refused_url


def expect_sync_failed(cache: SupabaseStatusCache) -> IntegrationError:
    with pytest.raises(IntegrationError) as err:
        cache.set_status("acme", Provider.OPENAI, Status.VALID, None)
    assert err.value.code == "STATUS_SYNC_FAILED" and err.value.retryable
    assert SERVICE_KEY not in str(err.value)
    return err.value


def test_server_error(pg: Cluster) -> None:
    with postgrest(pg, Faults(status=500)) as double:
        cache = SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY))
        assert "XX000" in expect_sync_failed(cache).message
        with pytest.raises(IntegrationError) as err:
            cache.all_orgs()
        assert err.value.code == "STATUS_CACHE_READ_FAILED" and err.value.retryable


def test_connection_refused() -> None:
    assert (
        "could not be reached" in expect_sync_failed(SupabaseStatusCache(refused_url(), SecretStr(SERVICE_KEY))).message
    )


def test_hang_is_bounded_by_the_timeout(pg: Cluster) -> None:
    with postgrest(pg, Faults(hang_s=3)) as double:
        url, faults = double.url, double.faults
        started = time.monotonic()
        expect_sync_failed(SupabaseStatusCache(url, SecretStr(SERVICE_KEY), timeout=0.5))  # raised to the 1 s minimum
        assert time.monotonic() - started < 2.5
        assert faults.requests == 1, "no retries"


def test_wrong_service_key_is_refused(pg: Cluster) -> None:
    with postgrest(pg) as double:
        assert "Invalid API key" in expect_sync_failed(SupabaseStatusCache(double.url, SecretStr("wrong"))).message


def test_reads_page_past_the_servers_cap_one_request_per_page(pg: Cluster) -> None:
    with postgrest(pg, max_rows=10) as double:
        cache = SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY))
        for i in range(25):
            double.seed_org(f"org-{i:02d}")
        before = double.faults.requests
        orgs = cache.all_orgs()
        assert [o.org_slug for o in orgs] == [f"org-{i:02d}" for i in range(25)]
        assert double.faults.requests - before == 3


def test_bulk_sync_is_one_rpc_per_batch_and_never_inserts(pg: Cluster) -> None:
    with postgrest(pg) as double:
        cache = SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY))
        slugs = [f"org-{i:04d}" for i in range(1200)]
        double.seed_orgs(slugs)
        before = len(double.faults.calls)
        cache.set_many([(s, Provider.GCP, Status.VALID, None) for s in slugs])
        assert double.faults.calls[before:] == [("POST", "/rest/v1/rpc/integration_status_sync")] * 3
        assert double.sql("select count(*) from organizations where integration_gcp_status = 'VALID'") == [(1200,)]
        with pytest.raises(IntegrationError) as err:
            cache.set_many(
                [("org-0001", Provider.OPENAI, Status.VALID, None), ("ghost", Provider.OPENAI, Status.VALID, None)]
            )
        assert err.value.code == "ORG_NOT_FOUND" and "ghost" in err.value.message
        assert double.sql("select count(*) from organizations") == [(1200,)]
        assert double.sql("select count(*) from organizations where integration_openai_status <> 'NOT_CONFIGURED'") == [
            (0,)
        ]


def test_missing_migration_is_named_by_init(pg: Cluster) -> None:
    with postgrest(pg, migrate=False) as double:
        with pytest.raises(IntegrationError) as err:
            SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY)).init()
        assert err.value.code == "STATUS_CACHE_READ_FAILED" and "42703" in err.value.message
        assert "migrations/supabase" in err.value.message
