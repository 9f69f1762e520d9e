"""CLI reads (none changes anything): `status` (an org's integrations), `get` (one provider's integration) and
`diagnose` (the troubleshooting checks in order, each with its code and fix)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import typer

from .. import provider_registry
from .output import JsonOpt, ProviderArg, _emit, _service, _warn, label, literal, out, when

if TYPE_CHECKING:
    from ..domain import DataStatus
    from ..results import Integration


def _data(status: DataStatus, through: date | None, read_at: datetime | None) -> str:
    """'STALE, data through 2026-12-05, source last read 2026-12-07 02:00 UTC'."""
    shown = [label(status), f"data through {through}" if through else "no data yet"]
    if read_at is not None:
        shown.append(f"source last read {when(read_at)}")
    return ", ".join(shown)


WIDE = 120  # columns: narrower, `status` prints a card per provider instead of a table that would cut values


def status(org: str, as_json: JsonOpt = False) -> None:
    """Show an org's integrations (never a secret)."""
    with _service(as_json) as svc:
        data = svc.get_all(org)

        def table() -> None:
            from rich.table import Table

            configured = ", ".join(label(p) for p in data.providers_configured) or "none"
            title = f"{literal(org)}: configured {configured}; all valid: {'yes' if data.all_valid else 'no'}"
            columns = ("provider", "status", "kind", "name", "hint", "last validated", "error")
            rows = [
                (
                    label(i.provider),
                    label(i.status),
                    label(i.credential_kind) if i.credential_kind else "",
                    literal(i.credential_name or ""),
                    literal(i.credential_hint or ""),
                    when(i.last_validated_at),
                    i.error.code if i.error else "",
                )
                for i in data.integrations.values()
            ]
            if out.width >= WIDE:
                t = Table(title=title)
                for n, col in enumerate(columns):  # wrapped whole, never cut with "…"; a status or code on one line
                    whole = max((len(r[n]) for r in rows), default=0) if col in ("provider", "status", "error") else 0
                    t.add_column(col, overflow="fold", min_width=whole or None)
                for row in rows:
                    t.add_row(*row)
                out.print(t)
            else:  # narrow (80 columns, a pipe): one card per provider, every value whole
                out.print(title)
                for row in rows:
                    if not any(row[2:]):
                        out.print(f"{row[0]}: {row[1]}")
                        continue
                    card = Table(title=f"{row[0]}: {row[1]}", title_justify="left", show_header=False)
                    card.add_column("field", style="dim")
                    card.add_column("value", overflow="fold")
                    for name, value in zip(columns[2:], row[2:], strict=True):
                        if value:
                            card.add_row(name, value)
                    out.print(card)
            for i in data.integrations.values():  # beside the credential's status: is its cost data arriving
                if i.data_status is not None:
                    out.print(
                        f"{label(i.provider)} cost data: {_data(i.data_status, i.data_through, i.last_success_at)}"
                    )
                if i.expiry is not None:  # "never expires" and "unknown" said, not left blank
                    out.print(f"{label(i.provider)} key: {literal(i.expiry)}")

        _emit(as_json, data.model_dump(mode="json"), table)
        _warn([] if as_json else data.warnings)


def providers(as_json: JsonOpt = False) -> None:
    """The providers this deployment offers (the provider registry): the names the other commands take."""
    rows = [{"provider": s.name, "label": s.label} for s in provider_registry.specs()]
    _emit(as_json, rows, "\n".join(f"{r['provider'].lower():<12} {r['label']}" for r in rows))


def _integration_table(org: str, one: Integration) -> None:
    from rich.table import Table

    t = Table(title=f"{literal(org)} · {one.provider.label}", show_header=False)
    t.add_column("field", style="dim")
    t.add_column("value", overflow="fold")
    rows = {
        "status": label(one.status),
        "kind": label(one.credential_kind) if one.credential_kind else "",
        "name": one.credential_name or "",
        "credential": one.credential_hint or "",
        "credential id": one.credential_id or "",
        "last validated": when(one.last_validated_at, "never"),
        "created": when(one.created_at),
    }
    if one.error:
        rows |= {"error": f"{one.error.code}: {one.error.message}", "fix": one.error.hint}
    for name, value in rows.items():
        if value:
            t.add_row(name, literal(value))
    out.print(t)


def get_one(org: str, provider: ProviderArg, as_json: JsonOpt = False) -> None:
    """Show one provider's integration of an org: status, kind, name, hint, last check, error and fix."""
    with _service(as_json) as svc:
        one = svc.get_one(org, provider)
        _emit(as_json, one.model_dump(mode="json"), lambda: _integration_table(org, one))


def diagnose(org: str, provider: ProviderArg, as_json: JsonOpt = False) -> None:
    """Run the troubleshooting checks in order (they stop at the first failure); each with its code and fix.
    Changes nothing. Exit 1 when a check failed."""
    with _service(as_json) as svc:
        steps = svc.diagnose(org, provider)

        def table() -> None:
            from rich.table import Table

            t = Table(title=f"Diagnose {literal(org)} · {literal(label(provider.strip().upper()))}")
            for col in ("", "check", "detail"):
                t.add_column(col, overflow="fold")
            for s in steps:
                mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]not run[/]"}[s.passed]
                t.add_row(mark, s.name, literal(s.detail))
            out.print(t)
            for s in steps:  # below the table, whole: a code to search for and the fix to apply
                if s.passed is False:
                    out.print(f"[bold]{s.code}[/] ({s.name}) · [dim]Fix:[/] {literal(s.fix)}")

        _emit(as_json, [s.model_dump(mode="json") for s in steps], table)
        if any(s.passed is False for s in steps):
            raise typer.Exit(1)
