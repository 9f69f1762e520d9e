"""Org API keys: `{org_slug}_api_{random}`, shown once; only a SHA-256 hash and a prefix are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from .domain import OrgApiKey
from .errors import IntegrationError
from .store.base import IntegrationStore


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
    record = store.find_api_key(_key_id(digest))
    if record is None or record.revoked_at is not None or not hmac.compare_digest(record.key_hash, digest):
        raise IntegrationError("ORG_API_KEY_INVALID")
    if record.org_slug != org_slug:
        raise IntegrationError("ORG_API_KEY_FORBIDDEN")
    return record


def revoke(store: IntegrationStore, org_slug: str) -> int:
    """Revoke every live key of the org."""
    return store.revoke_api_keys(org_slug, datetime.now(UTC))


def rotate(store: IntegrationStore, org_slug: str) -> str:
    """Revoke the org's keys and issue a new one."""
    revoke(store, org_slug)
    return issue(store, org_slug)
