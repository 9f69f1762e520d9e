"""CLI reads an operator runs on one integration: `get` (one provider's integration) and `diagnose` (the
troubleshooting checks in order, each with its code and fix). Neither changes anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .cli_output import JsonOpt, ProviderArg, _emit, _service, _warn, literal, out

if TYPE_CHECKING:
    from .results import Integration


def _integration_table(org: str, one: Integration) -> None:
    from rich.table import Table

    t = Table(title=f"{literal(org)} · {one.provider.label}", show_header=False)
    t.add_column("field", style="dim")
    t.add_column("value")
    rows = {
        "status": one.status.value,
        "kind": one.credential_kind.label if one.credential_kind else "",
        "name": one.credential_name or "",
        "credential": one.credential_hint or "",
        "credential id": one.credential_id or "",
        "last validated": f"{one.last_validated_at:%Y-%m-%d %H:%M:%S} UTC" if one.last_validated_at else "never",
        "created": f"{one.created_at:%Y-%m-%d %H:%M:%S} UTC" if one.created_at else "",
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

            t = Table(title=f"Diagnose {literal(org)} · {literal(provider.upper())}")
            for col in ("", "check", "detail"):
                t.add_column(col)
            for s in steps:
                mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]not run[/]"}[s.passed]
                t.add_row(mark, s.name, literal(s.detail))
            out.print(t)
            for s in steps:  # below the table, whole: a code to search for and the fix to apply
                if s.passed is False:
                    out.print(f"[bold]{s.code}[/] ({s.name}) · [dim]Fix:[/] {literal(s.fix)}")

        _emit(as_json, [s.model_dump(mode="json") for s in steps], table)
        _warn([])
        if any(s.passed is False for s in steps):
            raise typer.Exit(1)
