"""Task runs on the BigQuery store (its ZetaSQL-analysing double): two tasks stage, one finalize applies every
credential once in a constant number of jobs, a retried task and a second finalize add nothing."""

from __future__ import annotations

import pytest
from integrations import IntegrationService
from integrations.bootstrap import build_validators
from integrations.domain import Action, Provider, Status
from integrations.errors import IntegrationError
from integrations.fingerprint import task_of
from integrations.settings import Settings
from integrations.store.base import ValidationUpdate
from integrations.store.bigquery import BigQueryStore
from integrations.store.bigquery import sql as bigquery_sql
from integrations.store.staging import STAGE_ROWS
from integrations.taskspec import TaskSpec

from tests.builders import event
from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.fakes import InMemoryCipher, InMemoryStatusCache
from tests.keys import ANTHROPIC_OK, OPENAI_OK


def _service(client: DuckBigQuery, orgs: int) -> IntegrationService:
    store = BigQueryStore(client, PROJECT)
    store.init()
    svc = IntegrationService(
        store,
        InMemoryCipher(),
        InMemoryStatusCache(),
        build_validators(Settings(_env_file=None)),
        attempts_per_minute=0,
    )
    for i in range(orgs):
        org = f"org-{i:03d}"
        svc.register_org(org)
        svc.setup(org, Provider.OPENAI, OPENAI_OK)
        svc.setup(org, Provider.ANTHROPIC, ANTHROPIC_OK)
    return svc


def _validations(svc: IntegrationService) -> list[str]:
    return [e.credential_id for e in svc.store.events() if e.action == Action.VALIDATE and e.credential_id]


def test_two_tasks_and_finalize_check_every_credential_exactly_once() -> None:
    client = DuckBigQuery()
    svc = _service(client, orgs=6)
    ids = {r.credential_id for r in svc.store.list_credentials()}
    first = ids.pop()  # one row was PENDING before the run: the run's report shows its change
    svc.store.record_validations([ValidationUpdate(first, Status.PENDING, None, None, None, "t", event())])
    ids.add(first)
    reports = [svc.revalidate_task(TaskSpec(run_id="exec-1", index=i, count=2), actor="job") for i in (0, 1)]
    assert sum(r.checked for r in reports) == len(ids) == 12
    assert all(r.checked == sum(task_of(c, 2) == r.task_index for c in ids) for r in reports)
    assert _validations(svc) == [], "tasks stage; only finalize writes"

    run = svc.finalize_run("exec-1", actor="job")
    assert run.checked == 12 and run.applied == 12 and run.outcomes == {"VALID": 12}
    assert [(c["credential_id"], c["before"], c["after"], c["error_code"]) for c in run.changes] == [
        (first, "PENDING", "VALID", None)
    ]
    assert sorted(_validations(svc)) == sorted(ids)
    assert {e.run_id for e in svc.store.events() if e.action == Action.VALIDATE} == {"exec-1"}
    assert svc.run_changes().attrs["run_id"] == "exec-1"
    assert {r.validation_status for r in svc.store.list_credentials()} == {Status.VALID}


def test_a_retried_task_and_a_second_finalize_add_nothing() -> None:
    client = DuckBigQuery()
    svc = _service(client, orgs=4)
    svc.revalidate_task(TaskSpec(run_id="exec-2", index=0, count=2))
    again = svc.revalidate_task(TaskSpec(run_id="exec-2", index=0, count=2))  # Cloud Run retried task 0
    assert again.checked == 0 and again.already_staged == again.share > 0
    svc.revalidate_task(TaskSpec(run_id="exec-2", index=1, count=2))
    first = svc.finalize_run("exec-2")
    events = len(svc.store.events())
    second = svc.finalize_run("exec-2")
    assert len(svc.store.events()) == events and second.applied == 0
    assert second.checked == first.checked == 8 and len(_validations(svc)) == 8


def test_jobs_per_run_are_tasks_times_a_constant_plus_a_constant_whatever_the_credentials() -> None:
    for orgs in (2, 20):
        client = DuckBigQuery()
        svc = _service(client, orgs)
        before = client.jobs
        reports = [svc.revalidate_task(TaskSpec(run_id="exec-3", index=i, count=3)) for i in range(3)]
        tasks = client.jobs - before
        svc.finalize_run("exec-3")
        # a task: its share's counts, its share's streamed read, one staging INSERT per STAGE_ROWS results (none
        # when its share is empty), its done mark; finalize: the run's state, its results (streamed), the MERGE +
        # INSERT ... SELECT script, the applied statuses (streamed) for the sync
        assert tasks == 3 * 3 + sum(-(-r.checked // STAGE_ROWS) for r in reports)
        assert client.jobs - before - tasks == 4


def test_finalize_of_an_unknown_run_is_a_catalog_error() -> None:
    svc = _service(DuckBigQuery(), orgs=1)
    with pytest.raises(IntegrationError) as err:
        svc.finalize_run("no-such-run")
    assert err.value.code == "RUN_NOT_FOUND"


@pytest.mark.parametrize(
    "name",
    [
        "SHARE_COUNTS",
        "PENDING",
        "STAGE",
        "TASK_DONE",
        "RUN_STATE",
        "RUNS_IN_PROGRESS",
        "RESULTS",
        "FINALIZE",
        "STATUSES",
    ],
)
def test_run_statements_hold_no_literal_values(name: str) -> None:
    assert "'" not in getattr(bigquery_sql, name)
