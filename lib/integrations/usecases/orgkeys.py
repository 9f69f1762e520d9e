"""The org API key lifecycle: issue, rotate, revoke, authenticate.

A key is `{org_slug}_api_{random}`, shown once; only a SHA-256 hash and a prefix are stored. Issuing, rotating and
revoking each write an event. Authenticating reads the key's row every time (one point read): a key revoked by any
process stops working at once, in every process (no cache to outlive a revocation)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from ..deps import Deps
from ..domain import Action, OrgApiKey, Outcome, make_event
from ..errors import Code, IntegrationError
from ..store.base import IntegrationStore
from .recording import record
from .registry import require


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key_id(key_hash: str) -> str:
    return f"key_{key_hash[:16]}"


def _issue(store: IntegrationStore, org_slug: str) -> tuple[str, str]:
    """(the new key, its key_id)."""
    key = f"{org_slug}_api_{secrets.token_urlsafe(32)}"
    digest = _hash(key)
    store.add_api_key(
        OrgApiKey(
            org_slug=org_slug,
            key_id=_key_id(digest),
            key_prefix=_prefix(org_slug),
            key_hash=digest,
            created_at=datetime.now(UTC),
        )
    )
    return key, _key_id(digest)


def _prefix(org_slug: str) -> str:
    """The stored prefix: the key's fixed part only, never a character of its random part (issue 28). A key is
    named wherever it is shown (actors, events, diagnose) by its key_id, a fingerprint of its hash."""
    return f"{org_slug}_api_"


def _revoke(store: IntegrationStore, org_slug: str) -> int:
    return store.revoke_api_keys(org_slug, datetime.now(UTC))


def _event(deps: Deps, org_slug: str, actor: str, message: str) -> None:
    record(deps, make_event(org_slug, None, Action.ORG_KEY, Outcome.SUCCESS, actor, message=message))


def issue(deps: Deps, org_slug: str, actor: str = "system") -> str:
    """Create a key for the org and return it; it cannot be shown again. The caller checked the org."""
    key, key_id = _issue(deps.store, org_slug)
    _event(deps, org_slug, actor, f"Org API key issued ({key_id}).")
    return key


def rotate(deps: Deps, org_slug: str, actor: str = "system") -> str:
    """Revoke the org's keys and issue a new one, returned once (the old keys stop working at once, in every
    process). ORG_NOT_FOUND before any key is touched."""
    require(deps, org_slug)
    _revoke(deps.store, org_slug)
    key, key_id = _issue(deps.store, org_slug)
    _event(deps, org_slug, actor, f"Org API keys revoked; new key issued ({key_id}).")
    return key


def revoke(deps: Deps, org_slug: str, actor: str = "system") -> int:
    """Revoke every live key of the org; returns how many (ORG_NOT_FOUND for an unknown org)."""
    require(deps, org_slug)
    count = _revoke(deps.store, org_slug)
    _event(deps, org_slug, actor, f"{count} org API key(s) revoked.")
    return count


def authenticate(deps: Deps, org_slug: str, presented: str | None) -> OrgApiKey:
    """The live key record if `presented` is a key of `org_slug`; otherwise the matching catalog error."""
    if not presented:
        raise IntegrationError(Code.ORG_API_KEY_MISSING)
    digest = _hash(presented)
    found = deps.store.find_api_key(_key_id(digest))  # every time: a revocation anywhere counts at once
    if found is None or found.revoked_at is not None or not hmac.compare_digest(found.key_hash, digest):
        raise IntegrationError(Code.ORG_API_KEY_INVALID)
    if found.org_slug != org_slug:
        raise IntegrationError(Code.ORG_API_KEY_FORBIDDEN)
    return found


def live_keys(deps: Deps, org_slug: str) -> list[OrgApiKey]:
    """The org's keys that are not revoked, oldest first."""
    return [k for k in deps.store.api_keys(org_slug) if k.revoked_at is None]
