"""`integrations revalidate`: a bulk re-validation (a run of one task that finalizes itself), or one task of a run
(Cloud Run Jobs' variables or flags), and `revalidate finalize` for a run's last step."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import Code, IntegrationError
from ..pinned_env import ENV_COUNT, ENV_INDEX, ENV_RUN
from .output import PLAIN_HELP, Actor, JsonOpt, _actor, _emit, _error, _service, _warn, err, label, literal, out

if TYPE_CHECKING:  # the service (pandas, SDKs) and the models load only when a command runs
    from ..service import IntegrationService
    from ..taskspec import RunReport, TaskReport

revalidate_app = typer.Typer(help="Re-check many stored credentials at once.", **PLAIN_HELP)
TASK_VARS = (ENV_INDEX, ENV_COUNT, ENV_RUN)


@revalidate_app.callback(invoke_without_command=True)
def revalidate(
    ctx: typer.Context,
    org: Annotated[list[str] | None, typer.Option(help="Only these orgs.")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="Only these providers.")] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Checks in flight per provider (for a task run: of all tasks).")
    ] = 16,
    task_index: Annotated[
        int | None, typer.Option(help=f"This task's index, 0..count-1 (default: ${ENV_INDEX}).")
    ] = None,
    task_count: Annotated[int | None, typer.Option(help=f"Tasks in the run (default: ${ENV_COUNT}).")] = None,
    run_id: Annotated[
        str | None, typer.Option(help=f"The run the task belongs to (default: ${ENV_RUN}; one task: a new one).")
    ] = None,
    finalize: Annotated[
        bool | None, typer.Option(help="Finalize the run when this task ends (default: when it is the only task).")
    ] = None,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-check many stored credentials at once, with a progress bar. Given a task (--task-index/--task-count,
    --run-id or Cloud Run's variables), check only that task's share and stage it for `revalidate finalize`."""
    if ctx.invoked_subcommand:
        return
    if task_index is not None or task_count is not None or run_id or any(os.environ.get(v) for v in TASK_VARS):
        if org or provider:
            refused = IntegrationError(Code.INVALID_INPUT, "A task run checks every credential: drop --org/--provider.")
            _error(as_json, refused)
        _revalidate_task(task_index, task_count, run_id, concurrency, finalize, _actor(actor), as_json)
        return
    with _service(as_json) as svc:
        for one in org or []:  # an unknown org fails before the bar is drawn (the library refuses it too)
            svc.require_org(one)
        _revalidate_many(svc, org, provider, concurrency, _actor(actor), as_json)


def _revalidate_many(
    svc: IntegrationService,
    org: list[str] | None,
    provider: list[str] | None,
    concurrency: int,
    actor: str,
    as_json: bool,
) -> None:
    from rich.progress import Progress as RichProgress

    from ..domain import Provider

    with RichProgress(console=err, disable=as_json, auto_refresh=False) as bar:
        task, shown = bar.add_task("re-validating", total=None), [0.0]

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if done == total or time.monotonic() - shown[0] > 0.1:
                bar.refresh()
                shown[0] = time.monotonic()

        report = svc.revalidate_many(
            orgs=org,
            providers=[Provider.parse(p) for p in provider or []] or None,
            concurrency=concurrency,
            actor=actor,
            progress=progress,
        )
    # after the bar has closed: the report is printed below it, not over it
    _emit(as_json, report.model_dump(mode="json"), lambda: _print_report(report))
    if report.alarms and not as_json:
        err.print(
            f"[bold red]ALARM[/]: {len(report.alarms)} credential(s) could not be decrypted (statuses left "
            "unchanged); check the keyring: " + literal(", ".join(report.alarms[:10]))
        )
    _warn([] if as_json else report.warnings)


def _counts(counts: dict[str, int], said: bool = True) -> str:
    """`Valid 53, Invalid 2` (labels) or `INVALID_CREDENTIAL 2` (codes); "none" when empty."""
    return ", ".join(f"{label(k) if said else literal(k)} {n:,}" for k, n in sorted(counts.items())) or "none"


MAX_CHANGES_SHOWN = 200  # a nightly run may change thousands: --json lists them all


