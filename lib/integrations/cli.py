"""The `integrations` command. Human output by default, JSON with --json; exit 0 ok, 1 failed, 2 usage."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.progress import Progress as RichProgress
from rich.table import Table

from . import cli_reads
from .cli_keys import key_app, org_app
from .cli_output import Actor, JsonOpt, _actor, _capabilities, _emit, _service, _warn, err, literal, out
from .cli_runs import revalidate_app
from .domain import DataStatus
from .errors import IntegrationError
from .results import Keyless

__all__ = ["app", "err", "literal", "main", "out"]

app = typer.Typer(
    help="Validate, encrypt, store and watch organizations' provider credentials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(org_app, name="org")
app.add_typer(key_app, name="key")


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
def demo(
    orgs: Annotated[
        int | None, typer.Option(min=1, max=100_000, help="Also a large fleet: org-00000.. with 1-3 providers each.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load the demo orgs (sandbox only; idempotent). Their org API keys go to a 0600 file in the data dir.
    `--orgs N` adds N more orgs for trying the console at scale (about a minute for 10,000)."""
    from .demo import save_keys, seed, seed_fleet

    if orgs is not None:
        with _service(as_json) as svc, RichProgress(console=err, disable=as_json) as bar:
            task = bar.add_task("creating orgs", total=orgs)
            fleet = seed_fleet(svc, orgs, lambda done, total: bar.update(task, completed=done))
        _emit(as_json, fleet, f"{fleet['orgs']:,} org(s) created; {fleet['checked']:,} credential(s) checked.")
        return
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
    export_table: Annotated[
        str | None, typer.Option(help="GCP without a key file: the billing export table, project.dataset.table.")
    ] = None,
    customer_sa: Annotated[
        str | None, typer.Option(help="Keyless mode b: the customer's service account our principal impersonates.")
    ] = None,
    need: Annotated[
        str | None,
        typer.Option(help='"cost data" or "inference": a key that cannot do it is refused before any network call.'),
    ] = None,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Check, validate, encrypt and store a credential (rotates an existing one). GCP without a key file:
    --export-table (and --customer-sa), no credential; it is stored PENDING with what to do until the grant works."""
    if need not in (None, "cost data", "inference"):
        raise typer.BadParameter('--need is "cost data" or "inference"')
    keyless = _keyless_input(provider, export_table, customer_sa, credential_file, credential_stdin, skip_validation)
    secret = None if keyless else _read_credential(credential_file, credential_stdin)
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
            keyless=keyless,
            need=cast(Literal["cost data", "inference"] | None, need),
        )
        _emit(
            as_json,
            result.model_dump(mode="json", exclude_none=True),
            f"[green]{literal(result.message)}[/] credential_id={result.credential_id}"
            + (f" kind={result.credential_kind.value}" if result.credential_kind else "")
            + _capabilities(result.capabilities)
            + (f"\n[yellow]{result.error.code}[/]: {literal(result.error.message)}" if result.error else "")
            + (f"\nThe org's principal: {result.keyless.principal}" if result.keyless else ""),
        )
        _warn([] if as_json else result.warnings)


def _keyless_input(
    provider: str,
    export_table: str | None,
    customer_sa: str | None,
    credential_file: Path | None,
    credential_stdin: bool,
    skip_validation: bool,
) -> Keyless | None:
    if export_table is None:
        if customer_sa is not None:
            raise typer.BadParameter("--customer-sa goes with --export-table (keyless GCP)")
        return None
    if credential_file is not None or credential_stdin:
        raise typer.BadParameter("keyless setup (--export-table) takes no credential file")
    if skip_validation:
        raise typer.BadParameter("keyless setup always checks access (a PENDING result is stored with what to do)")
    if provider.strip().lower() != "gcp":
        raise typer.BadParameter("--export-table is for gcp (keyless GCP)")
    return Keyless(export_table, customer_sa)


@app.command("keyless")
def keyless_info(
    org: str,
    terraform: Annotated[bool, typer.Option(help="Print the Terraform snippet.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Keyless GCP: the org's principal to grant, our customer ID, and the gcloud/bq commands (or Terraform)."""
    with _service(as_json) as svc:
        info = svc.keyless_info(org)
        text = f"The org's principal: {info.principal}\nOur customer ID: {info.customer_id or '(not set)'}\n\n"
        if not as_json:  # plain text: never rich markup
            out.print(text + (info.terraform if terraform else info.commands), markup=False, highlight=False)
        else:
            _emit(as_json, info.model_dump(mode="json"), "")


