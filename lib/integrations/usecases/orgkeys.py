"""The org API key lifecycle: issue, rotate, revoke, authenticate.

A key is `{org_slug}_api_{random}`, shown once; only a SHA-256 hash and a prefix are stored. Issuing, rotating and
revoking each write an event; authenticating costs no store query for a key verified in the last 30 s."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import weakref
from datetime import UTC, datetime

from ..deps import Deps
from ..domain import Action, OrgApiKey, Outcome, make_event
from ..errors import Code, IntegrationError
from ..store.base import IntegrationStore
from .recording import record
from .registry import require

VERIFIED_TTL_S = 30.0  # a key revoked by another process stops working within this long
VERIFIED_MAX = 10_000


class _Verified:
    """Hashes of keys verified recently, per store: a REST call does not cost a store query (a BigQuery job)
    for a key seen less than VERIFIED_TTL_S ago. Only live keys are kept; revocation here drops them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_store: weakref.WeakKeyDictionary[IntegrationStore, dict[str, tuple[float, OrgApiKey]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, store: IntegrationStore, digest: str) -> OrgApiKey | None:
        with self._lock:
            hit = self._by_store.get(store, {}).get(digest)
        return hit[1] if hit and time.monotonic() - hit[0] < VERIFIED_TTL_S else None

    def put(self, store: IntegrationStore, digest: str, key: OrgApiKey) -> None:
        with self._lock:
            entries = self._by_store.setdefault(store, {})
            if len(entries) >= VERIFIED_MAX:
                entries.clear()
            entries[digest] = (time.monotonic(), key)

    def forget_org(self, store: IntegrationStore, org_slug: str) -> None:
        with self._lock:
            entries = self._by_store.get(store, {})
            for digest in [d for d, (_, r) in entries.items() if r.org_slug == org_slug]:
                del entries[digest]


verified = _Verified()


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
    verified.forget_org(store, org_slug)
    try:
        return store.revoke_api_keys(org_slug, datetime.now(UTC))
    finally:
        verified.forget_org(store, org_slug)  # a verify that raced the revocation is dropped too


def _event(deps: Deps, org_slug: str, actor: str, message: str) -> None:
    record(deps, make_event(org_slug, None, Action.ORG_KEY, Outcome.SUCCESS, actor, message=message))


def issue(deps: Deps, org_slug: str, actor: str = "system") -> str:
    """Create a key for the org and return it; it cannot be shown again. The caller checked the org."""
    key, key_id = _issue(deps.store, org_slug)
    _event(deps, org_slug, actor, f"Org API key issued ({key_id}).")
    return key


def rotate(deps: Deps, org_slug: str, actor: str = "system") -> str:
    """Revoke the org's keys and issue a new one, returned once (at once in this process; within VERIFIED_TTL_S in
    others). ORG_NOT_FOUND before any key is touched."""
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
    found = verified.get(deps.store, digest)
    if found is None:
        found = deps.store.find_api_key(_key_id(digest))
        if found is None or found.revoked_at is not None or not hmac.compare_digest(found.key_hash, digest):
            raise IntegrationError(Code.ORG_API_KEY_INVALID)
        verified.put(deps.store, digest, found)
    if found.org_slug != org_slug:
        raise IntegrationError(Code.ORG_API_KEY_FORBIDDEN)
    return found


def live_keys(deps: Deps, org_slug: str) -> list[OrgApiKey]:
    """The org's keys that are not revoked, oldest first."""
    return [k for k in deps.store.api_keys(org_slug) if k.revoked_at is None]
