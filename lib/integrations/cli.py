"""The `integrations` command. Human output by default, JSON with --json; exit 0 ok, 1 failed, 2 usage."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as RichProgress
from rich.table import Table

from . import runs
from .bootstrap import connect
from .domain import Capability, Provider
from .errors import IntegrationError
from .service import IntegrationService

app = typer.Typer(
    help="Validate, encrypt, store and watch organizations' provider credentials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
org_app = typer.Typer(help="Organizations and their API keys.", no_args_is_help=True)
org_key_app = typer.Typer(help="Org API keys.", no_args_is_help=True)
key_app = typer.Typer(help="The local encryption keyring.", no_args_is_help=True)
app.add_typer(org_app, name="org")
org_app.add_typer(org_key_app, name="key")
app.add_typer(key_app, name="key")
out = Console(soft_wrap=True, emoji=False)  # keys and ids must stay on one line to be copied
err = Console(stderr=True, soft_wrap=True, emoji=False)
# C0 and C1 control characters, shown as \x1b etc.: tenant text never moves the operator's cursor or makes links
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Actor = Annotated[str | None, typer.Option(help="Who is acting (default: the OS user).")]


def literal(text: object) -> str:
    """Tenant-chosen text for the terminal: Rich markup escaped, control characters shown, never interpreted."""
    return escape(str(text).translate(_CONTROLS))


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _emit(as_json: bool, data: Any, text: str | Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    elif callable(text):
        text()
    else:
        out.print(text)


@contextmanager
def _service(as_json: bool, require_cache: bool = False) -> Iterator[IntegrationService]:
    """Build the service; turn catalog errors into a message with the fix and exit code 1."""
    try:
        yield connect(require_cache=require_cache)
    except IntegrationError as exc:
        _error(as_json, exc)


def _error(as_json: bool, exc: IntegrationError) -> None:
    """Print a catalog error with its fix; exit 1."""
    if as_json:
        sys.stdout.write(json.dumps({"success": False, "error": exc.to_json()}, indent=2) + "\n")
    else:
        err.print(f"[bold red]{exc.code}[/]: {literal(exc.message)}\n[dim]Fix:[/] {literal(exc.hint)}")
    raise typer.Exit(1) from None


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]warning[/]: {literal(w)}")


@app.command()
def init(as_json: JsonOpt = False) -> None:
    """Create the data dir, tables and keyring (idempotent); fails if the status cache is not ready."""
    with _service(as_json, require_cache=True) as svc:
        _emit(
            as_json,
            {"success": True, "backends": svc.backends},
            "Ready: " + ", ".join(f"{k}={v}" for k, v in svc.backends.items()),
        )


@app.command()
def demo(as_json: JsonOpt = False) -> None:
    """Load the demo orgs (sandbox only; idempotent). Their org API keys go to a 0600 file in the data dir."""
    from .demo import save_keys, seed

    with _service(as_json) as svc:
        keys = seed(svc)
        data_dir = svc.settings.data_dir if svc.settings else Path(".data")
        path = save_keys(data_dir, keys) if keys else data_dir / "demo-org-keys.txt"
        text = (
            f"Created {len(keys)} demo orgs ({', '.join(keys)}). Their org API keys are in {path} "
            "(readable only by you)."
            if keys
            else "Demo orgs already present."
        )
        _emit(as_json, {"created": keys, "keys_file": str(path)}, text)


@org_app.command("create")
def org_create(
    slug: str, name: Annotated[str | None, typer.Option(help="Display name.")] = None, as_json: JsonOpt = False
) -> None:
    """Register an org and print a new org API key (shown once)."""
    with _service(as_json) as svc:
        key = svc.register_org(slug, name=name, actor=_actor(None))
        _emit(
            as_json,
            {"org_slug": slug, "api_key": key},
            f"Organization {literal(slug)} ready.\nAPI key (shown once, store it now): {literal(key)}",
        )


@org_key_app.command("rotate")
def org_key_rotate(slug: str, as_json: JsonOpt = False) -> None:
    """Revoke the org's API keys and print a new one (shown once)."""
    with _service(as_json) as svc:
        key = svc.rotate_org_key(slug, actor=_actor(None))  # ORG_NOT_FOUND before touching keys
        _emit(
            as_json, {"org_slug": slug, "api_key": key}, f"New API key for {literal(slug)} (shown once): {literal(key)}"
        )


