"""Status flips read back from the history: one run's (the console) and a window's (the audit)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from integrations import IntegrationService, audit, changes

from tests.conftest import ORG
from tests.keys import openai_key


def test_nothing_validated_yet(svc: IntegrationService) -> None:
    last = svc.run_changes()
    assert last.empty and last.attrs == {
        "run_id": None,
        "kind": None,
        "started": None,
        "ended": None,
        "checks": 0,
        "undelivered": 0,
        "runs": [],
    }
    assert audit.status_flips(svc).empty and audit.flip_counts(svc).empty


def test_a_flip_is_listed_with_its_fix_and_a_steady_check_is_not(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    svc.validate(ORG, "openai")  # PENDING -> INVALID
    svc.validate(ORG, "anthropic")  # PENDING -> VALID
    svc.validate(ORG, "anthropic")  # VALID again: checked, not a flip
    last = svc.run_changes()  # no bulk or nightly run yet: the run of these single checks
    assert last.attrs["kind"] == "single" and last.attrs["checks"] == 3 and last.attrs["undelivered"] == 0
    rows = list(zip(last.provider, last.status_before, last.status_after, last.error_code, strict=True))
    assert rows == [("OPENAI", "PENDING", "INVALID", "INVALID_CREDENTIAL"), ("ANTHROPIC", "PENDING", "VALID", None)]
    assert last.fix.iloc[0] and pd.isna(last.fix.iloc[1])  # worst first
    counts = audit.flip_counts(svc)
    assert sorted(counts.itertuples(index=False, name=None)) == [
        ("ANTHROPIC", "PENDING", "VALID", 1),
        ("OPENAI", "PENDING", "INVALID", 1),
    ]


def test_single_checks_further_apart_than_the_gap_are_two_runs(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    svc.validate(ORG, "openai")
    svc.validate(ORG, "anthropic")
    events = svc.events()
    earlier = events.provider == "OPENAI"  # move the OPENAI check a day back: a run of its own
    events.loc[earlier, "at"] = events.loc[earlier, "at"] - pd.Timedelta(days=1)
    last = changes.run_changes(events)
    assert list(last.provider) == ["ANTHROPIC"] and last.attrs["checks"] == 1 and len(last.attrs["runs"]) == 2
    assert list(changes.run_changes(events, gap=timedelta(days=2)).provider) == ["OPENAI", "ANTHROPIC"]
    window = changes.status_flips(events[events["at"] >= events["at"].max() - pd.Timedelta(hours=1)])
    assert list(window.provider) == ["ANTHROPIC"]


def test_the_console_reads_only_the_lookback_window(svc: IntegrationService) -> None:
    """The status page asks the store for changes.LOOKBACK of history, not all of it: a run older than that is
    not read (and the page says no run happened in those days)."""
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.validate(ORG, "openai")
    asked: list[object] = []
    store = svc.deps.store
    read = store.run_events
    store.run_events = lambda since: asked.append(since) or read(since)  # type: ignore[method-assign]
    assert svc.run_changes().attrs["checks"] == 1
    assert asked and asked[0] is not None
    assert pd.Timestamp.now(tz="UTC") - pd.Timestamp(asked[0]) == pytest.approx(
        changes.LOOKBACK, abs=timedelta(minutes=1)
    )
    for event in store.event_rows:  # the whole history moves back past the window
        event.at -= changes.LOOKBACK + timedelta(hours=1)
    last = svc.run_changes()
    assert last.empty and last.attrs["started"] is None and last.attrs["checks"] == 0


def test_two_bulk_runs_a_minute_apart_are_two_runs(svc: IntegrationService) -> None:
    """A run's checks carry its run id: the last run is exactly its own checks, however soon after another."""
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    first = svc.revalidate_many()  # both flip: PENDING -> INVALID, PENDING -> VALID
    second = svc.revalidate_many(providers=["openai"])  # INVALID again: one check, no flip
    assert first.run_id and second.run_id and first.run_id != second.run_id
    last = svc.run_changes()
    assert last.attrs["run_id"] == second.run_id and last.attrs["checks"] == 1 and last.empty
    runs = {e.run_id for e in svc.store.events() if e.action.value == "VALIDATE"}
    assert runs == {first.run_id, second.run_id}


def test_a_single_check_after_a_run_is_a_run_of_its_own(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    bulk = svc.revalidate_many(providers=["anthropic"])  # PENDING -> VALID, in a run
    svc.validate(ORG, "openai")  # PENDING -> INVALID, a single check seconds later
    last = svc.run_changes()  # the bulk run stays the one shown
    assert last.attrs["run_id"] == bulk.run_id and list(last.provider) == ["ANTHROPIC"]
    single = next(r["run_id"] for r in last.attrs["runs"] if r["kind"] == "single")
    mine = svc.run_changes(single)
    assert mine.attrs["checks"] == 1
    assert list(zip(mine.provider, mine.status_after, strict=True)) == [("OPENAI", "INVALID")]
