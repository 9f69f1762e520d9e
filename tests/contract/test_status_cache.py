"""StatusCacheContract: every StatusCache adapter and fake behaves alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from integrations.domain import Provider, Status
from integrations.errors import IntegrationError
from integrations.status_cache.base import StatusCache
from integrations.status_cache.sqlite import SqliteStatusCache
from integrations.status_cache.supabase import SupabaseStatusCache
from pydantic import SecretStr

from tests.builders import T0
from tests.fakes import InMemoryStatusCache
from tests.postgrest_double import SERVICE_KEY, postgrest


class StatusCacheContract:
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        raise NotImplementedError

    @pytest.fixture
    def cache(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        cache = self.make(tmp_path, request)
        cache.init()
        cache.init()
        return cache

    def test_new_org_is_not_configured_everywhere(self, cache: StatusCache) -> None:
        cache.create_org("acmecorp", "Acme")
        row = cache.get_org("acmecorp")
        assert row is not None and row.name == "Acme"
        assert all(row.status_of(p).status == Status.NOT_CONFIGURED for p in Provider)
        assert cache.get_org("nobody") is None

    def test_create_is_idempotent_and_keeps_statuses(self, cache: StatusCache) -> None:
        cache.create_org("acmecorp", "Acme")
        cache.set_status("acmecorp", Provider.GCP, Status.VALID, T0)
        cache.create_org("acmecorp")
        row = cache.get_org("acmecorp")
        assert row.name == "Acme" and row.status_of(Provider.GCP).status == Status.VALID

    def test_set_status_round_trips(self, cache: StatusCache) -> None:
        cache.create_org("acmecorp")
        cache.set_status("acmecorp", Provider.OPENAI, Status.INVALID, T0)
        got = cache.get_org("acmecorp").status_of(Provider.OPENAI)
        assert (got.status, got.configured_at) == (Status.INVALID, T0)
        cache.set_status("acmecorp", Provider.OPENAI, Status.NOT_CONFIGURED, None)
        assert cache.get_org("acmecorp").status_of(Provider.OPENAI).configured_at is None

    def test_unknown_org_is_org_not_found(self, cache: StatusCache) -> None:
        with pytest.raises(IntegrationError) as err:
            cache.set_status("ghost", Provider.OPENAI, Status.VALID, T0)
        assert err.value.code == "ORG_NOT_FOUND"
        assert cache.get_org("ghost") is None

    def test_all_orgs_and_set_many(self, cache: StatusCache) -> None:
        for slug in ("b-org", "a-org"):
            cache.create_org(slug)
        cache.set_many([("a-org", Provider.GCP, Status.PENDING, T0), ("b-org", Provider.ANTHROPIC, Status.VALID, T0)])
        rows = {r.org_slug: r for r in cache.all_orgs()}
        assert list(rows) == ["a-org", "b-org"]
        assert rows["a-org"].status_of(Provider.GCP).status == Status.PENDING
        assert rows["b-org"].status_of(Provider.ANTHROPIC).status == Status.VALID


class TestSqliteStatusCache(StatusCacheContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        return SqliteStatusCache(tmp_path / "status.sqlite")


class TestInMemoryStatusCache(StatusCacheContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        return InMemoryStatusCache()


class TestSupabaseStatusCache(StatusCacheContract):
    """The real supabase client against a local PostgREST double."""

    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        server = postgrest()
        url, _ = server.__enter__()
        request.addfinalizer(lambda: server.__exit__(None, None, None))
        return SupabaseStatusCache(url, SecretStr(SERVICE_KEY), timeout=2)
