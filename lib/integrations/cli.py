"""The `integrations` command. Human output by default, JSON with --json; exit 0 ok, 1 failed, 2 usage."""

from __future__ import annotations

import getpass
import json
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

from . import orgkeys
from .bootstrap import connect
from .domain import Provider
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
out = Console(soft_wrap=True)  # keys and ids must stay on one line to be copied
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Actor = Annotated[str | None, typer.Option(help="Who is acting (default: the OS user).")]


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
def _service(as_json: bool) -> Iterator[IntegrationService]:
    """Build the service; turn catalog errors into a message with the fix and exit code 1."""
    try:
        yield connect()
    except IntegrationError as exc:
        if as_json:
            sys.stdout.write(json.dumps({"success": False, "error": exc.to_json()}, indent=2) + "\n")
        else:
            err.print(f"[bold red]{exc.code}[/]: {escape(exc.message)}\n[dim]Fix:[/] {escape(exc.hint)}")
        raise typer.Exit(1) from None


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]warning[/]: {escape(w)}")


@app.command()
def init(as_json: JsonOpt = False) -> None:
    """Create the data dir, tables and keyring (idempotent)."""
    with _service(as_json) as svc:
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
        key = svc.register_org(slug, name=name)
        _emit(
            as_json,
            {"org_slug": slug, "api_key": key},
            f"Organization {slug} ready.\nAPI key (shown once, store it now): {key}",
        )


@org_key_app.command("rotate")
def org_key_rotate(slug: str, as_json: JsonOpt = False) -> None:
    """Revoke the org's API keys and print a new one (shown once)."""
    with _service(as_json) as svc:
        svc.get_all(slug)  # ORG_NOT_FOUND before touching keys
        key = orgkeys.rotate(svc.store, slug)
        _emit(as_json, {"org_slug": slug, "api_key": key}, f"New API key for {slug} (shown once): {key}")


@org_key_app.command("revoke")
def org_key_revoke(slug: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of the org."""
    with _service(as_json) as svc:
        count = orgkeys.revoke(svc.store, slug)
        _emit(as_json, {"org_slug": slug, "revoked": count}, f"Revoked {count} key(s) of {slug}.")


def _read_credential(credential_file: Path | None, credential_stdin: bool) -> str:
    if (credential_file is None) == (not credential_stdin):
        raise typer.BadParameter("give exactly one of --credential-file F or --credential-stdin")
    if credential_stdin:
        return sys.stdin.read()
    try:
        return credential_file.read_text()  # type: ignore[union-attr]
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {credential_file}: {exc.strerror}") from None


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
            result.model_dump(mode="json") | {"warnings": result.warnings},
            f"[green]{escape(result.message)}[/] credential_id={result.credential_id}",
        )
        _warn([] if as_json else result.warnings)


@app.command()
def status(org: str, as_json: JsonOpt = False) -> None:
    """Show an org's integrations (never a secret)."""
    with _service(as_json) as svc:
        data = svc.get_all(org)

        def table() -> None:
            t = Table(title=f"{org}: {data.providers_configured} configured, all valid: {data.all_valid}")
            for col in ("provider", "status", "name", "hint", "last validated", "error"):
                t.add_column(col)
            for i in data.integrations.values():
                t.add_row(
                    i.provider.value,
                    i.status.value,
                    i.credential_name or "",
                    i.credential_hint or "",
                    str(i.last_validated_at or ""),
                    i.error.code if i.error else "",
                )
            out.print(t)

        _emit(as_json, data.model_dump(mode="json"), table)


@app.command()
def validate(org: str, provider: str, actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Re-check the stored credential live. Exit 1 unless it is valid."""
    with _service(as_json) as svc:
        result = svc.validate(org, provider, actor=_actor(actor))
        colour = "green" if result.success else "red"
        _emit(
            as_json,
            result.model_dump(mode="json"),
            f"[{colour}]{result.validation_status.value}[/]: {escape(result.message)}",
        )
        if not result.success:
            raise typer.Exit(1)


@app.command()
def delete(org: str, provider: str, actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Deactivate the credential and erase its ciphertext (history is kept)."""
    with _service(as_json) as svc:
        result = svc.delete(org, provider, actor=_actor(actor))
        _emit(as_json, result.model_dump(mode="json"), result.message)


@app.command()
def revalidate(
    org: Annotated[list[str] | None, typer.Option(help="Only these orgs.")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="Only these providers.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Checks in flight per provider.")] = 16,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes sharing the run (default: one per core from 2,000 credentials)."),
    ] = None,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-check many stored credentials at once, with a progress bar."""
    # no refresh thread: a single-threaded CLI can fork its worker processes (see shards.py)
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
            workers=workers,
            actor=_actor(actor),
            progress=progress,
        )
        _emit(
            as_json,
            report.model_dump(mode="json"),
            f"{report.total} checked in {report.duration_s:.1f}s by {report.workers} process(es): {report.outcomes}; "
            f"errors {report.errors}; {len(report.changed)} status change(s)",
        )


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
            f"{d.org_slug} {d.provider.value}: cache {d.cached_status.value if d.cached_status else 'missing'}"
            f" -> {d.recorded_status.value}"
            for d in report.drifts
        ]
        verb = "would fix" if dry_run else "fixed"
        _emit(as_json, report.model_dump(mode="json"), "\n".join(lines + [f"{len(report.drifts)} drift(s) {verb}."]))


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
        rotate_key = getattr(svc.cipher, "rotate", None)
        if rotate_key is None:
            raise IntegrationError(
                "CONFIGURATION_ERROR",
                "Only the local keyring rotates here; rotate a Cloud KMS "
                "key in Google Cloud, then run `integrations rewrap`.",
            )
        ref = rotate_key()
        _emit(as_json, {"current_key_ref": ref}, f"New key version {ref}; run `integrations rewrap`.")


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the REST endpoints (OpenAPI at /docs)."""
    import uvicorn

    uvicorn.run("integrations.api:create_app", factory=True, host=host, port=port)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
