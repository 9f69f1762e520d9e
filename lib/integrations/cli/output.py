"""What every `integrations` command shares: building the service, printing text or JSON, tenant text kept literal."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from .. import provider_registry
from ..errors import IntegrationError

if TYPE_CHECKING:
    from ..domain import Capability
    from ..service import IntegrationService

# Plain help text: typer's Rich help panels cost ~0.2 s of CPU at every `--help` (a CLI answers at once)
PLAIN_HELP: dict[str, Any] = {"rich_markup_mode": None}


class _LazyConsole:
    """A Rich console made when first used: `--help` and a command's parsing never import rich.console."""

    def __init__(self, **options: Any) -> None:
        self._options: dict[str, Any] = options
        self._console: Any = None

    def _made(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    def __enter__(self) -> Any:  # a progress bar holds the console while it redraws
        return self._made().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._made().__exit__(*exc)


out: Any = _LazyConsole(soft_wrap=True, emoji=False)  # keys and ids must stay on one line to be copied
err: Any = _LazyConsole(stderr=True, soft_wrap=True, emoji=False)
# C0 and C1 control characters, shown as \x1b etc.: tenant text never moves the operator's cursor or makes links
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Actor = Annotated[str | None, typer.Option(help="Who is acting (default: the OS user).")]
ProviderArg = Annotated[
    str, typer.Argument(help="The provider, in any case: " + ", ".join(n.lower() for n in provider_registry.names()))
]


def literal(text: object) -> str:
    """Tenant-chosen text for the terminal: Rich markup escaped, control characters shown, never interpreted."""
    from rich.markup import escape

    return escape(str(text).translate(_CONTROLS))


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _json_value(value: object) -> object:
    """What json cannot write itself: a time as ISO 8601 in UTC with a Z (as every model's JSON), else its text."""
    if isinstance(value, datetime):
        at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return at.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def when(at: datetime | None, empty: str = "") -> str:
    """A time as people read it: to the second, in UTC; `empty` for none (None, or pandas' NaT in a frame)."""
    return empty if at is None or at != at else f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _emit(as_json: bool, data: Any, text: str | Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=_json_value, indent=2) + "\n")
    elif callable(text):
        text()
    else:
        out.print(text)


@contextmanager
def _service(as_json: bool, require_cache: bool = False, create: bool = False) -> Iterator[IntegrationService]:
    """Build the service; turn catalog errors (a bad setting included) into a message with the fix and exit code 1.
    Only `create` (init, demo) makes a missing data dir: elsewhere it is refused ("Run `integrations init`")."""
    try:
        from ..bootstrap import connect  # the SDKs, pandas and the cloud clients: only for a command that runs

        yield connect(require_cache=require_cache, installed=not create)
    except IntegrationError as exc:
        _error(as_json, exc)


def _error(as_json: bool, exc: IntegrationError) -> NoReturn:
    """Print a catalog error with its fix; exit 1."""
    if as_json:
        sys.stdout.write(json.dumps({"success": False, "error": exc.to_json()}, indent=2) + "\n")
    else:
        err.print(f"[bold red]{exc.code}[/]: {literal(exc.message)}\n[dim]Fix:[/] {literal(exc.hint)}")
    raise typer.Exit(1) from None


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]warning[/]: {literal(w)}")


def _capabilities(capabilities: list[Capability]) -> str:
    """One line per capability: inference / cost data, passed or not available, and why."""
    return "".join(f"\n  {c.name}: {c.status} - {literal(c.detail)}" for c in capabilities)


def label(value: object) -> str:
    """An enum value as people read it ("API key", "Not configured"); --json keeps the value. The labels come from
    integrations.labels, imported when first printed: parsing a command line loads no model (pydantic)."""
    from ..labels import label as said

    return said(value)
