"""The PostgREST double refuses what PostgREST + PostgreSQL refuse, with PostgREST's error JSON and statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from postgrest.exceptions import APIError
from postgrest.types import CountMethod
from supabase import ClientOptions, create_client

from tests.doubles.pg_cluster import Cluster
from tests.doubles.postgrest import ANON_KEY, SERVICE_KEY, PostgrestDouble, postgrest


@pytest.fixture
def double(pg: Cluster) -> Iterator[PostgrestDouble]:
    with postgrest(pg, max_rows=3) as served:
        for i in range(5):
            served.seed_org(f"org-{i}", f"Org {i}")
        yield served


def table(double: PostgrestDouble, key: str = SERVICE_KEY) -> Any:
    options = ClientOptions(postgrest_client_timeout=5, postgrest_client_retry=False)
    return create_client(double.url, key, options).table("organizations")


def refused(query: Any) -> APIError:
    with pytest.raises(APIError) as err:
        query.execute()
    return err.value


def raw(double: PostgrestDouble, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"apikey": SERVICE_KEY, "Authorization": f"Bearer {SERVICE_KEY}"} | kwargs.pop("headers", {})
    return httpx.request(method, f"{double.url}/rest/v1/{path}", headers=headers, timeout=5, **kwargs)


def test_insert_without_org_name_is_a_not_null_violation(double: PostgrestDouble) -> None:
    err = refused(table(double).insert({"org_slug": "newco", "id": "00000000-0000-0000-0000-000000000001"}))
    assert err.code == "23502" and "org_name" in err.message
    response = raw(double, "POST", "organizations", json={"org_slug": "newco"})
    assert response.status_code == 400 and set(response.json()) == {"code", "message", "details", "hint"}


def test_upsert_of_a_status_row_is_refused_too(double: PostgrestDouble) -> None:
    """What the old adapter did: an upsert carrying only org_slug and a status fails on the frontend's table."""
    err = refused(
        table(double).upsert({"org_slug": "org-1", "integration_gcp_status": "VALID"}, on_conflict="org_slug")
    )
    assert err.code == "23502"


def test_unknown_columns(double: PostgrestDouble) -> None:
    assert refused(table(double).select("org_slug,name")).code == "42703"
    assert raw(double, "GET", "organizations?select=name").status_code == 400
    err = refused(table(double).update({"name": "x"}).eq("org_slug", "org-1"))
    assert err.code == "PGRST204" and "'name'" in err.message


def test_check_violation_is_400_23514(double: PostgrestDouble) -> None:
    response = raw(double, "PATCH", "organizations?org_slug=eq.org-1", json={"integration_gcp_status": "GREAT"})
    assert response.status_code == 400 and response.json()["code"] == "23514"


def test_update_without_a_filter_is_refused(double: PostgrestDouble) -> None:
    response = raw(double, "PATCH", "organizations", json={"integration_gcp_status": "VALID"})
    assert response.status_code == 400 and response.json()["code"] == "21000"


def test_update_matching_no_row_answers_an_empty_list(double: PostgrestDouble) -> None:
    assert table(double).update({"integration_gcp_status": "VALID"}).eq("org_slug", "ghost").execute().data == []


def test_reads_are_capped_at_max_rows_with_content_range(double: PostgrestDouble) -> None:
    response = raw(double, "GET", "organizations?select=org_slug&order=org_slug", headers={"Prefer": "count=exact"})
    assert response.status_code == 206 and response.headers["content-range"] == "0-2/5"
    assert [r["org_slug"] for r in response.json()] == ["org-0", "org-1", "org-2"]
    response = raw(double, "GET", "organizations?select=org_slug&order=org_slug&offset=3&limit=10")
    assert response.status_code == 200 and response.headers["content-range"] == "3-4/*"
    got = table(double).select("org_slug", count=CountMethod.exact).order("org_slug").range(0, 99).execute()
    assert len(got.data) == 3 and got.count == 5, "the client gets 3 rows and the total: it must page"


def test_offset_past_the_end_is_416(double: PostgrestDouble) -> None:
    response = raw(double, "GET", "organizations?offset=9", headers={"Prefer": "count=exact"})
    assert response.status_code == 416 and response.json()["code"] == "PGRST103"


def test_row_level_security_hides_rows_from_the_anon_key(double: PostgrestDouble) -> None:
    assert table(double, ANON_KEY).select("org_slug").execute().data == []
    assert (
        table(double, ANON_KEY).update({"integration_gcp_status": "VALID"}).eq("org_slug", "org-1").execute().data == []
    )
    assert double.sql("select integration_gcp_status from organizations where org_slug = 'org-1'") == [
        ("NOT_CONFIGURED",)
    ]
    response = raw(double, "POST", "rpc/integration_status_sync", json={"updates": []}, headers={"apikey": ANON_KEY})
    assert response.status_code == 401 and response.json()["code"] == "42501"


def test_unknown_table_function_key_and_filter(double: PostgrestDouble) -> None:
    assert raw(double, "GET", "orgs").json()["code"] == "PGRST205"
    response = raw(double, "POST", "rpc/nope", json={})
    assert response.status_code == 404 and response.json()["code"] == "PGRST202"
    assert raw(double, "GET", "organizations", headers={"apikey": "wrong"}).status_code == 401
    response = raw(double, "GET", "organizations?org_slug=org-1")
    assert response.status_code == 400 and response.json()["code"] == "PGRST100"
