"""CLI operations on the installation: `init`, `demo`, `reconcile`, `rewrap`, `api` (serve the REST endpoints)
and `doctor` (check the deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import Code, IntegrationError
from .output import Actor, JsonOpt, _actor, _emit, _error, _service, _warn, err, label, literal, out


def init(as_json: JsonOpt = False) -> None:
    """Create the data dir, tables and keyring (idempotent); fails if the status cache is not ready."""
    with _service(as_json, require_cache=True, create=True) as svc:
        _emit(
            as_json,
            {"success": True, "backends": svc.backends},
            "Ready: " + ", ".join(f"{k}={v}" for k, v in svc.backends.items()),
        )


def demo(
    orgs: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=100_000,
            help="Also a large fleet, org-00000.. with 1-3 providers each (only orgs not there yet are created and "
            "checked); their org API keys go to the same keys file.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load the demo orgs (sandbox only; idempotent). Every new org's API key is appended to demo-org-keys.txt in
    the data dir (0600), never printed. `--orgs N` adds N more orgs for trying the console at scale (about a minute
    for 10,000); a re-run creates nothing and starts no run."""
    from rich.progress import Progress as RichProgress

    from ..demo import KEYS_FILE, save_keys, seed, seed_fleet

    with _service(as_json, create=True) as svc:
        keys = seed(svc)
        data_dir = svc.data_dir or Path(".data")
        path = save_keys(data_dir, keys) if keys else data_dir / KEYS_FILE
        named = f"Created {len(keys)} demo orgs ({', '.join(keys)})." if keys else "Demo orgs already present."
        if orgs is None:
            where = f" Their org API keys are in {path} (readable only by you)." if keys else ""
            _emit(as_json, {"created": sorted(keys), "keys_file": str(path)}, named + where)  # keys: in the file
            return
        with RichProgress(console=err, disable=as_json) as bar:
            task = bar.add_task("creating orgs", total=orgs)
            fleet = seed_fleet(svc, orgs, lambda done, total: bar.update(task, completed=done), keys_dir=data_dir)
        where = f" New org API keys are in {path} (readable only by you)." if keys or fleet["orgs"] else ""
        _emit(
            as_json,
            {**fleet, "created": sorted(keys), "keys_file": str(path)},
            f"{named} {fleet['orgs']:,} fleet org(s) created; {fleet['checked']:,} credential(s) checked.{where}",
        )


def reconcile(
    dry_run: Annotated[bool, typer.Option(help="Only report the drift.")] = False,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the status cache from the system of record."""
    with _service(as_json) as svc:
        report = svc.reconcile(dry_run=dry_run, actor=_actor(actor))
        lines = [
            f"{literal(d.org_slug)} {label(d.provider)}: "
            f"cache {label(d.cached_status) if d.cached_status else 'missing'} -> {label(d.recorded_status)}"
            for d in report.drifts
        ]
        verb = "would fix" if dry_run else "fixed"
        count = len(report.drifts) if dry_run else report.fixed
        _emit(as_json, report.model_dump(mode="json"), "\n".join(lines + [f"{count} drift(s) {verb}."]))
        _warn([] if as_json else report.warnings)


def rewrap(actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Re-encrypt active ciphertexts under the current key version."""
    from rich.progress import Progress as RichProgress

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


def api(
    host: Annotated[str, typer.Option(help="The address to listen on (the local profile: keep it loopback).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="The port, 1-65535.")] = 8000,
) -> None:
    """Serve the REST endpoints (OpenAPI at /docs). Exit 1 when the port is not a port or is in use."""
    if not 1 <= port <= 65535:  # noqa: PLR2004 - the TCP port range
        _error(False, IntegrationError(Code.INVALID_INPUT, f"--port {port} is not a TCP port: give 1-65535."))
    _bindable(host, port)
    _warn_exposed(host)
    import uvicorn

    from ..api import create_app

    with _service(False) as svc:  # a bad setting or a missing data dir: the catalog error, before the server starts
        app = create_app(svc)
    uvicorn.run(app, host=host, port=port)


def _warn_exposed(host: str) -> None:
    """The local profile (a keyring file, sandboxed or live checks, no TLS) is for this machine: say so when the
    API would listen beyond it."""
    import ipaddress
    import os

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    profile = os.environ.get("INTEGRATIONS_PROFILE", "local").strip().lower()
    if not loopback and profile == "local":
        _warn(
            [
                f"--host {host} listens beyond this machine in the local profile (plain HTTP, the local keyring): "
                "anyone who can reach it may try org API keys. Use 127.0.0.1, or deploy with the gcp profile."
            ]
        )


def _bindable(host: str, port: int) -> None:
    """Refuse at once, with a catalog code, an address another process holds (uvicorn would exit 3 after start-up)
    or one this machine does not have."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        _error(False, IntegrationError(Code.INVALID_INPUT, f"--host {host} is not an address or a known host name."))
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                _error(False, IntegrationError(Code.ADDRESS_IN_USE, f"{host}:{port} is already in use."))
            _error(False, IntegrationError(Code.INVALID_INPUT, f"Cannot listen on {host}:{port}: {exc.strerror}."))


def doctor(
    as_json: JsonOpt = False,
    role: Annotated[
        str, typer.Option(help="Whose needs to check: api (default), job (the nightly tasks) or finalize.")
    ] = "api",
) -> None:
    """Check every setting, permission, table, column, key and status column the profile needs; change nothing."""
    from ..doctor import ROLES, run

    try:
        if role not in ROLES:
            raise IntegrationError(Code.INVALID_INPUT, f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
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
