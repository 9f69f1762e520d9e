"""Issue 28, N16: a revoked org key stops working at once in a running API, whoever revoked it; the attempt
limiter's count is shared by every process on the same data (a restart or a second replica starts from it), in
the local SQLite cache and in Supabase."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationError, IntegrationService, connect
from integrations.api import create_app
from integrations.settings import Settings
from integrations.status_cache.supabase import SupabaseStatusCache
from pydantic import SecretStr

from tests.doubles.postgrest import SERVICE_KEY, postgrest
from tests.keys import openai_key
from tests.security.conftest import record

ORG = "acmecorp"
BASE = "/api/v1/integrations"


def _process(data_dir: Path, per_minute: int = 0) -> IntegrationService:
    """One process's service (an API replica, a restarted server, the CLI) on the shared data dir."""
    return connect(Settings(_env_file=None, data_dir=data_dir, attempts_per_minute=per_minute))


def test_a_key_revoked_by_another_process_stops_working_at_once_in_a_running_api(tmp_path: Path) -> None:
    api_process = _process(tmp_path / "data")
    key = api_process.register_org(ORG)
    api = TestClient(create_app(api_process))
    assert api.get(f"{BASE}/{ORG}", headers={"X-API-Key": key}).status_code == 200  # verified once

    _process(tmp_path / "data").revoke_org_keys(ORG)  # the operator's CLI, another process

    answer = api.get(f"{BASE}/{ORG}", headers={"X-API-Key": key})
    record("N16 requests a revoked key still served", int(answer.status_code == 200))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "ORG_API_KEY_INVALID"


def test_the_attempt_limit_holds_across_a_restart_and_a_second_replica(tmp_path: Path) -> None:
    first = _process(tmp_path / "data", per_minute=3)
    first.register_org(ORG)
    first.setup(ORG, "openai", openai_key(), skip_validation=True)  # counts as an attempt (format check)
    for _ in range(2):
        first.validate(ORG, "openai")
    allowed = 0
    for replica in (_process(tmp_path / "data", per_minute=3), _process(tmp_path / "data", per_minute=3)):
        try:  # a restarted server and a second replica: the org's 3 attempts of this minute are spent
            replica.validate(ORG, "openai")
            allowed += 1
        except IntegrationError as exc:
            assert exc.code == "TOO_MANY_ATTEMPTS" and 0 < exc.details["retry_after"] <= 61
    record("N16 checks past the limit allowed by a restart or a replica", allowed)
    assert allowed == 0


def test_supabase_counts_attempts_for_every_replica(pg: object, request: pytest.FixtureRequest) -> None:
    with postgrest(pg) as double:
        replicas = [SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY), timeout=5) for _ in range(2)]
        waits = [replicas[i % 2].count_attempt(ORG, 3, 60.0) for i in range(5)]
        assert waits[:3] == [None, None, None]
        assert all(w is not None and 0 < w <= 60 for w in waits[3:])
        assert replicas[0].count_attempt("globex", 3, 60.0) is None  # per org
        assert double.sql("select count(*) from integration_check_attempts where org_slug = 'acmecorp'") == [(3,)]
