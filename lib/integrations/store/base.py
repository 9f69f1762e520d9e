"""The IntegrationStore port: the system of record (org_integrations, events, org API keys).

Every write that changes a credential appends its event in the same transaction, so the record and its
history never disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ..domain import Action, Event, Expiry, OrgApiKey, Provider, Status, StoredCredential
from ..errors import Code, IntegrationError
from ..freshness import Freshness
from ..results import WarningInfo
from .staging import SUPERSEDED, RunProgress, RunRow, RunState, StagedResult

if TYPE_CHECKING:
    import pandas as pd
else:
    from ..lazy_modules import pandas as pd  # imported when a frame is first built

# the store's read model for the overview: one row per active credential
ACTIVE_COLUMNS = [
    "org_slug",
    "provider",
    "status",
    "credential_name",
    "credential_hint",
    "last_validated_at",
    "configured_at",
    "error_code",
    "error_message",
    "credential_id",
    "key_ref",
    "has_ciphertext",
    "data_status",
    "data_newest_at",
]


def records_frame(records: list[StoredCredential]) -> pd.DataFrame:
    """ACTIVE_COLUMNS from credential records (the store port's default read model)."""
    rows = [
        (
            r.org_slug,
            r.provider.value,
            r.validation_status.value,
            r.credential_name,
            r.credential_hint,
            r.last_validated_at,
            r.created_at,
            r.validation_error_code,
            r.validation_error_message,
            r.credential_id,
            r.key_ref,
            bool(r.encrypted_credential),
            r.data_status.value if r.data_status else None,
            r.data_newest_at,
        )
        for r in records
        if r.is_active
    ]
    return pd.DataFrame(rows, columns=ACTIVE_COLUMNS)


class ValidationUpdate(NamedTuple):
    """A check's outcome to write. With `expected_updated_at` (the credential's updated_at when the check read
    it) it is written only while the row is unchanged: a newer check, a rotation or a delete supersedes it."""

    credential_id: str
    status: Status
    error_code: str | None
    error_message: str | None
    validated_at: datetime | None
    actor: str
    event: Event
    expected_updated_at: datetime | None = None
    freshness: Freshness | None = None  # None: the check read no cost data; the stored data status stays
    expiry: Expiry | None = None  # None: the check could not ask; the stored expiry stays


def superseded(event: Event) -> Event:
    """The event of a check whose result was not applied (see ValidationUpdate): no status change, and says why."""
    message = f"{SUPERSEDED} {event.message}" if event.message else SUPERSEDED
    return event.model_copy(update={"status_after": event.status_before, "message": message})


class CiphertextSwap(NamedTuple):
    """One re-encrypted ciphertext for `replace_ciphertexts` (rewrap)."""

    credential_id: str
    ciphertext: bytes
    key_ref: str
    expected_key_ref: str
    event: Event


ROTATED = "Rotated: the previous credential was deactivated and erased."


def replacing(event: Event, previous: StoredCredential | None) -> Event:
    """A setup event as `activate` writes it: an unset status_before becomes the replaced row's status
    (NOT_CONFIGURED when none), and a rotation says so; read in the same transaction as the rotation."""
    if event.status_before is not None:
        return event
    if previous is None:
        return event.model_copy(update={"status_before": Status.NOT_CONFIGURED})
    return event.model_copy(update={"status_before": previous.validation_status, "message": ROTATED})


class SchemaFinding(NamedTuple):
    """One object a store needs (a dataset, a table): ok, or what is wrong and the fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


class KeyVersion(NamedTuple):
    """A key version the store knows of: its check value (see crypto.base.key_check) and when it was retired."""

    key_ref: str
    key_check: str
    created_at: datetime
    retired_at: datetime | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> KeyVersion:
        def at(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else value

        return cls(row["key_ref"], row["key_check"], at(row["created_at"]), at(row.get("retired_at")))  # type: ignore[arg-type]


class IntegrationStore(ABC):
    name: str = "store"
    queries: int = 0  # backend round-trips, counted for the benchmarks
    reads_billed: bool = False  # each query is a billed job (BigQuery): readers poll it less often

    @abstractmethod
    def init(self) -> None:
        """Create tables if missing (idempotent)."""

    @abstractmethod
    def activate(self, record: StoredCredential, event: Event) -> StoredCredential | None:
        """Insert `record` as the active credential; deactivate and erase the previous one. Returns it.

        The event is written as `replacing(event, previous)` says, so one round trip does the whole setup."""

    @abstractmethod
    def get_active(self, org_slug: str, provider: Provider) -> StoredCredential | None: ...

    def add_new_orgs(
        self, keys: list[OrgApiKey], setups: list[tuple[StoredCredential, Event]], events: list[Event]
    ) -> None:
        """A bulk load of orgs registered now: their API keys, their first credentials each with its SETUP event
        (no credential is replaced: a batch naming an org and provider with an active credential, or one twice,
        fails whole with STORAGE_FAILED) and their other events (ORG_KEY). Adapters write it in one transaction;
        this default checks first and then makes one call each."""
        records = [record for record, _ in setups]
        taken = (r for r in records if self.get_active(r.org_slug, r.provider) is not None)
        if clash := named_twice(records) or next(((r.org_slug, r.provider.value) for r in taken), None):
            raise bulk_clash(" ".join(clash))
        for key in keys:
            self.add_api_key(key)
        self.append_events(events)
        for record, event in setups:
            self.activate(record, event)

    def erase_warnings(self) -> list[WarningInfo]:
        """ERASE_INCOMPLETE warnings for erases whose old bytes another connection still pins (after one more
        try); [] when every erase is complete. Only a store that keeps old page images (SQLite's WAL) has any."""
        return []

    @abstractmethod
    def list_credentials(self, org_slug: str | None = None, active_only: bool = True) -> list[StoredCredential]:
        """Credentials of one org or of all orgs, in one query."""

    def active_frame(self) -> pd.DataFrame:
        """ACTIVE_COLUMNS for every active credential, in one query. Adapters may read it directly."""
        return records_frame(self.list_credentials())

    def data_version(self) -> str | None:
        """A cheap marker that changes with every write of any process (credentials, events, org keys), for
        readers that keep what they read until it changes; None when the store has no marker cheaper than a
        read (the reader then keeps what it read for a while)."""
        return None

    @abstractmethod
    def record_validations(self, updates: list[ValidationUpdate]) -> set[str]:
        """Validation outcomes, in one transaction. Returns the credential_ids whose row was still active, and
        unchanged where `expected_updated_at` is given, and so was updated (a compare-and-set: only those may be
        synced or alerted); the others' events are written as `superseded`. A `validated_at` of None keeps the
        row's last one."""

    @abstractmethod
    def deactivate(
        self, org_slug: str, provider: Provider, at: datetime, actor: str, event: Event
    ) -> StoredCredential | None:
        """Deactivate the active row, erase its ciphertext, keep the row. Returns it (before) or None."""

    @abstractmethod
    def replace_ciphertexts(self, swaps: list[CiphertextSwap]) -> set[str]:
        """Swap in re-encrypted ciphertexts in one write, each only while its row is still active under its
        `expected_key_ref`, with its event; the credential ids swapped."""

    @abstractmethod
    def append_events(self, events: list[Event]) -> None:
        """Append events to the history in one write."""

    @abstractmethod
    def events(self, org_slug: str | None = None, since: datetime | None = None) -> list[Event]:
        """The history, newest first; with `since`, only what happened at or after it (BigQuery then scans only
        the days from `since` on: the table is partitioned by day)."""

    def events_frame(self, org_slug: str | None = None, since: datetime | None = None) -> pd.DataFrame:
        """`events` as a frame of the Event fields (enum values as text), newest first: what the console's audit
        log and the notebooks read. This default builds it from the models; a store that can read its rows
        straight into a frame overrides it."""
        rows = [e.model_dump(mode="json") for e in self.events(org_slug, since)]
        return pd.DataFrame(rows, columns=list(Event.model_fields))

    def run_events(self, since: datetime) -> pd.DataFrame:
        """What the runs are read from (changes.py): the checks (VALIDATE), the alerts (ALERT) and any event of a
        run from `since` on, newest first, as a frame of the Event fields (enum values as text). This default
        filters `events`; a store that can select them in its query (and skip the models) overrides it."""
        wanted = {Action.VALIDATE, Action.ALERT}
        rows = [e.model_dump(mode="json") for e in self.events(None, since) if e.action in wanted or e.run_id]
        return pd.DataFrame(rows, columns=list(Event.model_fields))

    @abstractmethod
    def add_api_key(self, key: OrgApiKey) -> None: ...

    @abstractmethod
    def find_api_key(self, key_id: str) -> OrgApiKey | None: ...

    @abstractmethod
    def revoke_api_keys(self, org_slug: str, at: datetime) -> int:
        """Revoke every live key of an org; returns how many."""

    @abstractmethod
    def api_keys(self, org_slug: str | None = None) -> list[OrgApiKey]: ...

    @abstractmethod
    def key_versions(self) -> dict[str, KeyVersion]:
        """Every encryption key version recorded, retired ones included, by key_ref."""

    @abstractmethod
    def record_key_version(self, key_ref: str, key_check: str, at: datetime) -> None:
        """Record a key version the cipher holds (idempotent: a known key_ref is left as it is)."""

    @abstractmethod
    def retire_key_version(self, key_ref: str, at: datetime) -> None:
        """Mark a key version retired: it is no longer expected in the keyring."""

    def audit(self, question: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Answer an audit question inside the store (see store/bigquery/sql.py), or None to let the
        caller aggregate in pandas. Only stores that bill by the byte moved need it."""
        return None

    # --- re-validation runs (runs.py): tasks stage, one finalize applies; stores without it refuse ---------------
    # a task's share is MOD(ABS(FARM_FINGERPRINT(credential_id)), count) = index (fingerprint.py), selected in SQL;
    # the reads are streamed (pages / fetchmany), so a task's and finalize's memory does not grow with the fleet
    def share_counts(self, run_id: str, since: datetime, index: int, count: int) -> tuple[int, int]:
        """(active credentials in the share, of them staged in `run_id` since `since`): one query, no ciphertext."""
        raise _no_runs(self.name)

    def pending_for_run(
        self, run_id: str, since: datetime, index: int = 0, count: int = 1
    ) -> Iterator[StoredCredential]:
        """The share's active credentials with no result staged in `run_id` (since `since`), streamed."""
        raise _no_runs(self.name)

    def stage_results(self, results: list[StagedResult]) -> None:
        """Append a batch of a task's results to the staging table in one write (INSERT only: tasks never
        conflict); a credential already staged in the run is skipped."""
        raise _no_runs(self.name)

    def task_done(self, run_id: str, index: int, count: int, at: datetime) -> None:
        """Mark task `index` of `count` done in the run (one write; finalize waits for every task's mark)."""
        raise _no_runs(self.name)

    def run_state(self, run_id: str, since: datetime) -> RunState:
        """How many results are staged, how many tasks are done, and since when the run writes: one query."""
        raise _no_runs(self.name)

    def run_results(self, run_id: str, since: datetime) -> Iterator[RunRow]:
        """The run's staged results, one per credential, streamed (no ciphertext)."""
        raise _no_runs(self.name)

    @abstractmethod
    def runs_in_progress(self, since: datetime) -> list[RunProgress]:
        """The runs with a result staged since `since` whose event is not written yet (not finalized, or not
        wholly), first started first: one query, bounded by `since`. A store that cannot run tasks returns []."""

    def apply_run(self, run_id: str, since: datetime) -> set[str]:
        """Apply a run's staged results to org_integrations and write their events, each once, in one transaction:
        a result whose event is already written is not applied again, so a second finalize changes nothing. A
        result applies only to its credential as the task read it (active, the same updated_at); the others' events
        are written as superseded (no status change). Returns the credential ids of the run's superseded results
        (those of an earlier finalize included: the caller keeps those its own write left unapplied)."""
        raise _no_runs(self.name)

    def run_statuses(self, run_id: str, since: datetime) -> Iterator[tuple[str, Provider, Status, datetime | None]]:
        """(org, provider, current status, created_at) of the run's applied credentials still active, streamed: what
        the status cache must hold after the run (every finalize pushes it: a retry re-syncs what one missed)."""
        raise _no_runs(self.name)

    def ping(self) -> None:
        """Raise STORAGE_FAILED when the store cannot be reached."""
        self.list_credentials(org_slug="ping-probe")


def named_twice(records: list[StoredCredential]) -> tuple[str, str] | None:
    """The first (org, provider) a bulk load names twice, or None."""
    seen: set[tuple[str, Provider]] = set()
    for r in records:
        if (r.org_slug, r.provider) in seen:
            return r.org_slug, r.provider.value
        seen.add((r.org_slug, r.provider))
    return None


def bulk_clash(what: str) -> IntegrationError:
    """A bulk load that would replace a credential (`what`: the org, and the provider where known): nothing of the
    batch is written."""
    return IntegrationError(
        Code.STORAGE_FAILED,
        f"{what} has an active credential already (or twice in this load): a bulk load adds new orgs "
        "only, so nothing of this batch was written. Load only new orgs, or set that one up on its own.",
    )


def _no_runs(name: str) -> IntegrationError:
    return IntegrationError(Code.CONFIGURATION_ERROR, f"The {name} store cannot run re-validation tasks.")
