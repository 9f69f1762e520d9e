"""Org API keys: `{org_slug}_api_{random}`, shown once; only a SHA-256 hash and a prefix are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import weakref
from datetime import UTC, datetime

from .domain import OrgApiKey
from .errors import IntegrationError
from .store.base import IntegrationStore

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

    def put(self, store: IntegrationStore, digest: str, record: OrgApiKey) -> None:
        with self._lock:
            entries = self._by_store.setdefault(store, {})
            if len(entries) >= VERIFIED_MAX:
                entries.clear()
            entries[digest] = (time.monotonic(), record)

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


def issue(store: IntegrationStore, org_slug: str) -> str:
    """Create a key for the org and return it; it cannot be shown again."""
    key = f"{org_slug}_api_{secrets.token_urlsafe(32)}"
    digest = _hash(key)
    store.add_api_key(
        OrgApiKey(
            org_slug=org_slug,
            key_id=_key_id(digest),
            key_prefix=key[: len(org_slug) + 9],
            key_hash=digest,
            created_at=datetime.now(UTC),
        )
    )
    return key


def verify(store: IntegrationStore, org_slug: str, presented: str | None) -> OrgApiKey:
    """The live key record if `presented` is a key of `org_slug`; otherwise the matching catalog error."""
    if not presented:
        raise IntegrationError("ORG_API_KEY_MISSING")
    digest = _hash(presented)
    record = verified.get(store, digest)
    if record is None:
        record = store.find_api_key(_key_id(digest))
        if record is None or record.revoked_at is not None or not hmac.compare_digest(record.key_hash, digest):
            raise IntegrationError("ORG_API_KEY_INVALID")
        verified.put(store, digest, record)
    if record.org_slug != org_slug:
        raise IntegrationError("ORG_API_KEY_FORBIDDEN")
    return record


def revoke(store: IntegrationStore, org_slug: str) -> int:
    """Revoke every live key of the org (at once in this process; within VERIFIED_TTL_S in others)."""
    verified.forget_org(store, org_slug)
    try:
        return store.revoke_api_keys(org_slug, datetime.now(UTC))
    finally:
        verified.forget_org(store, org_slug)  # a verify that raced the revocation is dropped too


def rotate(store: IntegrationStore, org_slug: str) -> str:
    """Revoke the org's keys and issue a new one."""
    revoke(store, org_slug)
    return issue(store, org_slug)
