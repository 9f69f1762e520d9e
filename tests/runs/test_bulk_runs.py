"""Issue 24: one bulk runtime. A bulk re-validation from the console, the CLI or a notebook is a run of one task
that stages its results as it goes and finalizes itself: its results applied in finalize's one write, its events
carrying its `bulk-` run id, and a second finalize changing nothing. The old in-process write path is gone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from integrations import connect
from integrations.cli import app
from integrations.domain import Action, Provider, Status
from integrations.jobs import JobRunner
from integrations.settings import Settings
from integrations.usecases import runs
from typer.testing import CliRunner

from tests.conftest import fake_service
from tests.keys import anthropic_key, openai_key


def _finalized_itself(svc, run_id: str, checked: int) -> None:  # type: ignore[no-untyped-def]
    """The run's results are applied and its events carry its id; finalizing it again changes nothing."""
    assert run_id.startswith("bulk-"), "a console or CLI run reads as a bulk run"
    validations = [e for e in svc.store.events() if e.action == Action.VALIDATE]
    assert len(validations) == checked and {e.run_id for e in validations} == {run_id}
    statuses = {(r.org_slug, r.provider): r.validation_status for r in svc.store.list_credentials()}
    assert set(statuses.values()) == {Status.VALID}
    again = svc.finalize_run(run_id)
    assert (again.checked, again.applied, again.alert) == (checked, 0, None), "reported again, applied once"
    assert [e for e in svc.store.events() if e.action == Action.VALIDATE] == validations
    assert {(r.org_slug, r.provider): r.validation_status for r in svc.store.list_credentials()} == statuses


def test_a_bulk_run_stages_as_it_goes_and_finalizes_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "STAGE_ROWS", 4)
    svc = fake_service()
    for i in range(10):
        svc.register_org(f"org-{i}")
        svc.setup(f"org-{i}", "openai", openai_key(), skip_validation=True)  # PENDING
    staged: list[int] = []
    stage = svc.store.stage_results
    svc.store.stage_results = lambda batch: staged.append(len(batch)) or stage(batch)  # type: ignore[method-assign]

    def no_batch_write(updates):  # type: ignore[no-untyped-def]
        raise AssertionError("a bulk run writes statuses only through finalize's apply")

    svc.store.record_validations = no_batch_write  # type: ignore[method-assign]
    ticks: list[tuple[int, int]] = []
    report = svc.revalidate_many(concurrency=3, progress=lambda d, t: ticks.append((d, t)))
    assert staged == [4, 4, 2], "staged every STAGE_ROWS while the checks went on"
    assert (report.checked, report.applied, report.changed, report.outcomes) == (10, 10, 10, {"VALID": 10})
    assert sorted(ticks)[-1] == (10, 10) and len(ticks) == 10
    assert {c["after"] for c in report.changes} == {"VALID"} and report.drift_fixed == 0
    assert all(svc.cache.get_org(f"org-{i}").status_of(Provider.OPENAI).status == Status.VALID for i in range(10))
    _finalized_itself(svc, report.run_id, 10)


def test_a_bulk_run_over_chosen_targets_checks_only_them() -> None:
    svc = fake_service()
    for slug in ("a-org", "b-org"):
        svc.register_org(slug)
        svc.setup(slug, "openai", openai_key(), skip_validation=True)
        svc.setup(slug, "anthropic", anthropic_key(), skip_validation=True)
    report = svc.revalidate_many(targets=[("a-org", "openai"), ("b-org", "anthropic"), ("c-org", "openai")])
    assert report.checked == 2 and report.missing == ["c-org/OPENAI"]
    checked = {(e.org_slug, e.provider.value) for e in svc.store.events() if e.action == Action.VALIDATE}
    assert checked == {("a-org", "OPENAI"), ("b-org", "ANTHROPIC")}
    assert svc.finalize_run(report.run_id).applied == 0


def test_a_console_bulk_job_is_a_run_that_finalized_itself() -> None:
    svc = fake_service()
    for i in range(3):
        svc.register_org(f"org-{i}")
        svc.setup(f"org-{i}", "openai", openai_key(), skip_validation=True)
    run_id = "bulk-0123456789abcdef"  # made by the console before the job starts (pages/_ui.start_bulk)
    jobs = JobRunner()
    job = jobs.start("bulk", "Re-validating 3", lambda j: svc.revalidate_many(progress=j.progress, run_id=run_id))
    while job.running:
        time.sleep(0.01)
    assert job.error is None and job.result.run_id == run_id and (job.done, job.total) == (3, 3)
    _finalized_itself(svc, run_id, 3)


def test_the_cli_bulk_run_is_a_run_that_finalized_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("CLOUD_RUN_EXECUTION", raising=False)
    cli = CliRunner()
    for args in (["init"], ["org", "create", "acmecorp"], ["org", "create", "globex"]):
        assert cli.invoke(app, args).exit_code == 0
    for org in ("acmecorp", "globex"):
        done = cli.invoke(app, ["setup", org, "openai", "--credential-stdin", "--skip-validation"], input=openai_key())
        assert done.exit_code == 0, done.output
    done = cli.invoke(app, ["revalidate", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["checked"] == 2 and report["applied"] == 2 and report["outcomes"] == {"VALID": 2}
    again = json.loads(cli.invoke(app, ["revalidate", "finalize", "--run-id", report["run_id"], "--json"]).stdout)
    assert again["applied"] == 0 and again["alert"] is None
    _finalized_itself(connect(Settings(data_dir=tmp_path / "data")), report["run_id"], 2)


def test_a_bulk_run_writes_an_expiry_reminder_once_with_its_run_id() -> None:
    from tests.conftest import ORG
    from tests.keys import admin_key

    svc = fake_service()
    svc.register_org(ORG)
    svc.setup(ORG, "openai", admin_key("openai", "exp6d"))
    first = svc.revalidate_many()
    svc.revalidate_many()
    [reminder] = [e for e in svc.store.events(ORG) if e.action == Action.EXPIRY]
    assert "(7-day mark)" in reminder.message and reminder.run_id == first.run_id


def test_a_run_scoped_to_some_orgs_repairs_only_their_cache() -> None:
    """Review round 4, item 21: `revalidate --org globex` reported 'drift fixed 1' for hooli's cache row. The
    reconcile after a run stays within the orgs the run chose; a run over the fleet repairs the fleet."""
    svc = fake_service()
    for slug in ("a-org", "b-org"):
        svc.register_org(slug)
        svc.setup(slug, "openai", openai_key(), skip_validation=True)
    svc.cache.set_many([("b-org", Provider.OPENAI, Status.INVALID, None)])  # another writer synced out of order
    assert svc.revalidate_many(orgs=["a-org"]).drift_fixed == 0
    assert svc.revalidate_many(targets=[("a-org", "openai")]).drift_fixed == 0
    assert [d.org_slug for d in svc.reconcile(dry_run=True).drifts] == ["b-org"]  # left as it was
    assert svc.revalidate_many(orgs=["b-org"]).drift_fixed == 1
    svc.cache.set_many([("b-org", Provider.OPENAI, Status.INVALID, None)])
    assert svc.revalidate_many().drift_fixed == 1  # the whole fleet's run repairs the whole fleet
