"""StatusCacheContract: every StatusCache adapter and fake behaves alike, the port's optional methods (set_many,
the status frame, paged reads, ping) included; the real backends also agree on a table missing our columns and on
being out of reach."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from integrations.domain import Provider, Status
from integrations.errors import IntegrationError
from integrations.overview import CACHED_COLUMNS, orgs_frame, utc
from integrations.status_cache.base import StatusCache, configured_column, status_column
from integrations.status_cache.sqlite import SqliteStatusCache
from integrations.status_cache.supabase import SupabaseStatusCache
from pydantic import SecretStr

from tests.builders import T0
from tests.doubles.postgrest import SERVICE_KEY, PostgrestDouble, postgrest
from tests.fakes import InMemoryStatusCache
from tests.servers import refused_url

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

    def test_create_orgs_inserts_missing_rows_and_keeps_existing_ones(self, cache: StatusCache) -> None:
        self.seed(cache, "acmecorp", "Acme")
        cache.set_status("acmecorp", Provider.GCP, Status.VALID, T0)
        if cache.owns_org_rows:
            cache.create_orgs(["acmecorp", "newco", "initech"])
            assert [o.org_slug for o in cache.all_orgs()] == ["acmecorp", "initech", "newco"]
            assert cache.get_org("newco").status_of(Provider.OPENAI).status == Status.NOT_CONFIGURED
        else:
            with pytest.raises(IntegrationError) as err:
                cache.create_orgs(["acmecorp", "newco"])
            assert err.value.code == "ORG_NOT_FOUND" and cache.get_org("newco") is None
        row = cache.get_org("acmecorp")
        assert row.name == "Acme" and row.status_of(Provider.GCP).status == Status.VALID

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

    @pytest.mark.parametrize("batch", [False, True], ids=["one", "batch"])
    def test_set_checked_writes_only_rows_that_still_show_the_checked_credential(
        self, cache: StatusCache, batch: bool
    ) -> None:
        for slug in ("a-org", "b-org"):
            self.seed(cache, slug)
        T1 = T0 + pd.Timedelta(minutes=1)  # noqa: N806
        cache.set_many([("a-org", Provider.OPENAI, Status.PENDING, T0), ("b-org", Provider.OPENAI, Status.PENDING, T1)])
        # b-org's credential was replaced (configured T1) or deleted after the check of the one configured at T0
        updates = [("a-org", Provider.OPENAI, Status.VALID, T0), ("b-org", Provider.OPENAI, Status.INVALID, T0)]
        cache.set_checked(updates if batch else updates[:1])
        if not batch:
            cache.set_checked(updates[1:])
        a, b = (cache.get_org(s).status_of(Provider.OPENAI) for s in ("a-org", "b-org"))
        assert (a.status, a.configured_at) == (Status.VALID, T0)
        assert (b.status, b.configured_at) == (Status.PENDING, T1)
        cache.set_status("b-org", Provider.OPENAI, Status.NOT_CONFIGURED, None)  # deleted
        cache.set_checked([("b-org", Provider.OPENAI, Status.VALID, T1)])
        assert cache.get_org("b-org").status_of(Provider.OPENAI).status == Status.NOT_CONFIGURED
        with pytest.raises(IntegrationError) as err:
            cache.set_checked([("ghost", Provider.OPENAI, Status.VALID, T0)] * (2 if batch else 1))
        assert err.value.code == "ORG_NOT_FOUND" and "ghost" in err.value.message

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

    def test_status_frame_equals_the_org_rows_it_is_read_from(self, cache: StatusCache) -> None:
        for slug, name in (("b-org", "B"), ("a-org", "A"), ("c-org", "C")):
            self.seed(cache, slug, name)
        cache.set_many([("a-org", Provider.GCP, Status.VALID, T0), ("c-org", Provider.OPENAI, Status.INVALID, None)])
        frame = cache.status_frame()
        assert list(frame.columns) == CACHED_COLUMNS

        def norm(f):
            f = f.assign(cached_configured_at=utc(f.cached_configured_at))
            return f.sort_values(["org_slug", "provider"]).reset_index(drop=True)

        pd.testing.assert_frame_equal(norm(frame), norm(orgs_frame(cache.all_orgs())), check_dtype=False)
        by = norm(frame).set_index(["org_slug", "provider"])
        assert by.loc[("a-org", "GCP")].cached_status == "VALID" and by.loc[("a-org", "GCP")].cached_configured_at == T0
        assert by.loc[("b-org", "ANTHROPIC")].cached_status == "NOT_CONFIGURED"
        assert by.loc[("b-org", "GCP")].org_name == "B" and pd.isna(by.loc[("c-org", "OPENAI")].cached_configured_at)

    def test_status_frame_of_an_empty_cache(self, cache: StatusCache) -> None:
        frame = cache.status_frame()
        assert list(frame.columns) == CACHED_COLUMNS and frame.empty

    def test_set_many_of_nothing_writes_nothing(self, cache: StatusCache) -> None:
        self.seed(cache, "a-org")
        cache.set_many([])
        assert all(s.status == Status.NOT_CONFIGURED for s in cache.get_org("a-org").statuses.values())

    def test_set_many_of_one_unknown_org_names_it(self, cache: StatusCache) -> None:
        with pytest.raises(IntegrationError) as err:
            cache.set_many([("ghost", Provider.OPENAI, Status.VALID, T0)])
        assert err.value.code == "ORG_NOT_FOUND" and "ghost" in err.value.message

    def test_set_many_names_an_unknown_org_wherever_it_is_in_the_batch(self, cache: StatusCache) -> None:
        for slug in ("a-org", "b-org"):
            self.seed(cache, slug)
        updates = [("a-org", Provider.OPENAI, Status.VALID, T0), ("b-org", Provider.GCP, Status.VALID, T0)]
        for at in (0, 1, 2):
            batch = [*updates[:at], ("ghost", Provider.ANTHROPIC, Status.VALID, T0), *updates[at:]]
            with pytest.raises(IntegrationError) as err:
                cache.set_many(batch)
            assert err.value.code == "ORG_NOT_FOUND" and "ghost" in err.value.message
        rows = [cache.get_org(slug) for slug in ("a-org", "b-org")]
        assert [r.status_of(p).status for r in rows for p in Provider] == [Status.NOT_CONFIGURED] * 6

    def test_ping_reads_and_writes_nothing(self, cache: StatusCache) -> None:
        self.seed(cache, "a-org")
        before = cache.get_org("a-org")
        cache.ping()
        assert cache.get_org("ping-probe") is None and cache.get_org("a-org") == before


class BackendContract:
    """What only real backends have: a table that can lack our columns, a server or a file out of reach."""

    def drop_status_columns(self, cache: StatusCache, provider: Provider) -> None:
        raise NotImplementedError

    def unreachable(self, tmp_path: Path) -> StatusCache:
        raise NotImplementedError

    def test_a_table_missing_a_providers_columns_is_repaired_or_named(self, cache: StatusCache) -> None:
        """A table from before a provider was added (or before the migration): a cache that owns the table adds
        the columns in init; one that does not refuses with the migration to apply; neither crashes or guesses."""
        self.seed(cache, "a-org")  # type: ignore[attr-defined]
        self.drop_status_columns(cache, Provider.GCP)
        if cache.owns_org_rows:
            cache.init()
            assert cache.get_org("a-org").status_of(Provider.GCP).status == Status.NOT_CONFIGURED
            cache.set_status("a-org", Provider.GCP, Status.VALID, T0)
            assert cache.get_org("a-org").status_of(Provider.GCP).configured_at == T0
            return
        with pytest.raises(IntegrationError) as err:
            cache.init()
        assert err.value.code == "STATUS_CACHE_READ_FAILED" and "migrations" in err.value.message
        for call, code in (
            (lambda: cache.get_org("a-org"), "STATUS_CACHE_READ_FAILED"),
            (cache.all_orgs, "STATUS_CACHE_READ_FAILED"),
            (cache.status_frame, "STATUS_CACHE_READ_FAILED"),
            (lambda: cache.set_status("a-org", Provider.GCP, Status.VALID, T0), "STATUS_SYNC_FAILED"),
        ):
            with pytest.raises(IntegrationError) as err:
                call()
            assert err.value.code == code

    def test_an_unreachable_cache_fails_with_the_caches_codes(self, tmp_path: Path) -> None:
        cache = self.unreachable(tmp_path)
        for call, code in (
            (cache.ping, "STATUS_CACHE_READ_FAILED"),
            (cache.all_orgs, "STATUS_CACHE_READ_FAILED"),
            (lambda: cache.set_many([("a-org", Provider.GCP, Status.VALID, T0)]), "STATUS_SYNC_FAILED"),
        ):
            with pytest.raises(IntegrationError) as err:
                call()
            assert err.value.code == code


class TestSqliteStatusCache(StatusCacheContract, BackendContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        return SqliteStatusCache(tmp_path / "status.sqlite")

    def drop_status_columns(self, cache: StatusCache, provider: Provider) -> None:
        with sqlite3.connect(cache.path) as conn:  # type: ignore[attr-defined]
            for column in (status_column(provider), configured_column(provider)):
                conn.execute(f"ALTER TABLE organizations DROP COLUMN {column}")

    def unreachable(self, tmp_path: Path) -> StatusCache:
        (tmp_path / "a-directory").mkdir(mode=0o700)  # where the file should be: SQLite cannot open it
        return SqliteStatusCache(tmp_path / "a-directory")


class TestInMemoryStatusCache(StatusCacheContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:
        return InMemoryStatusCache()


class TestSupabaseStatusCache(StatusCacheContract, BackendContract):
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

    def drop_status_columns(self, cache: StatusCache, provider: Provider) -> None:
        for column in (status_column(provider), configured_column(provider)):
            self.double.sql(f"ALTER TABLE organizations DROP COLUMN {column} CASCADE")

    def unreachable(self, tmp_path: Path) -> StatusCache:
        return SupabaseStatusCache(refused_url(), SecretStr(SERVICE_KEY), timeout=1)
