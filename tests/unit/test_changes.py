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
    assert last.empty and last.attrs == {"started": None, "ended": None, "checks": 0, "undelivered": 0}
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
