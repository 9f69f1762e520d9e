"""The encryption key versions: rotate and retire the local keyring's versions, list what the store recorded."""

from __future__ import annotations

from typing import Any

from .. import keyversions
from ..deps import Deps
from ..errors import Code, IntegrationError


def rotate(deps: Deps) -> str:
    """Add a new local keyring version (recorded in the store); run rewrap afterwards."""
    add = getattr(deps.cipher, "rotate", None)
    if add is None:
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
            "Only the local keyring rotates here; rotate a Cloud KMS key in Google Cloud, then run "
            "`integrations rewrap`.",
        )
    ref = str(add())
    keyversions.verify(deps.store, deps.cipher)
    return ref


def retire(deps: Deps, key_ref: str) -> None:
    """Remove an old key version for good; refused (KEY_VERSION_IN_USE) while any ciphertext uses it."""
    keyversions.retire(deps.store, deps.cipher, key_ref)


def versions(deps: Deps) -> list[dict[str, Any]]:
    """The key versions the store recorded, each with whether the cipher holds it and how many use it."""
    held, rows = deps.cipher.key_versions(), deps.store.list_credentials()
    current = deps.vault.current_key_ref()
    return [
        {
            "key_ref": v.key_ref,
            "created_at": v.created_at,
            "retired_at": v.retired_at,
            "in_keyring": held.get(v.key_ref) == v.key_check,
            "current": v.key_ref == current,
            "credentials": sum(1 for r in rows if r.key_ref == v.key_ref and r.encrypted_credential),
        }
        for v in sorted(deps.store.key_versions().values(), key=lambda v: v.created_at)
    ]
