"""Hand-written in-memory fakes; each passes the same contract suite as the real adapters."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from integrations.alerts.base import AlertDelivery, Budget, Destination, Digest, body_of, headers_for, signing_secret
from integrations.crypto.base import Cipher, Sealed, key_check
from integrations.domain import (
    Action,
    CachedStatus,
    Event,
    Expiry,
    OrgApiKey,
    OrgRow,
    Outcome,
    Provider,
    Status,
    StoredCredential,
)
from integrations.errors import IntegrationError
from integrations.fingerprint import task_of
from integrations.freshness import Freshness
from integrations.status_cache.base import StatusCache
from integrations.store.base import (
    CiphertextSwap,
    IntegrationStore,
    KeyVersion,
    ValidationUpdate,
    replacing,
    superseded,
)
from integrations.store.staging import RunProgress, RunRow, RunState, StagedResult


class InMemoryStore(IntegrationStore):
    name = "memory"

    def __init__(self) -> None:
        self.rows: dict[str, StoredCredential] = {}
        self.event_rows: list[Event] = []
        self.keys: dict[str, OrgApiKey] = {}
        self.versions: dict[str, KeyVersion] = {}
        self.staged: dict[tuple[str, str], StagedResult] = {}  # (run_id, credential_id) -> the first staged result
        self.tasks: dict[tuple[str, int], tuple[int, datetime]] = {}  # (run_id, index) -> (count, done_at)
        self.lock = threading.RLock()

    def key_versions(self) -> dict[str, KeyVersion]:
        with self.lock:
            return dict(self.versions)

    def record_key_version(self, key_ref: str, key_check: str, at: datetime) -> None:
        with self.lock:
            self.versions.setdefault(key_ref, KeyVersion(key_ref, key_check, at))

    def retire_key_version(self, key_ref: str, at: datetime) -> None:
        with self.lock:
            if key_ref in self.versions and self.versions[key_ref].retired_at is None:
                self.versions[key_ref] = self.versions[key_ref]._replace(retired_at=at)

    def init(self) -> None:
        pass

    def _active(self, org_slug: str, provider: Provider) -> StoredCredential | None:
        return next(
            (r for r in self.rows.values() if r.org_slug == org_slug and r.provider == provider and r.is_active), None
        )

    def activate(self, record: StoredCredential, event: Event) -> StoredCredential | None:
        with self.lock:
            previous = self._active(record.org_slug, record.provider)
            if previous:
                self.rows[previous.credential_id] = previous.model_copy(
                    update={"is_active": False, "encrypted_credential": None, "deleted_at": record.created_at}
                )
            self.rows[record.credential_id] = record.model_copy()
            self.event_rows.append(replacing(event, previous))
            return previous

    def get_active(self, org_slug: str, provider: Provider) -> StoredCredential | None:
        with self.lock:
            row = self._active(org_slug, provider)
            return row.model_copy() if row else None

    def list_credentials(self, org_slug: str | None = None, active_only: bool = True) -> list[StoredCredential]:
        with self.lock:
            rows = [
                r.model_copy()
                for r in self.rows.values()
                if (org_slug is None or r.org_slug == org_slug) and (r.is_active or not active_only)
            ]
        return sorted(rows, key=lambda r: (r.org_slug, r.provider.value, r.created_at))

    def _record_one(
        self,
        credential_id: str,
        status: Status,
        error_code: str | None,
        error_message: str | None,
        validated_at: datetime | None,
        actor: str,
        event: Event,
    ) -> bool:
        with self.lock:
            row = self.rows.get(credential_id)
            self.event_rows.append(event)
            if row is None or not row.is_active:
                return False
            self.rows[credential_id] = row.model_copy(
                update={
                    "validation_status": status,
                    "validation_error_code": error_code,
                    "validation_error_message": error_message,
                    "updated_at": event.at,
                    "updated_by": actor,
                    "last_validated_at": validated_at or row.last_validated_at,
                }
            )
            return True

    def record_validations(self, updates: list[ValidationUpdate]) -> set[str]:
        with self.lock:
            matched = set()
            for u in updates:
                row = self.rows.get(u.credential_id)
                if row is None or u.expected_updated_at not in (None, row.updated_at):
                    self.event_rows.append(superseded(u.event))
                elif self._record_one(*u[:7]):
                    matched.add(u.credential_id)
                    if u.freshness is not None:
                        self.record_freshness(u.credential_id, u.freshness)
                    if u.expiry is not None:
                        self.record_expiry(u.credential_id, u.expiry)
                else:
                    self.event_rows[-1] = superseded(u.event)
            return matched

    def record_freshness(self, credential_id: str, freshness: Freshness) -> None:
        with self.lock:
            row = self.rows[credential_id]
            self.rows[credential_id] = row.model_copy(
                update={
                    "data_status": freshness.data_status,
                    "data_through": freshness.data_through,
                    "data_newest_at": freshness.data_newest_at,
                    "last_success_at": freshness.last_success_at,
                }
            )

    def record_expiry(self, credential_id: str, expiry: Expiry) -> None:
        with self.lock:
            row = self.rows[credential_id]
            update = {"expiry": expiry.label, "expires_at": expiry.expires_at, "last_used_at": expiry.last_used_at}
            self.rows[credential_id] = row.model_copy(update=update)

    def deactivate(
        self, org_slug: str, provider: Provider, at: datetime, actor: str, event: Event
    ) -> StoredCredential | None:
        with self.lock:
            row = self._active(org_slug, provider)
            if row:
                self.rows[row.credential_id] = row.model_copy(
                    update={"is_active": False, "encrypted_credential": None, "deleted_at": at, "updated_by": actor}
                )
                self.event_rows.append(event)
            return row

    def replace_ciphertexts(self, swaps: list[CiphertextSwap]) -> set[str]:
        swapped = set()
        with self.lock:
            for s in swaps:
                row = self.rows.get(s.credential_id)
                if row is None or not row.is_active or row.key_ref != s.expected_key_ref:
                    continue
                update = {"encrypted_credential": s.ciphertext, "key_ref": s.key_ref}
                self.rows[s.credential_id] = row.model_copy(update=update)
                self.event_rows.append(s.event)
                swapped.add(s.credential_id)
        return swapped

    def append_events(self, events: list[Event]) -> None:
        with self.lock:
            self.event_rows.extend(events)

    def events(self, org_slug: str | None = None, since: datetime | None = None) -> list[Event]:
        with self.lock:
            rows = [
                (i, e)
                for i, e in enumerate(self.event_rows)
                if (org_slug is None or e.org_slug == org_slug) and (since is None or e.at >= since)
            ]
        return [e for _, e in sorted(rows, key=lambda p: (p[1].at, p[0]), reverse=True)]

    def add_api_key(self, key: OrgApiKey) -> None:
        with self.lock:
            self.keys[key.key_id] = key

    def find_api_key(self, key_id: str) -> OrgApiKey | None:
        return self.keys.get(key_id)

    def revoke_api_keys(self, org_slug: str, at: datetime) -> int:
        with self.lock:
            live = [k for k in self.keys.values() if k.org_slug == org_slug and k.revoked_at is None]
            for k in live:
                self.keys[k.key_id] = k.model_copy(update={"revoked_at": at})
            return len(live)

    def api_keys(self, org_slug: str | None = None) -> list[OrgApiKey]:
        return sorted(
            (k for k in self.keys.values() if org_slug is None or k.org_slug == org_slug), key=lambda k: k.created_at
        )

    # --- re-validation runs: the same rules as the SQLite store's SQL, over dicts ---------------------------------
    def _run(self, run_id: str, since: datetime) -> list[StagedResult]:
        with self.lock:
            found = [r for (run, _), r in self.staged.items() if run == run_id and r.checked_at >= since]
        return sorted(found, key=lambda r: r.credential_id)

    def _share(self, index: int, count: int) -> list[StoredCredential]:
        with self.lock:
            rows = [r for r in self.rows.values() if r.is_active and task_of(r.credential_id, count) == index]
        return sorted(rows, key=lambda r: r.credential_id)

    def share_counts(self, run_id: str, since: datetime, index: int, count: int) -> tuple[int, int]:
        staged = {r.credential_id for r in self._run(run_id, since)}
        share = self._share(index, count)
        return len(share), sum(r.credential_id in staged for r in share)

    def pending_for_run(
        self, run_id: str, since: datetime, index: int = 0, count: int = 1
    ) -> Iterator[StoredCredential]:
        staged = {r.credential_id for r in self._run(run_id, since)}
        for row in self._share(index, count):
            if row.credential_id not in staged:
                yield row.model_copy()

    def stage_results(self, results: list[StagedResult]) -> None:
        with self.lock:
            for r in results:
                self.staged.setdefault((r.run_id, r.credential_id), r)

    def task_done(self, run_id: str, index: int, count: int, at: datetime) -> None:
        with self.lock:
            self.tasks[(run_id, index)] = (count, at)

    def run_state(self, run_id: str, since: datetime) -> RunState:
        results = self._run(run_id, since)
        with self.lock:
            done = [(n, at) for (run, _), (n, at) in self.tasks.items() if run == run_id and at >= since]
        times = [r.checked_at for r in results] + [at for _, at in done]
        return RunState(len(results), len(done), max((n for n, _ in done), default=None), min(times, default=None))

    def runs_in_progress(self, since: datetime) -> list[RunProgress]:
        written = self._written()
        with self.lock:
            staged = [r for r in self.staged.values() if r.checked_at >= since]
            tasks = [(run, n) for (run, _), (n, at) in self.tasks.items() if at >= since]
        found = []
        for run_id in sorted({r.run_id for r in staged if r.event_id not in written}):
            results = [r for r in staged if r.run_id == run_id]
            done = [n for run, n in tasks if run == run_id]
            times = [r.checked_at for r in results]
            found.append(RunProgress(run_id, len(results), len(done), max(done, default=None), min(times), max(times)))
        return sorted(found, key=lambda p: (p.first_at, p.run_id))

    def _written(self) -> set[str]:
        with self.lock:
            return {e.event_id for e in self.event_rows}

    def run_results(self, run_id: str, since: datetime) -> Iterator[RunRow]:
        written = self._written()
        for r in self._run(run_id, since):
            row = self.rows.get(r.credential_id)
            active = row if row is not None and row.is_active else None
            hint, name = (active.credential_hint, active.credential_name) if active else (None, None)
            yield RunRow(r, r.event_id in written, active is not None, hint, name)

    def apply_run(self, run_id: str, since: datetime) -> set[str]:
        with self.lock:
            written, left = self._written(), set()
            for r in self._run(run_id, since):
                if r.event_id in written:
                    continue
                row = self.rows.get(r.credential_id)
                current = row is not None and row.is_active and r.seen_updated_at in (None, row.updated_at)
                event = Event(
                    event_id=r.event_id,
                    at=r.checked_at,
                    org_slug=r.org_slug,
                    provider=Provider.parse(r.provider),
                    credential_id=r.credential_id,
                    action=Action.VALIDATE,
                    status_before=Status(r.status_before),
                    status_after=Status(r.status_after),
                    outcome=Outcome(r.outcome),
                    error_code=r.error_code,
                    message=r.message or "",
                    actor=r.actor,
                    duration_ms=r.duration_ms or 0,
                    run_id=r.run_id,
                )
                if r.alarm:
                    self.event_rows.append(event)
                elif current and row is not None:
                    self._record_one(
                        r.credential_id,
                        Status(r.status_after),
                        r.error_code,
                        r.message if r.error_code else None,
                        r.validated_at,
                        r.actor,
                        event,
                    )
                else:
                    left.add(r.credential_id)
                    self.event_rows.append(superseded(event))
            return left

    def run_statuses(self, run_id: str, since: datetime) -> Iterator[tuple[str, Provider, Status, datetime | None]]:
        written = self._written()
        for r in self._run(run_id, since):
            row = self.rows.get(r.credential_id)
            if not r.alarm and r.event_id in written and row is not None and row.is_active:
                yield row.org_slug, row.provider, row.validation_status, row.created_at


class InMemoryStatusCache(StatusCache):
    name = "memory"

    def __init__(self) -> None:
        self.orgs: dict[str, OrgRow] = {}

    def init(self) -> None:
        pass

    def create_org(self, org_slug: str, name: str | None = None) -> None:
        if org_slug in self.orgs:
            if name:
                self.orgs[org_slug].name = name
            return
        self.orgs[org_slug] = OrgRow(org_slug=org_slug, name=name, statuses={p: CachedStatus() for p in Provider})

    def get_org(self, org_slug: str) -> OrgRow | None:
        row = self.orgs.get(org_slug)
        return row.model_copy(deep=True) if row else None

    def all_orgs(self) -> list[OrgRow]:
        return [self.orgs[s].model_copy(deep=True) for s in sorted(self.orgs)]

    def set_status(self, org_slug: str, provider: Provider, status: Status, configured_at: datetime | None) -> None:
        if org_slug not in self.orgs:
            raise IntegrationError("ORG_NOT_FOUND", f"Organization {org_slug!r} has no status-cache row.")
        self.orgs[org_slug].statuses[provider] = CachedStatus(status=status, configured_at=configured_at)

    def set_many(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        missing = next((slug for slug, *_ in updates if slug not in self.orgs), None)
        if missing is not None:  # like the adapters: name it, write nothing
            raise IntegrationError("ORG_NOT_FOUND", f"Organization {missing!r} has no status-cache row.")
        for update in updates:
            self.set_status(*update)

    def set_checked(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        self.set_many(
            [u for u in updates if u[0] not in self.orgs or self.orgs[u[0]].statuses[u[1]].configured_at == u[3]]
        )


class InMemoryCipher(Cipher):
    """AES-GCM with in-memory versioned keys."""

    name = "memory"

    def __init__(self) -> None:
        self.keys = {1: AESGCM.generate_key(256)}
        self.hmac_key = os.urandom(32)

    def rotate(self) -> str:
        self.keys[max(self.keys) + 1] = AESGCM.generate_key(256)
        return self.current_key_ref()

    def current_key_ref(self) -> str:
        return f"mem/v{max(self.keys)}"

    def key_versions(self) -> dict[str, str]:
        return {f"mem/v{n}": key_check(key) for n, key in self.keys.items()}

    def encrypt(self, plaintext: bytes, aad: bytes) -> Sealed:
        version, nonce = max(self.keys), os.urandom(12)
        return Sealed(
            bytes([version]) + nonce + AESGCM(self.keys[version]).encrypt(nonce, plaintext, aad), f"mem/v{version}"
        )

    def decrypt(self, ciphertext: bytes, aad: bytes) -> bytes:
        key = self.keys.get(ciphertext[0]) if ciphertext else None
        try:
            if key is None:
                raise InvalidTag
            return AESGCM(key).decrypt(ciphertext[1:13], ciphertext[13:], aad)
        except InvalidTag:
            raise IntegrationError("DECRYPTION_FAILED", "Authentication failed.") from None

    def fingerprint(self, plaintext: bytes) -> str:
        return hmac.new(self.hmac_key, plaintext, hashlib.sha256).hexdigest()


def swap(svc: Any, **parts: Any) -> None:
    """Swap some of a running service's parts (a faulty cache, another cipher): rebuild its bundle of deps with
    them, the vault too when the cipher or the validators change."""
    from dataclasses import replace

    from integrations.vault import Vault

    deps = svc.deps
    cipher, validators = parts.pop("cipher", deps.cipher), parts.pop("validators", deps.validators)
    svc.deps = replace(deps, vault=Vault(cipher, validators), validators=validators, **parts)


# --- alerts: a recording fake of the AlertSink port (tests/contract/test_alert_sink.py runs the port's suite on it) ---
class Sent(NamedTuple):
    digest: Digest
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]


class RecordingSink:
    """`orgs`: the tenant orgs it reaches; `operator`: whether it reaches the operator; `master`: the signing
    master secret (posts signed as the webhook adapter signs them); `fail`: every delivery fails (an error)."""

    def __init__(
        self, orgs: set[str] | None = None, operator: bool = True, master: bytes | None = None, fail: bool = False
    ) -> None:
        self.orgs, self.operator, self.master, self.fail = set(orgs or ()), operator, master, fail
        self.sent: list[Sent] = []

    def reaches(self, destination: Destination) -> bool:
        return self.operator if destination.kind == "operator" else destination.org_slug in self.orgs

    def signing_secret(self, destination: Destination) -> str | None:
        return signing_secret(self.master, destination) if self.master is not None else None

    def deliver(self, digest: Digest, budget: Budget) -> AlertDelivery:
        result = AlertDelivery(delivered=False, flips=len(digest.items), destination=digest.destination.label)
        if not self.reaches(digest.destination) or not digest.items or budget.attempts < 1:
            return result
        result.target, result.attempts = "fake://alerts", 1
        if self.fail:
            result.error = "HTTP 500"
            return result
        raw = body_of(digest)
        secret = self.signing_secret(digest.destination)
        self.sent.append(Sent(digest, json.loads(raw), raw, headers_for(digest, raw, secret)))
        result.delivered = True
        return result
