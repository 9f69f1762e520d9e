"""Status flips read back from the event history: over a window (the audit) or in one run (the console).

A flip is a VALIDATE event whose status_after differs from its status_before (what alerts.py posts). A bulk or
task run's checks carry its run id, so a run is exactly the events with its id. Single re-validations carry none:
a burst of them, each within RUN_GAP of the next, reads as one run of single checks (as does a history written
before events had run ids), which never hides the last bulk or nightly run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .domain import Action, StoredCredential
from .errors import CATALOG

if TYPE_CHECKING:
    import pandas as pd
else:
    from .lazy_modules import pandas as pd  # imported when a frame is first built

RUN_GAP = timedelta(minutes=5)  # longer than a provider timeout or a 429 back-off (60 s at most)
LOOKBACK = timedelta(days=8)  # the console looks for the last run this far back: a nightly job silent longer is news
COLUMNS = ["at", "org_slug", "provider", "status_before", "status_after", "error_code", "fix", "actor", "credential_id"]


def status_flips(events: pd.DataFrame) -> pd.DataFrame:
    """The VALIDATE events among `events` that changed a status, newest first, each with its catalog fix."""
    checks = events[events["action"] == Action.VALIDATE.value]
    changed = checks[checks["status_before"].notna() & (checks["status_before"] != checks["status_after"])]
    after = changed["status_after"]
    codes = pd.Series(
        [c if isinstance(c, str) and a != "VALID" else None for c, a in zip(changed["error_code"], after, strict=True)],
        index=changed.index,
        dtype=object,
    )
    flips = changed.assign(error_code=codes, fix=codes.map(lambda c: CATALOG[c].fixes[0] if c in CATALOG else None))
    return flips.sort_values("at", ascending=False, ignore_index=True).reindex(columns=COLUMNS)


def flip_counts(flips: pd.DataFrame) -> pd.DataFrame:
    """Flips per provider and before -> after, most first."""
    counts = flips.groupby(["provider", "status_before", "status_after"]).size().reset_index(name="flips")
    return counts.sort_values(["flips", "provider"], ascending=[False, True], ignore_index=True)


def change_row(
    org_slug: str,
    provider: str,
    change: tuple[str, str, str | None],
    credential_id: str,
    record: StoredCredential | None,
) -> dict[str, str | None]:
    """A status change (before, after, error code) as run reports list it and `flips` reads it: the credential's id,
    and its hint and name while it is still stored; never the key."""
    before, after, error_code = change
    return {
        "org_slug": org_slug,
        "provider": provider,
        "before": before,
        "after": after,
        "error_code": error_code,
        "credential_id": credential_id,
        "credential_hint": record.credential_hint if record else None,
        "credential_name": record.credential_name if record else None,
    }


# --- runs as first-class records: id, kind, start, end ------------------------------------------------------------
BULK, NIGHTLY, SINGLE = "bulk", "nightly", "single"
SEVERITY = {"INVALID": 0, "NOT_CONFIGURED": 1, "PENDING": 2, "VALID": 3}
RUN_COLUMNS = ["run_id", "kind", "started", "ended", "checks", "changes", "undelivered"]


def run_kind(run_id: object) -> str:
    """A run's kind from its id: `bulk-...` (the console, the CLI, the API), any other id a task run (the
    scheduled nightly job), none a single check."""
    if not isinstance(run_id, str) or not run_id:
        return SINGLE
    return BULK if run_id.startswith("bulk-") else NIGHTLY


def _run_ids(events: pd.DataFrame, gap: timedelta) -> pd.Series:
    """Each event's run: its run id, or for single checks (and their alert events) the burst they belong to: a
    burst ends at a gap longer than `gap` or at a run's event. Its id is `single-` and its first event's time, so
    it stays the same while newer events come."""
    ids = events["run_id"] if "run_id" in events else pd.Series(None, index=events.index, dtype=object)
    ids = ids.map(lambda r: r if isinstance(r, str) and r else None).astype(object)
    timed = events[ids.notna() | events["action"].isin([Action.VALIDATE.value, Action.ALERT.value])]
    timed = timed.assign(_run=ids[timed.index]).sort_values("at", kind="stable")
    loose = timed["_run"].isna()
    if not loose.any():
        return ids
    new_burst = loose & (~loose.shift(1, fill_value=False) | (timed["at"].diff() > pd.Timedelta(gap)))
    burst = new_burst.cumsum()
    first = timed["at"].groupby(burst).transform("min")
    names = pd.Series(["single-" + t.strftime("%Y%m%dT%H%M%S.%f") for t in first], index=timed.index, dtype=object)
    ids.loc[names[loose].index] = names[loose]
    return ids


def run_list(events: pd.DataFrame, gap: timedelta = RUN_GAP) -> pd.DataFrame:
    """Every run in `events`, newest first: its id, kind (bulk, nightly, single), first and last check, number of
    checks, of status changes and of undelivered alerts. A single check never hides a run: it is a run of its own."""
    if events.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    ids = _run_ids(events, gap)
    frame = events.assign(_run=ids)
    frame = frame[frame["_run"].notna()]
    checks = frame[frame["action"] == Action.VALIDATE.value]
    if checks.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    flipped = checks["status_before"].notna() & (checks["status_before"] != checks["status_after"])
    grouped = checks.assign(_flip=flipped).groupby("_run")
    runs = pd.DataFrame(
        {
            "started": grouped["at"].min(),
            "ended": grouped["at"].max(),
            "checks": grouped.size(),
            "changes": grouped["_flip"].sum().astype(int),
        }
    )
    alerts = frame[frame["action"] == Action.ALERT.value].groupby("_run").size()
    runs["undelivered"] = alerts.reindex(runs.index, fill_value=0).astype(int)
    runs = runs.rename_axis("run_id").reset_index()
    runs["kind"] = runs.run_id.map(lambda r: SINGLE if r.startswith("single-") else run_kind(r))
    return runs.sort_values("ended", ascending=False, ignore_index=True).reindex(columns=RUN_COLUMNS)


def default_run(runs: pd.DataFrame) -> str | None:
    """The run the console shows first: the last bulk or nightly run, else the last run of single checks."""
    if runs.empty:
        return None
    scheduled = runs[runs.kind != SINGLE]
    return str((scheduled if not scheduled.empty else runs).run_id.iloc[0])


def run_changes(events: pd.DataFrame, run_id: str | None = None, gap: timedelta = RUN_GAP) -> pd.DataFrame:
    """The status flips of one run (by default `default_run`), newest first; `attrs` holds its `run_id`, `kind`,
    `started`, `ended`, `checks` and `undelivered` (None and 0 when there is no such run), and `runs`: every run
    (run_list's rows as dicts, newest first) for a picker, from the same read of the history."""
    runs = run_list(events, gap)
    listed = runs.to_dict("records")
    run_id = run_id or default_run(runs)
    row = runs[runs.run_id == run_id]
    if row.empty:
        flips = status_flips(events.iloc[0:0])
        flips.attrs.update(run_id=None, kind=None, started=None, ended=None, checks=0, undelivered=0, runs=listed)
        return flips
    run = row.iloc[0]
    flips = status_flips(events[_run_ids(events, gap) == run_id])
    severity = flips["status_after"].map(SEVERITY).fillna(len(SEVERITY))  # what broke first, then newest first
    flips = flips.assign(_s=severity).sort_values(["_s", "at"], ascending=[True, False], ignore_index=True)
    flips = flips.drop(columns="_s")
    flips.attrs.update(
        run_id=run_id,
        kind=run.kind,
        started=run.started,
        ended=run.ended,
        checks=int(run.checks),
        undelivered=int(run.undelivered),
        runs=listed,
    )
    return flips
