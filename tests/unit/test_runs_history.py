"""Runs are first-class: a nightly run's changes are not replaced by a later single check, and earlier runs can
be picked (issue 27, problem 3)."""

from __future__ import annotations

import pandas as pd
import pytest
from integrations import IntegrationService, changes
from integrations.taskspec import TaskSpec

from tests.conftest import ORG
from tests.keys import anthropic_key, openai_key


def _nightly(svc: IntegrationService, run_id: str) -> None:
    svc.revalidate_task(TaskSpec(run_id=run_id, index=0, count=1), actor="nightly")
    svc.finalize_run(run_id, actor="nightly")


@pytest.fixture
def svc(local_svc: IntegrationService) -> IntegrationService:
    """SQLite: the store that stages task runs (acmecorp is registered)."""
    return local_svc


def test_a_single_check_after_the_nightly_run_does_not_replace_its_changes(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", anthropic_key(), skip_validation=True)
    _nightly(svc, "nightly-1")  # PENDING -> INVALID and PENDING -> VALID
    svc.validate(ORG, "anthropic")  # a tenant's single check afterwards: no change
    shown = svc.run_changes()
    assert shown.attrs["run_id"] == "nightly-1" and shown.attrs["kind"] == changes.NIGHTLY
    assert shown.attrs["checks"] == 2 and len(shown) == 2
    assert list(shown.status_after) == ["INVALID", "VALID"]  # worst first
    runs = pd.DataFrame(shown.attrs["runs"])  # every run, newest first, from the same read
    assert list(runs.kind) == [changes.SINGLE, changes.NIGHTLY]
    assert {"run_id", "kind", "started", "ended", "checks", "changes"} <= set(runs.columns)
    assert runs.started.iloc[1] <= runs.ended.iloc[1]
    single = svc.run_changes(runs.run_id.iloc[0])
    assert single.attrs["kind"] == changes.SINGLE and single.attrs["checks"] == 1 and single.empty


def test_earlier_runs_can_be_picked(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    _nightly(svc, "nightly-1")  # PENDING -> INVALID
    svc.setup(ORG, "openai", openai_key(), skip_validation=True)
    report = svc.revalidate_many()  # a bulk run: PENDING -> VALID
    shown = svc.run_changes()
    assert shown.attrs["run_id"] == report.run_id and shown.attrs["kind"] == changes.BULK
    assert [r["run_id"] for r in shown.attrs["runs"]] == [report.run_id, "nightly-1"]
    earlier = svc.run_changes("nightly-1")
    assert list(earlier.status_after) == ["INVALID"] and earlier.attrs["kind"] == changes.NIGHTLY


def test_single_checks_alone_are_a_run_and_no_history_is_none(svc: IntegrationService) -> None:
    assert svc.run_changes().attrs["run_id"] is None and svc.run_changes().attrs["runs"] == []
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.validate(ORG, "openai")
    shown = svc.run_changes()
    assert shown.attrs["kind"] == changes.SINGLE and list(shown.status_after) == ["INVALID"]


def test_the_runs_read_from_the_stores_selection_equal_those_read_from_the_whole_history(
    svc: IntegrationService,
) -> None:
    """The status page reads the runs from `store.run_events` (SQLite: one query, no models); the answer is the
    one the whole history gives, for every run, and the store's query equals the port's default filter."""
    from integrations.domain import utcnow
    from integrations.store.base import IntegrationStore

    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", anthropic_key(), skip_validation=True)
    _nightly(svc, "nightly-1")
    svc.setup(ORG, "openai", openai_key(), skip_validation=True)
    svc.revalidate_many()
    svc.validate(ORG, "anthropic")
    since = utcnow() - changes.LOOKBACK
    history = svc.events(since=since)
    mine, default = (
        f.assign(at=pd.to_datetime(f["at"], utc=True, format="ISO8601"))
        for f in (svc.store.run_events(since), IntegrationStore.run_events(svc.store, since))
    )
    assert mine.astype(str).values.tolist() == default.astype(str).values.tolist()
    assert len(mine) < len(history), "setups and org keys are not read"
    default_history = IntegrationStore.events_frame(svc.store, None, since)
    default_history["at"] = pd.to_datetime(default_history["at"], utc=True, format="ISO8601")
    assert history.astype(str).values.tolist() == default_history.astype(str).values.tolist()
    assert list(history.dtypes.astype(str)) == list(default_history.dtypes.astype(str))
    assert svc.events(ORG).astype(str).values.tolist() == svc.events(ORG, since).astype(str).values.tolist()
    for run_id in [None, *(r["run_id"] for r in svc.run_changes().attrs["runs"])]:
        read = svc.run_changes(run_id)
        whole = changes.run_changes(history, run_id)
        assert read.astype(str).values.tolist() == whole.astype(str).values.tolist()
        assert {k: v for k, v in read.attrs.items()} == whole.attrs
