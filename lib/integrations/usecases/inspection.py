"""What the audits read: stored rows (the ciphertext stays inside), store-side answers, the cache's org count, and
which ciphertexts no longer decrypt."""

from __future__ import annotations

from typing import Any

from ..deps import Deps
from ..domain import StoredCredential
from ..errors import IntegrationError


def credentials(deps: Deps, active_only: bool = True) -> list[StoredCredential]:
    """Every credential row (all orgs), in one store query."""
    return deps.store.list_credentials(active_only=active_only)


def stored_answer(deps: Deps, question: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """An audit question answered inside the store, or None where the caller aggregates in pandas."""
    return deps.store.audit(question, params)


def cached_org_count(deps: Deps) -> int:
    """How many orgs the status cache has a row for."""
    return len(deps.cache.all_orgs())


def undecryptable(deps: Deps) -> list[tuple[StoredCredential, IntegrationError]]:
    """Active rows whose ciphertext fails to decrypt under their own associated data (plaintexts are dropped)."""
    failures = []
    for record in deps.store.list_credentials():
        if record.encrypted_credential is None:
            continue
        try:
            deps.vault.verify(record)
        except IntegrationError as exc:
            failures.append((record, exc))
    return failures
