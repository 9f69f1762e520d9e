"""Issue 23: tasks stage as they go and select their share in SQL; finalize waits for the run's tasks, streams,
and a status cache that is down costs a bounded number of BigQuery jobs (the alert still goes; a retry re-syncs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from integrations import IntegrationService
from integrations.bootstrap import build_validators
from integrations.domain import Action, CheckResult, Outcome, Provider, Status, StoredCredential, make_event
from integrations.errors import IntegrationError
from integrations.fingerprint import task_of
from integrations.settings import Settings
from integrations.store.base import IntegrationStore
from integrations.store.bigquery import BigQueryStore
from integrations.store.sqlite import SqliteStore
from integrations.taskspec import TaskLimits, TaskSpec
from integrations.usecases import runs
from integrations.usecases.checks import Assessment
from integrations.verdict import Verdict

from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.fakes import InMemoryCipher, InMemoryStatusCache
from tests.keys import OPENAI_OK
from tests.servers import Reply, serve


def _svc(
    store: IntegrationStore, orgs: int, cache: InMemoryStatusCache | None = None, **settings: object
) -> IntegrationService:
    store.init()
    conf = Settings(_env_file=None, **settings)  # type: ignore[arg-type]
    svc = IntegrationService(
        store,
        InMemoryCipher(),
        cache or InMemoryStatusCache(),
        build_validators(conf),
        attempts_per_minute=0,
        settings=conf,
    )
    for i in range(orgs):
        svc.register_org(f"org-{i:03d}")
        svc.setup(f"org-{i:03d}", Provider.OPENAI, OPENAI_OK, skip_validation=True)
    return svc


class Killed(Exception):
    """The task's process dies here (Cloud Run stops it, or it runs out of memory)."""


def _assess_dying_after(n: int | None, seen: list[str]):
    """A check (no provider: only the staging is under test) that dies on its (n+1)-th call."""

    def assess(record: StoredCredential, actor: str) -> Assessment:
        if n is not None and len(seen) >= n:
            raise Killed
        seen.append(record.credential_id)
        event = make_event(
            record.org_slug,
            record.provider,
            Action.VALIDATE,
            Outcome.SUCCESS,
            actor,
            credential_id=record.credential_id,
            status_before=record.validation_status,
            status_after=Status.VALID,
        )
        verdict = Verdict(Status.VALID, Outcome.SUCCESS, True, False)
        return Assessment(record, CheckResult(status=Status.VALID), Status.VALID, event.at, event, verdict)

    return assess


def _staged(store: IntegrationStore, run_id: str) -> list[str]:
    since = datetime.now(UTC) - timedelta(days=8)
    return [r.result.credential_id for r in store.run_results(run_id, since)]


@pytest.mark.parametrize("kind", ["sqlite", "bigquery"])
def test_a_task_killed_late_loses_at_most_one_batch_and_its_retry_checks_nothing_twice(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "STAGE_ROWS", 5)
    store = SqliteStore(tmp_path / "s.sqlite") if kind == "sqlite" else BigQueryStore(DuckBigQuery(), PROJECT)
    svc = _svc(store, orgs=23)
    spec, one = TaskSpec(run_id="exec-k", index=0, count=1), TaskLimits(concurrency=1)
    first: list[str] = []
    with pytest.raises(Killed):
        runs.run_task(svc.store, _assess_dying_after(17, first), spec, one, "job")
    staged = _staged(svc.store, "exec-k")
    assert len(staged) == 15 and set(staged) <= set(first), "three batches of 5 were staged before the kill"
    second: list[str] = []
    report = runs.run_task(svc.store, _assess_dying_after(None, second), spec, one, "job")
    assert report.already_staged == 15 and report.checked == 8 == len(second)
    assert not set(second) & set(staged), "a retried task checks nothing it staged"
    assert len(set(first) & set(second)) <= 5, "only the lost batch is checked again"
    assert sorted(_staged(svc.store, "exec-k")) == sorted(r.credential_id for r in svc.store.list_credentials())


