"""migrations/supabase/*.sql on the frontend's organizations table in a real PostgreSQL: idempotent, and safe where
our columns already exist with legacy types and values."""

from __future__ import annotations

import psycopg
import pytest

from tests.doubles.pg_cluster import Cluster
from tests.doubles.postgrest import PostgrestDouble, postgrest

STATUS_COLUMNS = ["integration_openai_status", "integration_anthropic_status", "integration_gcp_status"]


@pytest.fixture
def bare(pg: Cluster):
    """The frontend's table as it is before our migration."""
    with postgrest(pg, migrate=False) as double:
        yield double


def columns(double: PostgrestDouble) -> dict[str, tuple[str, str, str | None]]:
    rows = double.sql(
        "select column_name, data_type, is_nullable, column_default from information_schema.columns "
        "where table_schema = 'public' and table_name = 'organizations' and column_name like 'integration_%'"
    )
    return {name: (kind, nullable, default) for name, kind, nullable, default in rows}


def checks(double: PostgrestDouble) -> list[str]:
    rows = double.sql(
        "select conname from pg_constraint where conrelid = 'public.organizations'::regclass and contype = 'c' "
        "order by conname"
    )
    return [r[0] for r in rows]


def test_runs_twice_and_adds_exactly_our_columns(bare: PostgrestDouble) -> None:
    bare.seed_org("acmecorp", "Acme Corp")
    bare.migrate()
    first = (columns(bare), checks(bare))
    bare.migrate()
    assert (columns(bare), checks(bare)) == first
    assert first[1] == sorted(f"{c}_check" for c in STATUS_COLUMNS)
    for provider in ("openai", "anthropic", "gcp"):
        assert first[0][f"integration_{provider}_status"] == ("text", "NO", "'NOT_CONFIGURED'::text")
        assert first[0][f"integration_{provider}_configured_at"][:2] == ("timestamp with time zone", "YES")
    assert bare.sql("select org_name, integration_gcp_status from organizations") == [("Acme Corp", "NOT_CONFIGURED")]
    frontend = bare.sql(
        "select count(*) from information_schema.columns where table_schema = 'public' "
        "and table_name = 'organizations' and column_name not like 'integration_%'"
    )
    assert frontend == [(4,)], "the frontend's own columns are untouched"
    assert bare.sql("select relrowsecurity from pg_class where oid = 'public.organizations'::regclass") == [(True,)]


def test_legacy_columns_are_normalised_not_rejected(bare: PostgrestDouble) -> None:
    bare.sql(
        "alter table organizations add column integration_openai_status varchar(32), "
        "add column integration_openai_configured_at text, "
        "add column integration_gcp_status text default 'pending', "
        "add constraint integration_openai_status_check check (integration_openai_status <> 'nope')"
    )
    legacy = {"a": ("valid", "2026-01-02T03:04:05Z"), "b": (" Invalid ", ""), "c": (None, None), "d": ("", None)}
    legacy |= {"e": ("ERROR", "2026-01-02 03:04:05+00"), "f": ("PENDING", None)}
    for slug, (status, at) in legacy.items():
        bare.seed_org(slug)
        bare.sql(
            "update organizations set integration_openai_status = %s, integration_openai_configured_at = %s "
            "where org_slug = %s",
            (status, at, slug),
        )
    bare.migrate()
    bare.migrate()
    got = dict(
        (slug, (status, at.isoformat() if at else None))
        for slug, status, at in bare.sql(
            "select org_slug, integration_openai_status, integration_openai_configured_at from organizations"
        )
    )
    assert got == {
        "a": ("VALID", "2026-01-02T03:04:05+00:00"),
        "b": ("INVALID", None),
        "c": ("NOT_CONFIGURED", None),
        "d": ("NOT_CONFIGURED", None),
        "e": ("PENDING", "2026-01-02T03:04:05+00:00"),  # unknown legacy value: reconcile rewrites it
        "f": ("PENDING", None),
    }
    assert {r[0] for r in bare.sql("select integration_gcp_status from organizations")} == {"PENDING"}
    assert columns(bare)["integration_openai_status"] == ("text", "NO", "'NOT_CONFIGURED'::text")
    assert columns(bare)["integration_openai_configured_at"][0] == "timestamp with time zone"
    with pytest.raises(psycopg.errors.CheckViolation):
        bare.sql("update organizations set integration_openai_status = 'nope' where org_slug = 'a'")


def test_a_legacy_value_that_cannot_be_converted_fails_the_whole_migration(bare: PostgrestDouble) -> None:
    bare.sql("alter table organizations add column integration_gcp_configured_at text")
    bare.seed_org("a")
    bare.sql("update organizations set integration_gcp_configured_at = 'yesterday-ish'")
    with pytest.raises(psycopg.errors.InvalidDatetimeFormat):
        bare.migrate()
    assert columns(bare) == {"integration_gcp_configured_at": ("text", "YES", None)}, "rolled back: nothing changed"


def test_sync_function_is_for_the_service_role_only(bare: PostgrestDouble) -> None:
    bare.migrate()
    grants = bare.sql(
        "select r.rolname from pg_roles r where has_function_privilege(r.oid, "
        "'public.integration_status_sync(jsonb)', 'execute') and r.rolname in ('anon', 'authenticated', 'service_role')"
    )
    assert grants == [("service_role",)]
