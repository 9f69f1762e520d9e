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
    from ..taskspec import RunReport

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
    from rich.progress import Progress as RichProgress

    from ..domain import Provider

    with _service(as_json) as svc, RichProgress(console=err, disable=as_json, auto_refresh=False) as bar:
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
            actor=_actor(actor),
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


def _print_report(report: RunReport) -> None:
    """A bulk run's report as tables: the totals, then its status changes, worst first."""
    from rich.table import Table

    title = f"run {literal(report.run_id)}: {report.checked:,} checked in {report.duration_s:.1f}s"
    summary = Table(title=title, show_header=False)
    summary.add_column("", style="dim")
    summary.add_column("")
    summary.add_row("outcomes", ", ".join(f"{label(k)} {n:,}" for k, n in sorted(report.outcomes.items())) or "none")
    summary.add_row("errors", ", ".join(f"{k} {n:,}" for k, n in sorted(report.errors.items())) or "none")
    summary.add_row("status changes", f"{report.changed:,}")
    summary.add_row("drift fixed", f"{report.drift_fixed:,} (the status cache repaired after the run)")
    if report.missing:
        summary.add_row("not configured any more", literal(", ".join(report.missing)))
    out.print(summary)
    if report.changes:
        changes = Table(title="status changes")
        for col in ("org", "provider", "before", "after", "error"):
            changes.add_column(col)
        order = {"INVALID": 0, "PENDING": 1, "VALID": 2}
        for c in sorted(report.changes, key=lambda c: (order.get(str(c["after"]), 3), c["org_slug"])):
            changes.add_row(
                literal(c["org_slug"]),
                label(c["provider"]),
                label(c["before"]),
                label(c["after"]),
                str(c["error_code"] or ""),
            )
        out.print(changes)


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
        _emit(
            as_json,
            data,
            f"run {literal(spec.run_id)} task {spec.index}/{spec.count}: {report.checked} checked "
            f"({report.already_staged} already staged, share {report.share}) in {report.duration_s:.1f}s: "
            f"{report.outcomes}",
        )
        if final and not as_json:
            _print_run(final)


def _print_run(report: RunReport) -> None:
    out.print(
        f"run {literal(report.run_id)}: {report.checked} checked, {report.changed} changed, {report.applied} applied "
        f"now; by outcome {report.outcomes}; by code {report.errors}; by task {report.by_task}"
    )
    for change in report.changes[:50]:
        out.print(f"  {literal(change['org_slug'])} {change['provider']}: {change['before']} -> {change['after']}")
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