@org_key_app.command("revoke")
def org_key_revoke(slug: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of the org."""
    with _service(as_json) as svc:
        count = svc.revoke_org_keys(slug, actor=_actor(None))  # ORG_NOT_FOUND for an unknown org
        _emit(as_json, {"org_slug": slug, "revoked": count}, f"Revoked {count} key(s) of {literal(slug)}.")


def _read_credential(credential_file: Path | None, credential_stdin: bool) -> str:
    if (credential_file is None) == (not credential_stdin):
        raise typer.BadParameter("give exactly one of --credential-file F or --credential-stdin")
    try:
        if credential_stdin:
            return sys.stdin.read()
        return credential_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {credential_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise typer.BadParameter("the credential is not UTF-8 text (a key file is plain text or JSON)") from None


@app.command()
def setup(
    org: str,
    provider: str,
    credential_file: Annotated[Path | None, typer.Option(help="File holding the credential.")] = None,
    credential_stdin: Annotated[bool, typer.Option(help="Read the credential from stdin.")] = False,
    name: Annotated[str | None, typer.Option(help="Credential name.")] = None,
    metadata: Annotated[str | None, typer.Option(help="Flat JSON object.")] = None,
    skip_validation: Annotated[bool, typer.Option(help="Store as PENDING without a live check.")] = False,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Check, validate, encrypt and store a credential (rotates an existing one)."""
    secret = _read_credential(credential_file, credential_stdin)
    try:
        meta = json.loads(metadata) if metadata else None
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--metadata is not JSON: {exc.msg}") from None
    except (ValueError, RecursionError):  # an integer over 4,300 digits, or nesting too deep
        raise typer.BadParameter("--metadata holds a number too large or nesting too deep") from None
    with _service(as_json) as svc:
        result = svc.setup(
            org,
            provider,
            secret,
            credential_name=name,
            metadata=meta,
            skip_validation=skip_validation,
            actor=_actor(actor),
        )
        _emit(
            as_json,
            result.model_dump(mode="json"),
            f"[green]{literal(result.message)}[/] credential_id={result.credential_id}"
            + (f" kind={result.credential_kind.value}" if result.credential_kind else "")
            + _capabilities(result.capabilities),
        )
        _warn([] if as_json else result.warnings)


def _capabilities(capabilities: list[Capability]) -> str:
    """One line per capability: inference / cost data, passed or not available, and why."""
    return "".join(f"\n  {c.name}: {c.status} - {literal(c.detail)}" for c in capabilities)


@app.command()
def status(org: str, as_json: JsonOpt = False) -> None:
    """Show an org's integrations (never a secret)."""
    with _service(as_json) as svc:
        data = svc.get_all(org)

        def table() -> None:
            configured = ", ".join(p.value for p in data.providers_configured) or "none"
            t = Table(title=f"{literal(org)}: configured {configured}; all valid: {data.all_valid}")
            for col in ("provider", "status", "kind", "name", "hint", "last validated", "error"):
                t.add_column(col)
            for i in data.integrations.values():
                t.add_row(
                    i.provider.value,
                    i.status.value,
                    i.credential_kind.label if i.credential_kind else "",
                    literal(i.credential_name or ""),
                    literal(i.credential_hint or ""),
                    str(i.last_validated_at or ""),
                    i.error.code if i.error else "",
                )
            out.print(t)

        _emit(as_json, data.model_dump(mode="json"), table)
        _warn([] if as_json else data.warnings)


@app.command()
def validate(org: str, provider: str, actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Re-check the stored credential live. Exit 1 unless it is valid."""
    with _service(as_json) as svc:
        result = svc.validate(org, provider, actor=_actor(actor))
        colour = "green" if result.success else "red"
        _emit(
            as_json,
            result.model_dump(mode="json"),
            f"[{colour}]{result.validation_status.value}[/]: {literal(result.message)}"
            + _capabilities(result.capabilities),
        )
        _warn([] if as_json else result.warnings)
        if not result.success:
            raise typer.Exit(1)


@app.command()
def delete(org: str, provider: str, actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Deactivate the credential and erase its ciphertext (history is kept)."""
    with _service(as_json) as svc:
        result = svc.delete(org, provider, actor=_actor(actor))
        _emit(as_json, result.model_dump(mode="json"), literal(result.message))
        _warn([] if as_json else result.warnings)


revalidate_app = typer.Typer(help="Re-check many stored credentials at once.")
app.add_typer(revalidate_app, name="revalidate")
TASK_VARS = (runs.ENV_INDEX, runs.ENV_COUNT, runs.ENV_RUN)


@revalidate_app.callback(invoke_without_command=True)
def revalidate(
    ctx: typer.Context,
    org: Annotated[list[str] | None, typer.Option(help="Only these orgs.")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="Only these providers.")] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Checks in flight per provider (for a task run: of all tasks).")
    ] = 16,
    workers: Annotated[
        int | None,
        typer.Option(help="Deprecated and ignored (a run is threads in one process); removed in the next release."),
    ] = None,
    task_index: Annotated[
        int | None, typer.Option(help=f"This task's index, 0..count-1 (default: ${runs.ENV_INDEX}).")
    ] = None,
    task_count: Annotated[int | None, typer.Option(help=f"Tasks in the run (default: ${runs.ENV_COUNT}).")] = None,
    run_id: Annotated[
        str | None, typer.Option(help=f"The run the task belongs to (default: ${runs.ENV_RUN}; one task: a new one).")
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
    if workers is not None:
        err.print("warning: --workers is deprecated and ignored (a run is threads in one process).")
    if task_index is not None or task_count is not None or run_id or any(os.environ.get(v) for v in TASK_VARS):
        if org or provider:
            refused = IntegrationError("INVALID_INPUT", "A task run checks every credential: drop --org/--provider.")
            _error(as_json, refused)
        _revalidate_task(task_index, task_count, run_id, concurrency, finalize, _actor(actor), as_json)
        return
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
        _emit(
            as_json,
            report.model_dump(mode="json"),
            f"{report.total} checked in {report.duration_s:.1f}s: {report.outcomes}; "
            f"errors {report.errors}; {len(report.changed)} status change(s); {report.drift_fixed} drift(s) fixed",
        )
        if report.alarms and not as_json:
            err.print(
                f"[bold red]ALARM[/]: {len(report.alarms)} credential(s) could not be decrypted (statuses left "
                "unchanged); check the keyring: " + literal(", ".join(report.alarms[:10]))
            )
        _warn([] if as_json else report.warnings)


def _revalidate_task(
    index: int | None,
    count: int | None,
    run_id: str | None,
    concurrency: int,
    finalize: bool | None,
    actor: str,
    as_json: bool,
) -> None:
    with _service(as_json) as svc:
        spec = runs.task_spec(index, count, run_id, os.environ)
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


def _print_run(report: runs.RunReport) -> None:
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
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply a run's staged results in one write, sync the status cache, print the run's report (idempotent)."""
    with _service(as_json) as svc:
        report = svc.finalize_run(run_id, _actor(actor))
        _emit(as_json, report.model_dump(mode="json"), lambda: _print_run(report))


@app.command()
def reconcile(
    dry_run: Annotated[bool, typer.Option(help="Only report the drift.")] = False,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the status cache from the system of record."""
    with _service(as_json) as svc:
        report = svc.reconcile(dry_run=dry_run, actor=_actor(actor))
        lines = [
            f"{literal(d.org_slug)} {d.provider.value}: cache {d.cached_status.value if d.cached_status else 'missing'}"
            f" -> {d.recorded_status.value}"
            for d in report.drifts
        ]
        verb = "would fix" if dry_run else "fixed"
        count = len(report.drifts) if dry_run else report.fixed
        _emit(as_json, report.model_dump(mode="json"), "\n".join(lines + [f"{count} drift(s) {verb}."]))
        _warn([] if as_json else report.warnings)


@app.command()
def rewrap(actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Re-encrypt active ciphertexts under the current key version."""
    with _service(as_json) as svc, RichProgress(console=err, disable=as_json) as bar:
        task = bar.add_task("rewrapping", total=None)
        report = svc.rewrap(actor=_actor(actor), progress=lambda d, t: bar.update(task, completed=d, total=t))
        _emit(
            as_json,
            report.model_dump(mode="json"),
            f"{report.rewrapped} rewrapped to {report.current_key_ref}, {report.already_current} already current, "
            f"{len(report.failed)} failed",
        )


@key_app.command("rotate")
def key_rotate(as_json: JsonOpt = False) -> None:
    """Add a new local keyring version; run `integrations rewrap` afterwards."""
    with _service(as_json) as svc:
        ref = svc.rotate_key()
        _emit(as_json, {"current_key_ref": ref}, f"New key version {ref}; run `integrations rewrap`.")


@key_app.command("retire")
def key_retire(version: str, as_json: JsonOpt = False) -> None:
    """Remove an old key version for good (refused while any stored credential uses it)."""
    ref = version if "/" in version else f"local/{version}"
    with _service(as_json) as svc:
        svc.retire_key(ref)
        _emit(as_json, {"retired": ref}, f"Retired {ref}: it is gone from the keyring for good.")


@key_app.command("list")
def key_list(as_json: JsonOpt = False) -> None:
    """The key versions the store recorded: current, in the keyring, retired, and how many credentials use each."""
    with _service(as_json) as svc:
        versions = svc.key_versions()
        _emit(
            as_json,
            versions,
            "\n".join(
                f"{v['key_ref']}: {v['credentials']} credential(s)"
                + (" current" if v["current"] else "")
                + (f" retired {v['retired_at']:%Y-%m-%d}" if v["retired_at"] else "")
                + ("" if v["in_keyring"] or v["retired_at"] else " MISSING FROM THE KEYRING")
                for v in versions
            )
            or "No key versions recorded.",
        )


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the REST endpoints (OpenAPI at /docs)."""
    import uvicorn

    uvicorn.run("integrations.api:create_app", factory=True, host=host, port=port)


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check every setting, permission, table, column, key and status column the profile needs; change nothing."""
    from .doctor import run

    try:
        report = run()
    except IntegrationError as exc:  # settings that cannot even be read
        _emit(as_json, {"ok": False, "error": exc.to_json()}, f"[bold red]{exc.code}[/]: {literal(exc.message)}")
        raise typer.Exit(1) from None
    data = {
        "ok": report.ok,
        "profile": report.profile,
        "backends": report.backends,
        "checks": [c.model_dump() for c in report.checks],
    }

    def text() -> None:
        out.print(f"profile {literal(report.profile)}: " + ", ".join(f"{k}={v}" for k, v in report.backends.items()))
        for c in report.checks:
            mark = "[green]ok[/]     " if c.ok else "[bold red]missing[/]"
            out.print(f"{mark} {literal(c.area)}: {literal(c.name)}: {literal(c.detail)}", markup=True)
            if not c.ok and c.fix:
                out.print(f"        [dim]fix:[/] {literal(c.fix)}")

    _emit(as_json, data, text)
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
