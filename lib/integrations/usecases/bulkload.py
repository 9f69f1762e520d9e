"""Registering many new orgs with their credentials at once (`integrations demo --orgs N`, an operator's import):
what `orgs.register` and `credentials.setup(skip_validation=True)` do one call at a time, in a few batched writes.

The data is the same: each org gets its status-cache row, its API key and its ORG_KEY event; each credential is
format-checked by its validator, sealed by the vault under its own associated data (real encryption, the current
key version checked once), stored PENDING with its SETUP event, and its status synced to the cache. What the
one-by-one calls repeat is done once: the key-version check, the format check of a credential given to many orgs
(a shared key file), and one store transaction and two cache writes per batch of orgs instead of several per
credential. No check reaches a provider (re-validate them afterwards) and no attempt limit is counted: this is an
operator's load, not a tenant's setup."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from pydantic import SecretStr

from .. import keyversions
from ..deps import Deps
from ..domain import Action, Event, OrgApiKey, Outcome, Provider, Status, StoredCredential, check_slug, make_event
from ..errors import Code, IntegrationError
from ..providers.base import ParsedCredential
from ..providers.kinds import refuse_wrong_kind
from ..vault import admit
from .credentials import sealed_record
from .maintenance import Progress
from .orgs import issued_event, new_key
from .recording import StatusUpdate, sync_batch

log = logging.getLogger("integrations")
BATCH_ORGS = 500  # orgs per store transaction: a failure loses at most one batch; other writers wait briefly
Plan = Mapping[str, Mapping[Provider | str, str | SecretStr]]


def register_many(deps: Deps, plan: Plan, actor: str = "system", progress: Progress | None = None) -> dict[str, str]:
    """Register the orgs of `plan` ({org_slug: {provider: credential}}), each with its credentials stored unchecked
    (PENDING). Everything is checked before anything is written: ORG_EXISTS for an org registered already, a format
    error (naming the org and provider) for a credential its validator refuses. Returns {org_slug: org API key},
    shown once. `progress(done, total)` after each batch of orgs."""
    chosen = {check_slug(slug): {Provider.parse(p): c for p, c in creds.items()} for slug, creds in plan.items()}
    taken = sorted(set(chosen) & {k.org_slug for k in deps.store.api_keys()})
    if taken:
        raise IntegrationError(
            Code.ORG_EXISTS,
            f"{len(taken)} of these organizations exist already (first {taken[0]!r}); load only new ones.",
        )
    parsed = _format_checked(deps, chosen)
    keyversions.check_current(deps.store, deps.cipher)  # once: never a ciphertext under a retired version
    slugs, keys = list(parsed), dict[str, str]()
    for start in range(0, len(slugs), BATCH_ORGS):
        batch = slugs[start : start + BATCH_ORGS]
        keys |= _load(deps, {slug: parsed[slug] for slug in batch}, actor)
        if progress:
            progress(start + len(batch), len(slugs))
    return keys


def _format_checked(
    deps: Deps, chosen: dict[str, dict[Provider, str | SecretStr]]
) -> dict[str, dict[Provider, ParsedCredential]]:
    """Each credential through its validator's format check, as setup's; a credential given to several orgs (the
    same key file) is checked once."""
    seen: dict[tuple[Provider, SecretStr], ParsedCredential] = {}
    out: dict[str, dict[Provider, ParsedCredential]] = {}
    for slug, creds in chosen.items():
        out[slug] = {}
        for provider, credential in creds.items():
            try:
                secret = admit(credential)
                if (provider, secret) not in seen:
                    validator = deps.validators[provider]
                    parsed = validator.parse(secret)
                    refuse_wrong_kind(provider, secret)
                    validator.check_metadata({})
                    seen[provider, secret] = parsed
            except IntegrationError as exc:  # the org and provider named; never the credential
                raise IntegrationError(exc.code, f"{slug} {provider.value}: {exc.message}") from None
            out[slug][provider] = seen[provider, secret]
    return out


def _load(deps: Deps, batch: dict[str, dict[Provider, ParsedCredential]], actor: str) -> dict[str, str]:
    """One batch: the cache rows, then one store write of keys, credentials and events, then one status sync."""
    keys: dict[str, str] = {}
    api_keys: list[OrgApiKey] = []
    issued: list[Event] = []
    setups: list[tuple[StoredCredential, Event]] = []
    deps.cache.create_orgs(list(batch))  # first, as register does (where the rows are not ours: they must exist)
    for slug, creds in batch.items():
        keys[slug], key = new_key(slug)
        api_keys.append(key)
        issued.append(issued_event(slug, key.key_id, actor))
        for provider, parsed in creds.items():
            started = time.monotonic()
            stored = sealed_record(deps, slug, provider, parsed, None, {}, Status.PENDING, actor)
            event = make_event(
                slug,
                provider,
                Action.SETUP,
                Outcome.SUCCESS,
                actor,
                started,
                credential_id=stored.credential_id,
                status_before=Status.NOT_CONFIGURED,  # what activate's `replacing` says of a first credential
                status_after=Status.PENDING,
                message="Configured.",
            )
            setups.append((stored, event))
    updates: list[StatusUpdate] = [(r.org_slug, r.provider, Status.PENDING, r.created_at) for r, _ in setups]
    with deps.locks.hold((r.org_slug, r.provider) for r, _ in setups):  # synced in the order the store committed
        deps.store.add_new_orgs(api_keys, setups, issued)
        deps.known_orgs.update(batch)
        for warning in sync_batch(deps, updates, actor):  # a failure leaves SYNC events; reconcile repairs it
            log.warning("bulk load: %s", warning)
    return keys
