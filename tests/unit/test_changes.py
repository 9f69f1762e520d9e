"""Status flips read back from the history: the last run's (the console) and a window's (the audit)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from integrations import IntegrationService, audit, changes

from tests.conftest import ORG
from tests.keys import openai_key


def test_nothing_validated_yet(svc: IntegrationService) -> None:
    last = svc.changes_since_last_run()
    assert last.empty and last.attrs == {"started": None, "ended": None, "checks": 0, "undelivered": 0, "run_id": None}
    assert audit.status_flips(svc).empty and audit.flip_counts(svc).empty


def test_a_flip_is_listed_with_its_fix_and_a_steady_check_is_not(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    svc.validate(ORG, "openai")  # PENDING -> INVALID
    svc.validate(ORG, "anthropic")  # PENDING -> VALID
    svc.validate(ORG, "anthropic")  # VALID again: checked, not a flip
    last = svc.changes_since_last_run()
    assert last.attrs["checks"] == 3 and last.attrs["undelivered"] == 0
    rows = list(zip(last.provider, last.status_before, last.status_after, last.error_code, strict=True))
    assert rows == [("ANTHROPIC", "PENDING", "VALID", None), ("OPENAI", "PENDING", "INVALID", "INVALID_CREDENTIAL")]
    assert last.fix.iloc[1] and pd.isna(last.fix.iloc[0])
    counts = audit.flip_counts(svc)
    assert sorted(counts.itertuples(index=False, name=None)) == [
        ("ANTHROPIC", "PENDING", "VALID", 1),
        ("OPENAI", "PENDING", "INVALID", 1),
    ]


def test_the_last_run_is_the_latest_burst_of_checks(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    svc.validate(ORG, "openai")
    svc.validate(ORG, "anthropic")
    events = svc.events()
    earlier = events.provider == "OPENAI"  # move the OPENAI check a day back: a run of its own
    events.loc[earlier, "at"] = events.loc[earlier, "at"] - pd.Timedelta(days=1)
    last = changes.since_last_run(events)
    assert list(last.provider) == ["ANTHROPIC"] and last.attrs["checks"] == 1
    assert list(changes.since_last_run(events, gap=timedelta(days=2)).provider) == ["ANTHROPIC", "OPENAI"]
    window = changes.status_flips(events[events["at"] >= events["at"].max() - pd.Timedelta(hours=1)])
    assert list(window.provider) == ["ANTHROPIC"]


def test_the_console_reads_only_the_lookback_window(svc: IntegrationService) -> None:
    """The status page asks the store for changes.LOOKBACK of history, not all of it: a run older than that is
    not read (and the page says no run happened in those days)."""
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.validate(ORG, "openai")
    asked: list[object] = []
    store = svc.deps.store
    read = store.events
    store.events = lambda org_slug=None, since=None: asked.append(since) or read(org_slug, since)  # type: ignore[method-assign]
    assert svc.changes_since_last_run().attrs["checks"] == 1
    assert asked and asked[0] is not None
    assert pd.Timestamp.now(tz="UTC") - pd.Timestamp(asked[0]) == pytest.approx(
        changes.LOOKBACK, abs=timedelta(minutes=1)
    )
    for event in store.event_rows:  # the whole history moves back past the window
        event.at -= changes.LOOKBACK + timedelta(hours=1)
    last = svc.changes_since_last_run()
    assert last.empty and last.attrs["started"] is None and last.attrs["checks"] == 0


def test_two_bulk_runs_a_minute_apart_are_two_runs(svc: IntegrationService) -> None:
    """A run's checks carry its run id: the last run is exactly its own checks, however soon after another."""
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    first = svc.revalidate_many()  # both flip: PENDING -> INVALID, PENDING -> VALID
    second = svc.revalidate_many(providers=["openai"])  # INVALID again: one check, no flip
    assert first.run_id and second.run_id and first.run_id != second.run_id
    last = svc.changes_since_last_run()
    assert last.attrs["run_id"] == second.run_id and last.attrs["checks"] == 1 and last.empty
    runs = {e.run_id for e in svc.store.events() if e.action.value == "VALIDATE"}
    assert runs == {first.run_id, second.run_id}


def test_a_single_check_after_a_run_is_a_run_of_its_own(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "a" * 40, skip_validation=True)
    svc.revalidate_many(providers=["anthropic"])  # PENDING -> VALID, in a run
    svc.validate(ORG, "openai")  # PENDING -> INVALID, a single check seconds later
    last = svc.changes_since_last_run()
    assert last.attrs["run_id"] is None and last.attrs["checks"] == 1
    assert list(zip(last.provider, last.status_after, strict=True)) == [("OPENAI", "INVALID")]
