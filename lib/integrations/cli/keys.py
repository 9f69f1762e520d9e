"""`integrations org ...` (organizations and their API keys) and `integrations key ...` (the local keyring)."""

from __future__ import annotations

from typing import Annotated

import typer

from .output import PLAIN_HELP, JsonOpt, _actor, _emit, _service, literal

org_app = typer.Typer(help="Organizations and their API keys.", no_args_is_help=True, **PLAIN_HELP)
org_key_app = typer.Typer(help="Org API keys.", no_args_is_help=True, **PLAIN_HELP)
key_app = typer.Typer(help="The local encryption keyring.", no_args_is_help=True, **PLAIN_HELP)
org_app.add_typer(org_key_app, name="key")


@org_app.command("create")
def org_create(
    slug: str, name: Annotated[str | None, typer.Option(help="Display name.")] = None, as_json: JsonOpt = False
) -> None:
    """Register an org and print a new org API key (shown once)."""
    with _service(as_json) as svc:
        key = svc.register_org(slug, name=name, actor=_actor(None))
        _emit(
            as_json,
            {"success": True, "org_slug": slug, "api_key": key},
            f"Organization {literal(slug)} ready.\nAPI key (shown once, store it now): {literal(key)}",
        )


@org_key_app.command("rotate")
def org_key_rotate(slug: str, as_json: JsonOpt = False) -> None:
    """Revoke the org's API keys and print a new one (shown once)."""
    with _service(as_json) as svc:
        key = svc.rotate_org_key(slug, actor=_actor(None))  # ORG_NOT_FOUND before touching keys
        _emit(
            as_json,
            {"success": True, "org_slug": slug, "api_key": key},
            f"New API key for {literal(slug)} (shown once): {literal(key)}",
        )


@org_key_app.command("revoke")
def org_key_revoke(slug: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of the org."""
    with _service(as_json) as svc:
        count = svc.revoke_org_keys(slug, actor=_actor(None))  # ORG_NOT_FOUND for an unknown org
        _emit(
            as_json,
            {"success": True, "org_slug": slug, "revoked": count},
            f"Revoked {count} key(s) of {literal(slug)}.",
        )


@org_app.command("alert-secret")
def org_alert_secret(
    slug: Annotated[str | None, typer.Argument(help="The org; omit for the operator's webhook.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the secret an org's alert webhook (or the operator's) verifies our signed posts with. Derived from
    INTEGRATIONS_ALERT_SIGNING_SECRET, never stored or logged: hand it to its owner over a private channel."""
    with _service(as_json) as svc:
        secret = svc.alert_signing_secret(slug)  # ORG_NOT_FOUND for an unknown org, CONFIGURATION_ERROR unsigned
        who = literal(slug) if slug else "the operator"
        _emit(
            as_json,
            {"org_slug": slug, "signing_secret": secret, "header": "X-Integrations-Signature"},
            f"Alert signing secret for {who} (keep it secret): {secret}\n"
            "Verify X-Integrations-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.' + raw body)>.",
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
