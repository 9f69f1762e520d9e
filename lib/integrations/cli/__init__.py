"""The `integrations` command. Human output by default, JSON with --json; exit 0 ok, 1 failed, 2 usage.

This module only wires the commands; they live by purpose: `credentials` (setup, keyless, validate, delete),
`reads` (status, get, diagnose), `runs` (revalidate), `keys` (org and keyring keys), `admin` (init, demo,
reconcile, rewrap, api, doctor); `output` is what they share."""

from __future__ import annotations

import typer

from . import admin, credentials, reads
from .keys import key_app, org_app
from .output import PLAIN_HELP, out
from .runs import revalidate_app

__all__ = ["app", "main", "out"]  # out: the console, for a caller (a test) setting its width

app = typer.Typer(
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
app.command()(admin.reconcile)
app.command()(admin.rewrap)
app.command()(admin.api)
app.command()(admin.doctor)


def main() -> None:
    app()
