"""The Supabase adapter under faults: every failure is a bounded, retryable STATUS_SYNC_FAILED."""

from __future__ import annotations

import time

import pytest
from integrations.domain import Provider, Status
from integrations.errors import IntegrationError
from integrations.status_cache.supabase import SupabaseStatusCache
from pydantic import SecretStr

from tests.postgrest_double import SERVICE_KEY, Faults, postgrest
from tests.servers import refused_url


def expect_sync_failed(cache: SupabaseStatusCache) -> IntegrationError:
    with pytest.raises(IntegrationError) as err:
        cache.set_status("acme", Provider.OPENAI, Status.VALID, None)
    assert err.value.code == "STATUS_SYNC_FAILED" and err.value.retryable
    assert SERVICE_KEY not in str(err.value)
    return err.value


def test_server_error() -> None:
    with postgrest(Faults(status=500)) as (url, _):
        assert "XX000" in expect_sync_failed(SupabaseStatusCache(url, SecretStr(SERVICE_KEY))).message


def test_connection_refused() -> None:
    assert (
        "could not be reached" in expect_sync_failed(SupabaseStatusCache(refused_url(), SecretStr(SERVICE_KEY))).message
    )


def test_hang_is_bounded_by_the_timeout() -> None:
    with postgrest(Faults(hang_s=3)) as (url, faults):
        started = time.monotonic()
        expect_sync_failed(SupabaseStatusCache(url, SecretStr(SERVICE_KEY), timeout=0.5))  # raised to the 1 s minimum
        assert time.monotonic() - started < 2.5
        assert faults.requests == 1, "no retries"


def test_wrong_service_key_is_refused() -> None:
    with postgrest() as (url, _):
        assert "Invalid API key" in expect_sync_failed(SupabaseStatusCache(url, SecretStr("wrong"))).message


def test_bulk_read_is_paged(monkeypatch: pytest.MonkeyPatch) -> None:
    import integrations.status_cache.supabase as module

    monkeypatch.setattr(module, "PAGE", 10)
    with postgrest() as (url, faults):
        cache = SupabaseStatusCache(url, SecretStr(SERVICE_KEY))
        for i in range(25):
            cache.create_org(f"org-{i:02d}")
        before = faults.requests
        orgs = cache.all_orgs()
        assert [o.org_slug for o in orgs] == [f"org-{i:02d}" for i in range(25)]
        assert faults.requests - before == 3
