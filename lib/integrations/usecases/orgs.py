"""Organizations: which exist, registering one, their API keys, and what the status cache says about them.

An org exists when it was registered, i.e. it has API keys (live or revoked) in the system of record. The status
cache is never asked, so reads keep working while it is down.

The org API key lifecycle: issue, rotate, revoke, authenticate. A key is `{org_slug}_api_{random}`, shown once;
only a SHA-256 hash and a prefix are stored. Issuing, rotating and revoking each write an event. Authenticating
reads the key's row every time (one point read): a key revoked by any process stops working at once, in every
process (no cache to outlive a revocation).

The status cache is derived data, so reads never depend on it: when it cannot be read, or disagrees with the
record, the result carries a warning instead of failing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import limits
from ..deps import Deps
from ..domain import Action, Event, OrgApiKey, Outcome, Provider, Status, check_slug, make_event
from ..errors import CATALOG, Code, IntegrationError
from ..results import WarningInfo
from ..status_cache.base import CACHED_COLUMNS
from ..store.base import IntegrationStore
from .recording import record

if TYPE_CHECKING:
    import pandas as pd
else:
    from ..lazy_modules import pandas as pd  # imported when a frame is first built


def is_registered(deps: Deps, org_slug: str) -> bool:
    """True when the org was registered (it has at least one API key, revoked ones included)."""
    return bool(deps.store.api_keys(org_slug))


def registered(deps: Deps) -> list[str]:
    """Every registered org's slug, sorted, in one store query."""
    return sorted({k.org_slug for k in deps.store.api_keys()})


def require(deps: Deps, org_slug: str) -> str:
    """The slug, checked; ORG_NOT_FOUND unless the system of record has the org."""
    org_slug = check_slug(org_slug)
    if org_slug not in deps.known_orgs:
        if not is_registered(deps, org_slug):
            raise IntegrationError(
                Code.ORG_NOT_FOUND,
                f"No organization {org_slug!r}; register it with `integrations org create {org_slug}`.",
            )
        deps.known_orgs.add(org_slug)
    return org_slug


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key_id(key_hash: str) -> str:
    return f"key_{key_hash[:16]}"


def new_key(org_slug: str) -> tuple[str, OrgApiKey]:
    """A new key for the org and the record the store keeps of it (its hash and prefix); nothing is written."""
    key = f"{org_slug}_api_{secrets.token_urlsafe(32)}"
    digest = _hash(key)
    stored = OrgApiKey(
        org_slug=org_slug,
        key_id=_key_id(digest),
        key_prefix=_prefix(org_slug),
        key_hash=digest,
        created_at=datetime.now(UTC),
    )
    return key, stored


def _issue(store: IntegrationStore, org_slug: str) -> tuple[str, str]:
    """(the new key, its key_id)."""
    key, stored = new_key(org_slug)
    store.add_api_key(stored)
    return key, stored.key_id


def _prefix(org_slug: str) -> str:
    """The stored prefix: the key's fixed part only, never a character of its random part (issue 28). A key is
    named wherever it is shown (actors, events, diagnose) by its key_id, a fingerprint of its hash."""
    return f"{org_slug}_api_"


def _revoke(store: IntegrationStore, org_slug: str) -> int:
    return store.revoke_api_keys(org_slug, datetime.now(UTC))


def _event(deps: Deps, org_slug: str, actor: str, message: str) -> None:
    record(deps, make_event(org_slug, None, Action.ORG_KEY, Outcome.SUCCESS, actor, message=message))


def issued_event(org_slug: str, key_id: str, actor: str) -> Event:
    """The ORG_KEY event of a key issued to a new org."""
    return make_event(org_slug, None, Action.ORG_KEY, Outcome.SUCCESS, actor, message=f"Org API key issued ({key_id}).")


def issue(deps: Deps, org_slug: str, actor: str = "system") -> str:
    """Create a key for the org and return it; it cannot be shown again. The caller checked the org."""
    key, key_id = _issue(deps.store, org_slug)
    record(deps, issued_event(org_slug, key_id, actor))
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


def register(deps: Deps, org_slug: str, name: str | None = None, actor: str = "system") -> str:
    """Issue an org API key (returned once), registering the org. Its status-cache row is created where the cache
    owns its rows (local); Supabase's belong to the frontend, so there the row must exist already (ORG_NOT_FOUND
    otherwise, and nothing is issued). An org that has keys already is refused (ORG_EXISTS): a second live key is
    issued only by rotate."""
    try:
        check_slug(org_slug)
    except IntegrationError as exc:  # a new org: the fix is choosing a slug, not typing a registered one
        raise IntegrationError(exc.code, exc.message, fix=CATALOG[Code.INVALID_ORG_SLUG].fixes[1]) from None
    name = limits.org_name(name)  # shown in the console and the status cache: one plain line
    if deps.store.api_keys(org_slug):
        raise IntegrationError(
            Code.ORG_EXISTS,
            f"Organization {org_slug!r} exists; rotate its key instead.",
            fix=f"To replace its API key, run `integrations org key rotate {org_slug}` (the old key stops working).",
        )
    deps.cache.create_org(org_slug, name)
    key = issue(deps, org_slug, actor)
    deps.known_orgs.add(org_slug)
    return key


def unreadable(exc: IntegrationError, more: str = "") -> WarningInfo:
    message = f"the status cache could not be read ({exc.message}); statuses shown come from the system of record."
    return WarningInfo.of(exc.code, message + more)


def cache_warnings(deps: Deps, org_slug: str, recorded: dict[Provider, Status]) -> list[WarningInfo]:
    """Warnings about the org's cached statuses: unreadable, missing, or different from `recorded`."""
    try:
        row = deps.cache.get_org(org_slug)
    except IntegrationError as exc:
        return [unreadable(exc)]
    if row is None:
        message = f"The status cache has no row for {org_slug}; run `integrations reconcile` once the org has one."
        return [WarningInfo.of(Code.STATUS_CACHE_DRIFT, message)]
    differing = [p.value for p, status in recorded.items() if row.status_of(p).status != status]
    if differing:
        return [
            WarningInfo.of(
                Code.STATUS_CACHE_DRIFT,
                f"The status cache disagrees with the system of record for {', '.join(differing)}; "
                "run `integrations reconcile` to repair it.",
            )
        ]
    return []


def cached_frame(deps: Deps) -> tuple[pd.DataFrame, list[str]]:
    """The cache's status frame, or an empty one and a warning when the cache cannot be read."""
    try:
        return deps.cache.status_frame(), []
    except IntegrationError as exc:
        if exc.code != Code.STATUS_CACHE_READ_FAILED:
            raise
        return pd.DataFrame(columns=CACHED_COLUMNS), [str(unreadable(exc, " Drift cannot be computed meanwhile."))]
