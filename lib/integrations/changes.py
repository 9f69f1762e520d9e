"""Status flips read back from the event history: over a window (the audit) or in the last run (the console).

A flip is a VALIDATE event whose status_after differs from its status_before (what alerts.py posts). A run is a
burst of re-validations: the latest VALIDATE event and the ones before it, each within RUN_GAP of the next (a
bulk run's checks follow one another within seconds; a single re-validation minutes after any other is a run of
one). Events carry no run id, so runs closer than RUN_GAP read as one.
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
    `checks` (None and 0 when nothing was ever re-validated) and `undelivered`: its flips whose alert failed."""
    checks = events[events["action"] == Action.VALIDATE.value].sort_values("at", ascending=False)
    started = ended = None
    count = 0
    if not checks.empty:
        times = checks["at"].reset_index(drop=True)
        breaks = times.diff(-1) > pd.Timedelta(gap)  # newest first: a gap before this event ends the run
        count = int(breaks.values.argmax()) + 1 if breaks.any() else len(times)
        started, ended = times[count - 1], times[0]
    window = events if started is None else events[events["at"] >= started]
    flips = status_flips(window)
    undelivered = int((window["action"] == Action.ALERT.value).sum())
    flips.attrs.update(started=started, ended=ended, checks=count, undelivered=undelivered)
    return flips


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
