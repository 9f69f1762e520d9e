"""CLI writes on one credential: `setup` (check, encrypt, store; keyless GCP too), `keyless` (what to grant),
`validate` (a live re-check) and `delete`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

from ..errors import Code, IntegrationError
from .output import (
    Actor,
    JsonOpt,
    ProviderArg,
    _actor,
    _capabilities,
    _emit,
    _error,
    _service,
    _warn,
    label,
    literal,
    out,
)

if TYPE_CHECKING:  # the models (pydantic) load only when a command runs
    from ..results import Keyless


def _read_credential(credential_file: Path | None, credential_stdin: bool, as_json: bool) -> str:
    """The credential from stdin or a file, never more than the credential size cap read (a file's size is looked at
    before it is opened; /dev/zero or a pipe is read up to the cap): over it, MALFORMED_CREDENTIAL as the library
    says it."""
    from ..domain import CREDENTIAL_TOO_LARGE, MAX_CREDENTIAL_BYTES

    if (credential_file is None) == (not credential_stdin):
        raise typer.BadParameter("give exactly one of --credential-file F or --credential-stdin")
    too_large = IntegrationError(Code.MALFORMED_CREDENTIAL, CREDENTIAL_TOO_LARGE)
    try:
        if credential_stdin:
            text = sys.stdin.read(MAX_CREDENTIAL_BYTES + 1)
        else:
            assert credential_file is not None
            if credential_file.is_file() and credential_file.stat().st_size > MAX_CREDENTIAL_BYTES:
                _error(as_json, too_large)
            with credential_file.open(encoding="utf-8") as f:
                text = f.read(MAX_CREDENTIAL_BYTES + 1)
        if len(text) > MAX_CREDENTIAL_BYTES:  # characters: at least as many bytes
            _error(as_json, too_large)
        return text
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {credential_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise typer.BadParameter("the credential is not UTF-8 text (a key file is plain text or JSON)") from None


def _metadata(text: str | None, as_json: bool) -> Any:
    """--metadata as JSON (its shape is checked by the library, as for every entry point); not JSON is INVALID_INPUT
    (exit 1) as a JSON value of the wrong shape is."""
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        problem = f"--metadata is not JSON: {exc.msg} (at character {exc.pos})."
    except (ValueError, RecursionError):  # an integer over 4,300 digits, or nesting too deep
        problem = "--metadata holds a number too large or nesting too deep."
    _error(as_json, IntegrationError(Code.INVALID_INPUT, problem, fix='Give a flat JSON object, e.g. {"env": "prod"}.'))


def _checked(result: Any, label: str, as_json: bool, message: str | None = None, more: str = "") -> None:
    """A live check's outcome (validate, test): its label, message, code and fix; exit 1 unless it succeeded."""
    colour = "green" if result.success else "red"
    _emit(
        as_json,
        result.model_dump(mode="json"),
        f"[{colour}]{label}[/]: {literal(result.message if message is None else message)}"
        + (f"\n[bold]{result.error.code}[/] · [dim]Fix:[/] {literal(result.error.hint)}" if result.error else "")
        + more
        + _capabilities(result.capabilities),
    )
    _warn([] if as_json else result.warnings)
    if not result.success:
        raise typer.Exit(1)


def setup(
    org: str,
    provider: ProviderArg,
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
    secret = None if keyless else _read_credential(credential_file, credential_stdin, as_json)
    meta = _metadata(metadata, as_json)
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
            + (f" · {label(result.credential_kind)}" if result.credential_kind else "")
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
    from ..results import Keyless

    return Keyless(export_table, customer_sa)


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


def validate(org: str, provider: ProviderArg, actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Re-check the stored credential live. Exit 1 unless it is valid."""
    with _service(as_json) as svc:
        result = svc.validate(org, provider, actor=_actor(actor))
        if result.error is not None and result.error.retryable:  # said nothing about the key: the status was kept
            shown = f"{label('INCONCLUSIVE')} (status unchanged: {label(result.validation_status)})"
            more = f"\n[dim]Troubleshoot:[/] integrations diagnose {literal(org)} {literal(provider.lower())}"
            _checked(result, shown, as_json, message=result.error.message, more=more)
        else:
            _checked(result, label(result.validation_status), as_json)


def test_credential(
    org: str,
    provider: ProviderArg,
    credential_file: Annotated[Path | None, typer.Option(help="File holding the credential.")] = None,
    credential_stdin: Annotated[bool, typer.Option(help="Read the credential from stdin.")] = False,
    metadata: Annotated[str | None, typer.Option(help="Flat JSON object (GCP: billing_export_table).")] = None,
    actor: Actor = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a credential with its provider WITHOUT saving it (nothing stored, no status change). Counts against the
    org's attempt limit. Exit 1 unless the provider accepted it."""
    secret = _read_credential(credential_file, credential_stdin, as_json)
    meta = _metadata(metadata, as_json)
    with _service(as_json) as svc:
        result = svc.test_credential(org, provider, secret, meta, actor=_actor(actor))
        del secret
        _checked(result, label(result.outcome), as_json)


def delete(org: str, provider: ProviderArg, actor: Actor = None, as_json: JsonOpt = False) -> None:
    """Deactivate the credential and erase its ciphertext (history is kept)."""
    with _service(as_json) as svc:
        result = svc.delete(org, provider, actor=_actor(actor))
        _emit(as_json, result.model_dump(mode="json"), literal(result.message))
        _warn([] if as_json else result.warnings)