def _print_report(report: RunReport, bulk: bool = True) -> None:
    """A run's report as tables (a bulk run's, or a finalize's): the totals, then its status changes, worst first."""
    from rich.table import Table

    if bulk:
        title = f"run {literal(report.run_id)}: {report.checked:,} checked in {report.duration_s:.1f}s"
    else:
        title = f"run {literal(report.run_id)} finalized: {report.checked:,} checked"
    summary = Table(title=title, show_header=False)
    summary.add_column("", style="dim", overflow="fold")
    summary.add_column("", overflow="fold")
    summary.add_row("outcomes", _counts(report.outcomes))
    summary.add_row("errors", _counts(report.errors, said=False))
    summary.add_row("status changes", f"{report.changed:,}")
    if bulk:
        summary.add_row("drift fixed", f"{report.drift_fixed:,} (the status cache repaired after the run)")
    else:
        summary.add_row("applied now", f"{report.applied:,} (0: the run was finalized before)")
        summary.add_row("by task", ", ".join(f"task {i}: {n:,}" for i, n in sorted(report.by_task.items())) or "none")
        if report.superseded:
            summary.add_row("superseded", f"{len(report.superseded):,} (changed since their task read them)")
        if report.unsynced:
            summary.add_row("not synced", f"{report.unsynced:,} (run `integrations reconcile`)")
    if report.missing:
        summary.add_row("not configured any more", literal(", ".join(report.missing)))
    out.print(summary)
    if report.changes:
        changes = Table(title="status changes")
        for col in ("org", "provider", "before", "after", "error"):
            changes.add_column(col, overflow="fold")
        order = {"INVALID": 0, "PENDING": 1, "VALID": 2}
        ordered = sorted(report.changes, key=lambda c: (order.get(str(c["after"]), 3), str(c["org_slug"])))
        for c in ordered[:MAX_CHANGES_SHOWN]:
            changes.add_row(
                literal(c["org_slug"]),
                label(c["provider"]),
                label(c["before"]),
                label(c["after"]),
                literal(c.get("error_code") or ""),
            )
        out.print(changes)
        if len(ordered) > MAX_CHANGES_SHOWN:
            out.print(f"... and {len(ordered) - MAX_CHANGES_SHOWN:,} more status changes: --json lists them all.")


def _revalidate_task(
    index: int | None,
    count: int | None,
    run_id: str | None,
    concurrency: int,
    finalize: bool | None,
    actor: str,
    as_json: bool,
) -> None:
    from ..taskspec import task_spec

    with _service(as_json) as svc:
        spec = task_spec(index, count, run_id, os.environ)
        report = svc.revalidate_task(spec, concurrency, actor=actor)
        final = svc.finalize_run(spec.run_id, actor) if (spec.count == 1 if finalize is None else finalize) else None
        data = report.model_dump(mode="json") | ({"finalized": final.model_dump(mode="json")} if final else {})
        _emit(as_json, data, lambda: _print_task(report))
        if final and not as_json:
            _print_run(final)


def _print_task(report: TaskReport) -> None:
    """One task's report as a table: what it checked of its share, and how."""
    from rich.table import Table

    title = (
        f"run {literal(report.run_id)} task {report.task_index}/{report.task_count}: {report.checked:,} checked "
        f"in {report.duration_s:.1f}s"
    )
    t = Table(title=title, show_header=False)
    t.add_column("", style="dim", overflow="fold")
    t.add_column("", overflow="fold")
    t.add_row("share", f"{report.share:,} credential(s)")
    t.add_row("already staged", f"{report.already_staged:,} (checked by an earlier attempt, not again)")
    t.add_row("outcomes", _counts(report.outcomes))
    if report.backoff_s:
        t.add_row("held back", ", ".join(f"{label(p)} {s:.1f}s" for p, s in sorted(report.backoff_s.items())))
    out.print(t)
    _warn(report.warnings)


def _print_run(report: RunReport) -> None:
    _print_report(report, bulk=False)
    if report.alarms:
        err.print(f"[bold red]ALARM[/]: {len(report.alarms)} credential(s) could not be decrypted (statuses unchanged)")
    _warn(report.warnings)


@revalidate_app.command("finalize")
def revalidate_finalize(
    run_id: Annotated[str, typer.Option(help="The run to finalize (as its tasks printed).")],
    force: Annotated[
        bool, typer.Option(help="Finalize even if some of the run's tasks have not said they are done.")
    ] = False,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply a run's staged results in one write, sync the status cache, print the run's report (idempotent).
    Refused (RUN_TASKS_RUNNING) while the run's tasks may still run, unless --force."""
    with _service(as_json) as svc:
        report = svc.finalize_run(run_id, _actor(actor), force)
        _emit(as_json, report.model_dump(mode="json"), lambda: _print_run(report))