@pytest.mark.parametrize("kind", ["sqlite", "bigquery"])
def test_each_store_selects_the_share_farm_fingerprint_gives(kind: str, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite") if kind == "sqlite" else BigQueryStore(DuckBigQuery(), PROJECT)
    svc = _svc(store, orgs=12)
    since = datetime.now(UTC) - timedelta(days=1)
    ids = {r.credential_id for r in svc.store.list_credentials()}
    shares = [{r.credential_id for r in svc.store.pending_for_run("x", since, i, 3)} for i in range(3)]
    assert shares == [{c for c in ids if task_of(c, 3) == i} for i in range(3)]
    assert [svc.store.share_counts("x", since, i, 3) for i in range(3)] == [(len(s), 0) for s in shares]


def test_staging_stays_under_bigquerys_10_mb_request_with_non_ascii_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 40,000-character message of 'é' is 240 KB in the request's JSON: 50 such results are 12 MB, which one
    staging INSERT could not carry; the task batches by the request's bytes."""
    svc = _svc(BigQueryStore(DuckBigQuery(), PROJECT), orgs=50)
    base = _assess_dying_after(None, [])

    def wordy(record: StoredCredential, actor: str) -> Assessment:
        a = base(record, actor)
        return a._replace(event=a.event.model_copy(update={"message": "é" * 40_000}))

    report = runs.run_task(svc.store, wordy, TaskSpec(run_id="exec-b"), TaskLimits(), "job")
    assert report.checked == 50 and len(_staged(svc.store, "exec-b")) == 50


def test_finalize_refuses_a_run_whose_tasks_still_run_unless_forced(tmp_path: Path) -> None:
    svc = _svc(SqliteStore(tmp_path / "s.sqlite"), orgs=6)
    svc.revalidate_task(TaskSpec(run_id="exec-r", index=0, count=2))
    with pytest.raises(IntegrationError) as err:
        svc.finalize_run("exec-r")
    assert err.value.code == "RUN_TASKS_RUNNING" and "1 of 2" in err.value.message
    forced = svc.finalize_run("exec-r", force=True)
    svc.revalidate_task(TaskSpec(run_id="exec-r", index=1, count=2))
    rest = svc.finalize_run("exec-r")
    assert forced.applied + rest.applied == 6 and rest.checked == 6


def test_finalize_applies_a_run_older_than_its_timeout_whose_task_never_finished(tmp_path: Path) -> None:
    svc = _svc(SqliteStore(tmp_path / "s.sqlite"), orgs=24, run_timeout_s=60)
    svc.revalidate_task(TaskSpec(run_id="exec-o", index=0, count=2))  # task 1 never ran: 24 credentials, so task 0 has
    # some (a share is a hash of random ids: over 4 it was empty once in 16 runs)
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    with svc.store._tx() as conn:  # type: ignore[attr-defined]
        conn.execute("UPDATE revalidation_results SET checked_at = ?", (old,))
        conn.execute("UPDATE revalidation_tasks SET done_at = ?", (old,))
    assert svc.finalize_run("exec-o").checked > 0


class DownCache(InMemoryStatusCache):
    """A status cache whose writes fail while `down` (as the Supabase adapter fails when it cannot be reached)."""

    down = False
    writes = 0

    def set_many(self, updates):  # type: ignore[no-untyped-def]
        self.writes += 1
        if self.down:
            raise IntegrationError(
                "STATUS_SYNC_FAILED", "Supabase could not be reached to sync statuses (ConnectError)."
            )
        super().set_many(updates)


def test_a_status_cache_down_at_finalize_costs_five_jobs_the_alert_goes_and_a_retry_resyncs() -> None:
    client, cache = DuckBigQuery(), DownCache()
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _svc(
            BigQueryStore(client, PROJECT),
            orgs=60,  # one job or write per credential would be 60: the bound below is 6
            cache=cache,
            alert_webhook_url=url + "/services/T0/B0/x",
            allow_http_endpoints=True,
        )
        for i in (0, 1):
            svc.revalidate_task(TaskSpec(run_id="exec-s", index=i, count=2))
        cache.down, cache.writes, before = True, 0, client.jobs
        run = svc.finalize_run("exec-s")
        assert run.applied == 60 and run.unsynced == 60
        # five, and one read of the run's alarms and expiry reminders for its alerts (usecases/alerting.py)
        assert client.jobs - before <= 6 and cache.writes == 1, "no request nor store write per credential"
        assert len(seen) == 1 and json.loads(seen[0].body)["run_id"] == "exec-s", "the alert still goes"
        assert any("STATUS_SYNC_FAILED" in w for w in run.warnings)
        cache.down = False
        again = svc.finalize_run("exec-s")
    assert again.applied == 0 and again.unsynced == 0
    assert {row.statuses[Provider.OPENAI].status for row in cache.all_orgs()} == {Status.VALID}


def test_rewrap_writes_in_batches_and_each_swap_has_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.usecases import maintenance

    monkeypatch.setattr(maintenance, "REWRAP_BATCH", 3)
    client = DuckBigQuery()
    svc = _svc(BigQueryStore(client, PROJECT), orgs=7)
    new_ref = svc.rotate_key()  # as `integrations key rotate`: the new version is recorded then, not by the rewrap
    before = client.jobs
    report = svc.rewrap(actor="ops")
    assert (report.rewrapped, report.failed) == (7, {})
    assert client.jobs - before <= -(-7 // 3) + 2, "ceil(N/batch) + 2 jobs, not one per credential"
    assert {r.key_ref for r in svc.store.list_credentials()} == {new_ref}
    assert len([e for e in svc.store.events() if e.action == Action.REWRAP]) == 7
    assert svc.validate("org-000", Provider.OPENAI).success and svc.rewrap().rewrapped == 0


def test_only_a_tasks_share_read_carries_ciphertexts_and_nothing_reads_the_whole_fleet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A task reads its share's rows once (with their ciphertexts, to check them) and counts without them; finalize
    reads no ciphertext; neither lists every credential (the whole-fleet read that made memory grow with it)."""
    client = DuckBigQuery()
    svc = _svc(BigQueryStore(client, PROJECT), orgs=8)

    def whole_fleet(*args: object, **kwargs: object) -> list[StoredCredential]:
        raise AssertionError("a run read every credential")

    monkeypatch.setattr(svc.store, "list_credentials", whole_fleet)
    first = len(client.statements)
    svc.revalidate_task(TaskSpec(run_id="exec-m", index=0, count=2))
    task = client.statements[first:]
    assert sum("encrypted_credential" in s for s in task) == 1 and "FARM_FINGERPRINT" in task[1]
    svc.revalidate_task(TaskSpec(run_id="exec-m", index=1, count=2))
    first = len(client.statements)
    assert svc.finalize_run("exec-m").applied == 8
    assert not any("encrypted_credential" in s for s in client.statements[first:])