def _data(status: DataStatus, through: date | None, read_at: datetime | None) -> str:
    """'STALE, data through 2026-12-05, source last read 2026-12-07 02:00 UTC'."""
    shown = [status.value, f"data through {through}" if through else "no data yet"]
    if read_at is not None:
        shown.append(f"source last read {read_at:%Y-%m-%d %H:%M} UTC")
    return ", ".join(shown)


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
            for i in data.integrations.values():  # beside the credential's status: is its cost data arriving
                if i.data_status is not None:
                    out.print(
                        f"{i.provider.value} cost data: {_data(i.data_status, i.data_through, i.last_success_at)}"
                    )

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
            + (f"\n[bold]{result.error.code}[/] · [dim]Fix:[/] {literal(result.error.hint)}" if result.error else "")
            + _capabilities(result.capabilities),
        )
        _warn([] if as_json else result.warnings)
        if not result.success:
            raise typer.Exit(1)


@app.command("test")
def test_credential(
    org: str,
    provider: str,
    credential_file: Annotated[Path | None, typer.Option(help="File holding the credential.")] = None,
    credential_stdin: Annotated[bool, typer.Option(help="Read the credential from stdin.")] = False,
    metadata: Annotated[str | None, typer.Option(help="Flat JSON object (GCP: billing_export_table).")] = None,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a credential with its provider WITHOUT saving it (nothing stored, no status change). Counts against the
    org's attempt limit. Exit 1 unless the provider accepted it."""
    secret = _read_credential(credential_file, credential_stdin)
    try:
        meta = json.loads(metadata) if metadata else None
    except (ValueError, RecursionError):
        raise typer.BadParameter("--metadata is not a JSON object") from None
    with _service(as_json) as svc:
        result = svc.test_credential(org, provider, secret, meta, actor=_actor(actor))
        del secret
        colour = "green" if result.success else "red"
        _emit(
            as_json,
            result.model_dump(mode="json"),
            f"[{colour}]{result.outcome}[/]: {literal(result.message)}"
            + (f"\n[bold]{result.error.code}[/] · [dim]Fix:[/] {literal(result.error.hint)}" if result.error else "")
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


app.add_typer(revalidate_app, name="revalidate")
app.command("get")(cli_reads.get_one)
app.command("diagnose")(cli_reads.diagnose)


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
        _warn([] if as_json else report.warnings)


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the REST endpoints (OpenAPI at /docs)."""
    import uvicorn

    uvicorn.run("integrations.api:create_app", factory=True, host=host, port=port)


@app.command()
def doctor(
    as_json: JsonOpt = False,
    role: Annotated[
        str, typer.Option(help="Whose needs to check: api (default), job (the nightly tasks) or finalize.")
    ] = "api",
) -> None:
    """Check every setting, permission, table, column, key and status column the profile needs; change nothing."""
    from .doctor import run
    from .doctor_roles import ROLES

    try:
        if role not in ROLES:
            raise IntegrationError("INVALID_INPUT", f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
        report = run(role=ROLES[ROLES.index(role)])
    except IntegrationError as exc:  # settings that cannot even be read
        _emit(as_json, {"ok": False, "error": exc.to_json()}, f"[bold red]{exc.code}[/]: {literal(exc.message)}")
        raise typer.Exit(1) from None
    data = {
        "ok": report.ok,
        "profile": report.profile,
        "role": report.role,
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
