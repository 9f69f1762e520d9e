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
from tests.doubles.postgrest import SERVICE_KEY, PostgrestDouble, postgrest
from tests.fakes import InMemoryStatusCache

MAX_ROWS = 7  # the Supabase double caps every read at this many rows, as db-max-rows does


class StatusCacheContract:
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        raise NotImplementedError

    def seed(self, cache: StatusCache, org_slug: str, name: str | None = None) -> None:
        """The org's row as its owner creates it (the cache itself, or Supabase's frontend)."""
        cache.create_org(org_slug, name)

    @pytest.fixture
    def cache(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        cache = self.make(tmp_path, request)
        cache.init()
        cache.init()
        return cache

    def test_new_org_is_not_configured_everywhere(self, cache: StatusCache) -> None:
        self.seed(cache, "acmecorp", "Acme")
        row = cache.get_org("acmecorp")
        assert row is not None and row.name == "Acme"
        assert all(row.status_of(p).status == Status.NOT_CONFIGURED for p in Provider)
        assert cache.get_org("nobody") is None

    def test_create_is_idempotent_and_keeps_statuses(self, cache: StatusCache) -> None:
        self.seed(cache, "acmecorp", "Acme")
        cache.set_status("acmecorp", Provider.GCP, Status.VALID, T0)
        cache.create_org("acmecorp")
        row = cache.get_org("acmecorp")
        assert row.name == "Acme" and row.status_of(Provider.GCP).status == Status.VALID

    def test_create_unknown_org_inserts_only_where_the_rows_are_ours(self, cache: StatusCache) -> None:
        if cache.owns_org_rows:
            cache.create_org("newco", "New Co")
            assert cache.get_org("newco").name == "New Co"
        else:
            with pytest.raises(IntegrationError) as err:
                cache.create_org("newco", "New Co")
            assert err.value.code == "ORG_NOT_FOUND" and "frontend" in err.value.message
            assert cache.get_org("newco") is None

    def test_set_status_round_trips(self, cache: StatusCache) -> None:
        self.seed(cache, "acmecorp")
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
            self.seed(cache, slug)
        cache.set_many([("a-org", Provider.GCP, Status.PENDING, T0), ("b-org", Provider.ANTHROPIC, Status.VALID, T0)])
        rows = {r.org_slug: r for r in cache.all_orgs()}
        assert list(rows) == ["a-org", "b-org"]
        assert rows["a-org"].status_of(Provider.GCP).status == Status.PENDING
        assert rows["b-org"].status_of(Provider.ANTHROPIC).status == Status.VALID

    def test_set_many_with_an_unknown_org_names_it_and_writes_nothing(self, cache: StatusCache) -> None:
        self.seed(cache, "a-org")
        updates = [("a-org", Provider.GCP, Status.VALID, T0), ("ghost", Provider.GCP, Status.VALID, T0)]
        with pytest.raises(IntegrationError) as err:
            cache.set_many(updates)
        assert err.value.code == "ORG_NOT_FOUND" and "ghost" in err.value.message
        assert cache.get_org("a-org").status_of(Provider.GCP).status == Status.NOT_CONFIGURED
        assert cache.get_org("ghost") is None

    def test_set_many_several_providers_of_one_org_and_the_last_update_wins(self, cache: StatusCache) -> None:
        self.seed(cache, "a-org")
        cache.set_many(
            [
                ("a-org", Provider.GCP, Status.PENDING, None),
                ("a-org", Provider.OPENAI, Status.INVALID, T0),
                ("a-org", Provider.GCP, Status.VALID, T0),
            ]
        )
        row = cache.get_org("a-org")
        assert row.status_of(Provider.GCP).status == Status.VALID and row.status_of(Provider.GCP).configured_at == T0
        assert row.status_of(Provider.OPENAI).status == Status.INVALID
        assert row.status_of(Provider.ANTHROPIC).status == Status.NOT_CONFIGURED

    def test_reads_are_complete_past_the_servers_row_cap(self, cache: StatusCache) -> None:
        slugs = [f"org-{i:02d}" for i in range(3 * MAX_ROWS + 2)]
        for slug in reversed(slugs):
            self.seed(cache, slug, f"Name {slug}")
        cache.set_many([(s, Provider.ANTHROPIC, Status.VALID, T0) for s in slugs])
        orgs = cache.all_orgs()
        assert [o.org_slug for o in orgs] == slugs
        assert all(o.status_of(Provider.ANTHROPIC).status == Status.VALID for o in orgs)
        frame = cache.status_frame()
        assert len(frame) == len(slugs) * len(Provider)
        assert set(frame["org_name"]) == {f"Name {s}" for s in slugs}


class TestSqliteStatusCache(StatusCacheContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        return SqliteStatusCache(tmp_path / "status.sqlite")


class TestInMemoryStatusCache(StatusCacheContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        return InMemoryStatusCache()


class TestSupabaseStatusCache(StatusCacheContract):
    """The real supabase client against the PostgREST double on a real PostgreSQL (frontend table + migrations),
    with db-max-rows set low so that every multi-row read has to page."""

    double: PostgrestDouble

    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        server = postgrest(request.getfixturevalue("pg"), max_rows=MAX_ROWS)
        self.double = server.__enter__()
        request.addfinalizer(lambda: server.__exit__(None, None, None))
        return SupabaseStatusCache(self.double.url, SecretStr(SERVICE_KEY), timeout=2)

    def seed(self, cache: StatusCache, org_slug: str, name: str | None = None) -> None:
        self.double.seed_org(org_slug, name)
