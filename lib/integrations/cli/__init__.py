"""The `integrations` command. Human output by default, JSON with --json; exit 0 ok, 1 failed, 2 usage.

This module only wires the commands; they live by purpose: `credentials` (setup, keyless, validate, delete),
`reads` (status, get, diagnose), `runs` (revalidate), `keys` (org and keyring keys), `admin` (init, demo,
reconcile, rewrap, api, doctor); `output` is what they share."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from . import admin, credentials, history, reads
from .keys import key_app, org_app
from .output import PLAIN_HELP, out
from .runs import revalidate_app

__all__ = ["app", "main", "out"]  # out: the console, for a caller (a test) setting its width


class _JsonErrors(TyperGroup):
    """With --json, a usage error (a missing argument, an unknown option, a bad value) is JSON too, with a catalog
    code (INVALID_INPUT), still exit 2: a script reads every failure the same way."""

    def main(self, args: Sequence[str] | None = None, *more: Any, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" not in argv or extra.get("standalone_mode") is False:
            return super().main(args, *more, **extra)
        try:
            code = super().main(args, *more, **{**extra, "standalone_mode": False})
        except typer.Abort:
            sys.exit(1)
        except typer.TyperException as exc:  # click's usage errors (typer's own copy of click)
            from ..errors import Code, IntegrationError

            said = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            refused = IntegrationError(Code.INVALID_INPUT, said, fix="Run the command with --help for its arguments.")
            sys.stdout.write(json.dumps({"success": False, "error": refused.to_json()}, indent=2) + "\n")
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_JsonErrors,
    help="Validate, encrypt, store and watch organizations' provider credentials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    **PLAIN_HELP,
)
app.add_typer(org_app, name="org")
app.add_typer(key_app, name="key")
app.command()(admin.init)
app.command()(admin.demo)
app.command()(credentials.setup)
app.command("keyless")(credentials.keyless_info)
app.command()(reads.status)
app.command()(credentials.validate)
app.command("test")(credentials.test_credential)
app.command()(credentials.delete)
app.command("providers")(reads.providers)
app.add_typer(revalidate_app, name="revalidate")
app.command("get")(reads.get_one)
app.command("diagnose")(reads.diagnose)
app.command("history")(history.history)
app.command("runs")(history.runs)
app.command()(admin.reconcile)
app.command()(admin.rewrap)
app.command()(admin.api)
app.command()(admin.doctor)


def main() -> None:
    app()
