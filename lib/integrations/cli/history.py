"""CLI reads of the history (none changes anything): `history` (one integration's latest events, who did what)
and `runs` (the runs of the last days, or one run's status changes, worst first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .output import JsonOpt, ProviderArg, _emit, _service, label, literal, out, when

if TYPE_CHECKING:
    import pandas as pd

DaysOpt = Annotated[int, typer.Option("--days", min=1, max=400, help="How many days back to read.")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many events, newest first.")]
RunArg = Annotated[
    str | None, typer.Argument(help="A run id from `integrations runs`; none: the last bulk or nightly run.")
]


def _text(value: Any, enum: bool = False) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None, NaN: an empty cell
        return ""
    return label(value) if enum else literal(value)


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """The columns' rows for --json, a missing value as null (times are written by _emit: ISO 8601 with Z)."""
    rows = frame.reindex(columns=columns).astype(object)
    return rows.where(rows.notna(), None).to_dict("records")


HISTORY_COLUMNS = [
    "at",
    "action",
    "outcome",
    "status_before",
    "status_after",
    "error_code",
    "message",
    "actor",
    "run_id",
]


def history(
    org: str, provider: ProviderArg, days: DaysOpt = 90, limit: LimitOpt = 20, as_json: JsonOpt = False
) -> None:
    """Show one integration's latest events, newest first: what was done, by whom, with which outcome."""
    with _service(as_json) as svc:
        svc.get_one(org, provider)  # an unknown org or provider is its catalog error, not an empty list
        frame = svc.history(org, provider, days=days, limit=limit)

        def table() -> None:
            from rich.table import Table

            shown = Table(
                title=f"{literal(org)} · {label(frame.provider.iloc[0]) if len(frame) else literal(provider)}"
                f": the last {len(frame)} event(s) within {days} days"
            )
            for name in ("When", "Action", "Outcome", "Status", "Code", "Message", "Actor"):
                shown.add_column(name, overflow="fold")
            for r in frame.itertuples():
                change = " -> ".join(_text(s, True) for s in (r.status_before, r.status_after) if _text(s))
                shown.add_row(
                    when(r.at),
                    _text(r.action, True),
                    _text(r.outcome, True),
                    change,
                    _text(r.error_code),
                    _text(r.message),
                    _text(r.actor),
                )
            out.print(
                shown if len(frame) else f"No events for {literal(org)} · {literal(provider)} within {days} days."
            )

        _emit(as_json, {"org_slug": org, "events": _records(frame, HISTORY_COLUMNS)}, table)


CHANGE_COLUMNS = ["at", "org_slug", "provider", "status_before", "status_after", "error_code", "fix", "actor"]
RUN_COLUMNS = ["run_id", "kind", "started", "ended", "checks", "changes", "undelivered"]


def runs(run_id: RunArg = None, as_json: JsonOpt = False) -> None:
    """List the runs of the last days with one run's status changes, worst first (by default the last bulk or
    nightly run, which a later single check does not replace)."""
    import pandas as pd

    from ..errors import Code, IntegrationError

    with _service(as_json) as svc:
        changes = svc.run_changes(run_id)
        attrs = changes.attrs
        if run_id is not None and attrs.get("run_id") is None:
            raise IntegrationError(
                Code.RUN_NOT_FOUND,
                f"No run {literal(run_id)} within the last 8 days.",
                fix="Run `integrations runs` to list the runs of the last 8 days, then give one of their ids.",
            )
        listed = pd.DataFrame(attrs.get("runs") or [], columns=RUN_COLUMNS)
        fields = ["run_id", "kind", "started", "ended", "checks", "undelivered"]
        data = {
            "run": _records(pd.DataFrame([{k: attrs.get(k) for k in fields}]), fields)[0],
            "changes": _records(changes, CHANGE_COLUMNS),
            "runs": _records(listed, RUN_COLUMNS),
        }

        def text() -> None:
            from rich.table import Table

            every = Table(title="Runs (newest first)")
            for name in ("Run", "Kind", "Started", "Ended", "Checks", "Changes", "Undelivered alerts"):
                every.add_column(name, overflow="fold", no_wrap=name in ("Run", "Started", "Ended"))
            for r in listed.head(20).itertuples():
                every.add_row(
                    literal(r.run_id),
                    literal(r.kind),
                    when(r.started),
                    when(r.ended),
                    str(r.checks),
                    str(r.changes),
                    str(r.undelivered),
                )
            out.print(every if len(listed) else "No runs within the last days.")
            if attrs.get("run_id") is None:
                return
            shown = Table(title=f"Status changes of {literal(attrs['run_id'])} ({attrs['kind']}), worst first")
            for name in ("When", "Org", "Provider", "Before", "After", "Code", "Fix"):
                shown.add_column(name, overflow="fold")
            for r in changes.head(200).itertuples():
                shown.add_row(
                    when(r.at),
                    literal(r.org_slug),
                    _text(r.provider, True),
                    _text(r.status_before, True),
                    _text(r.status_after, True),
                    _text(r.error_code),
                    _text(r.fix),
                )
            out.print(shown if len(changes) else f"No status changes in {literal(attrs['run_id'])}.")
            if len(changes) > 200:
                out.print(f"... {len(changes) - 200} more: --json lists them all.")

        _emit(as_json, data, text)
