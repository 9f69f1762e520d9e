"""Status flips read back from the event history: over a window (the audit) or in the last run (the console).

A flip is a VALIDATE event whose status_after differs from its status_before (what alerts.py posts). A
bulk or task run's checks carry its run id, so the last run is exactly the events with the latest check's run id.
Single re-validations carry none: the last of them and the ones before it, each within RUN_GAP of the next, read
as one run (as does a history written before events had run ids).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from .domain import Action, StoredCredential
from .errors import CATALOG

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


def since_last_run(events: pd.DataFrame, gap: timedelta = RUN_GAP) -> pd.DataFrame:
    """The flips of the last run (see the module's docstring). `attrs` holds the run's `started`, `ended` and
    `checks` (None and 0 when nothing was re-validated), `run_id` (None for checks outside a bulk or task run)
    and `undelivered`: its flips whose alert failed, plus those of the last bulk or task run when single checks
    came after it (its ALERT_DELIVERY_FAILED warning survives them)."""
    runs = events["run_id"] if "run_id" in events else pd.Series(None, index=events.index, dtype=object)
    in_run = runs.map(lambda r: isinstance(r, str))  # NaN or None: not a bulk or task run's event
    checks = events[events["action"] == Action.VALIDATE.value].sort_values("at", ascending=False)
    started = ended = run_id = None
    window, count = events.iloc[0:0], 0
    if not checks.empty:
        latest = runs[checks.index[0]]
        if isinstance(latest, str):  # a bulk or task run: exactly its events, however close another run came
            mine = checks[runs[checks.index] == latest]
            run_id, count, started, ended = latest, len(mine), mine["at"].min(), mine["at"].max()
            window = events[runs == latest]
        else:  # single checks (or a history from before run ids): a burst, ended by a gap or by a run's check
            times = checks["at"].reset_index(drop=True)
            older_in_run = in_run[checks.index].reset_index(drop=True).shift(-1, fill_value=False)
            breaks = (times.diff(-1) > pd.Timedelta(gap)) | older_in_run
            count = int(breaks.values.argmax()) + 1 if breaks.any() else len(times)
            started, ended = times[count - 1], times[0]
            window = events[(events["at"] >= started) & ~in_run]
    flips = status_flips(window)
    undelivered = int((window["action"] == Action.ALERT.value).sum()) + _run_undelivered(events, runs, checks, run_id)
    flips.attrs.update(started=started, ended=ended, checks=count, undelivered=undelivered, run_id=run_id)
    return flips


def _run_undelivered(events: pd.DataFrame, runs: pd.Series, checks: pd.DataFrame, shown: str | None) -> int:
    """The undelivered alerts of the last bulk or task run when the window shown is not that run (single checks
    came after it): a tenant's single check must not hide that the run's alert never arrived."""
    ids = runs[checks.index]
    last = next((r for r in ids if isinstance(r, str)), None)  # checks are newest first
    if last is None or last == shown:
        return 0
    return int(((events["action"] == Action.ALERT.value) & (runs == last)).sum())


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
