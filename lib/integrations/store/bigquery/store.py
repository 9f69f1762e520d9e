"""BigQuery system of record: DML in query jobs with query parameters (never streaming inserts, never SQL built
from values); rotation and delete as one multi-statement transaction, retried on concurrent-update aborts."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from ...domain import Action, Event, OrgApiKey, Provider, Status, StoredCredential
from ...errors import Code, IntegrationError
from ..base import (
    ACTIVE_COLUMNS,
    ROTATED,
    CiphertextSwap,
    IntegrationStore,
    KeyVersion,
    SchemaFinding,
    ValidationUpdate,
    bulk_clash,
    named_twice,
    replacing,
)
from ..staging import (
    PAGE_ROWS,
    RUN_WINDOW,
    STAGED_COLUMNS,
    RunProgress,
    RunRow,
    RunState,
    StagedResult,
    superseded_params,
)
from . import sql
from .jobs import Aborted, job_error, timed_out
from .params import (
    CREDENTIAL_TYPES,
    EVENT_TYPES,
    KEY_TYPES,
    PAIR_TYPES,
    RESULT_TYPES,
    UPDATE_TYPES,
    array_of,
    credential_of,
    credential_row,
    element,
    event_of,
    event_row,
    events_param,
    scalar,
    structs,
    utc,
    wire_bytes,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    from ...lazy_modules import pandas as pd  # imported when a frame is first built

__all__ = ["BigQueryStore"]

PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]$")
DATASET_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
MAX_ATTEMPTS = 5
# a bulk load's parameters per job: BigQuery refuses a jobs.insert request over 10 MB (10,485,760 bytes, the query
# text and its parameters as JSON); 8 MiB of values leaves 2 MiB for the script (~4 KB) and the parameters' types
LOAD_BYTES = 8 * 2**20
VERSION_TABLES = ("org_integrations", "org_integration_events", "org_api_keys")  # what the console reads
VERSION_MEMO_S = 1.0  # a render's reads share one data version
log = logging.getLogger("integrations")
SWAP_TYPES = {"credential_id": "STRING", "ciphertext": "BYTES", "key_ref": "STRING", "expected_key_ref": "STRING"}


def _loads(orgs: list[dict[str, list[Any]]], budget: int) -> list[dict[str, list[Any]]]:
    """Orgs' parameters grouped into jobs of at most `budget` bytes of values (an org is never split)."""
    jobs: list[dict[str, list[Any]]] = []
    size = budget + 1
    for org in orgs:
        grows = sum(wire_bytes(item) for kind in ("keys", "events", "records", "pending") for item in org[kind])
        if size + grows > budget:
            jobs.append({kind: [] for kind in org})
            size = 0
        size += grows
        for kind, items in org.items():
            jobs[-1][kind].extend(items)
    return jobs


class BigQueryStore(IntegrationStore):
    name = "bigquery"
    reads_billed = True

    def __init__(
        self,
        client: Any,
        project: str,
        dataset: str = "organizations",
        timeout: float = 30.0,
        location: str | None = None,
    ) -> None:
        if not PROJECT_RE.fullmatch(project or ""):
            raise IntegrationError(
                Code.CONFIGURATION_ERROR, f"Invalid GCP project id {project!r} (INTEGRATIONS_GCP_PROJECT)."
            )
        if not DATASET_RE.fullmatch(dataset or ""):
            raise IntegrationError(Code.CONFIGURATION_ERROR, f"Invalid BigQuery dataset name {dataset!r}.")
        self.client, self.project, self.dataset, self.timeout = client, project, dataset, timeout
        self.location = location
        self._t = f"{project}.{dataset}"
        # the client's own retry (rate limits, backend errors), bounded by the store's deadline
        self._retry = DEFAULT_RETRY.with_deadline(timeout)
        self._job_retry = DEFAULT_JOB_RETRY.with_deadline(timeout)
        self._versions: ThreadPoolExecutor | None = None  # data_version's tables.get calls, made side by side
        self._version_memo: tuple[float, str] | None = None  # (monotonic time it was asked, the marker)
        self._writes = 0  # write jobs ended: a marker asked across one is not kept

    # --- one query job -------------------------------------------------------------------------------------------
    def _query(
        self, template: str, params: dict[str, Any] | None = None, arrays: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run one statement or script as one query job within the deadline; retry concurrent-update aborts."""
        scalars = [scalar(k, v) for k, v in (params or {}).items()]
        config = bigquery.QueryJobConfig(query_parameters=scalars + (arrays or []))
        writes = not template.lstrip().upper().startswith("SELECT")
        deadline = time.monotonic() + self.timeout
        retrying = Retrying(  # concurrent-update aborts: a few times with jittered back-off, within the deadline
            retry=retry_if_exception_type(Aborted),
            stop=stop_after_attempt(MAX_ATTEMPTS) | stop_before_delay(self.timeout),
            wait=wait_random_exponential(multiplier=0.1, max=2.0),
        )
        try:
            for step in retrying:
                with step:
                    return self._query_once(template, config, writes, deadline)
        except RetryError as exc:
            raise exc.last_attempt.exception().error from None  # type: ignore[union-attr]
        raise AssertionError("unreachable")

    def _query_once(
        self, template: str, config: bigquery.QueryJobConfig, writes: bool, deadline: float
    ) -> list[dict[str, Any]]:
        """One attempt: the rows, a catalog error, or Aborted (a concurrent-update abort, worth another)."""
        return list(self._rows(template, config, writes, deadline))

    def _stream(self, template: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """A read of many rows as one query job, fetched a page (PAGE_ROWS) at a time: memory of a page."""
        config = bigquery.QueryJobConfig(query_parameters=[scalar(k, v) for k, v in (params or {}).items()])
        yield from self._rows(template, config, False, time.monotonic() + self.timeout, PAGE_ROWS)

    def _rows(
        self, template: str, config: bigquery.QueryJobConfig, writes: bool, deadline: float, page: int | None = None
    ) -> Iterator[dict[str, Any]]:
        self.queries += 1
        job = None
        try:
            job = self.client.query(
                template.format(t=self._t),
                job_config=config,
                location=self.location,
                timeout=self.timeout,
                retry=self._retry,
                job_retry=None,  # else the client wraps the insert in a hidden 10-minute retry, past our deadline
            )
            rows = job.result(
                page_size=page,
                timeout=max(0.1, deadline - time.monotonic()),
                retry=self._retry,
                job_retry=self._job_retry,
            )
            for row in rows:
                yield dict(row.items())
        except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError
            raise timed_out(job, writes, self.timeout) from None
        except gexc.GoogleAPICallError as exc:
            raise job_error(exc, writes, self._t) from None
        except (gexc.RetryError, OSError) as exc:
            known = "" if not writes else " It is not known whether the write happened: read before retrying."
            raise IntegrationError(
                Code.STORAGE_FAILED, f"BigQuery unreachable ({type(exc).__name__}).{known}", retryable=True
            ) from None
        finally:
            if writes:  # this store's own write shows in the next data_version
                self._writes += 1
                self._version_memo = None

    # --- schema -----------------------------------------------------------------------------------------------------
    def init(self) -> None:
        """Get the dataset and tables; create only what is missing, naming a missing permission only then."""
        for finding in self.inspect(create=True):
            if not finding.ok:
                raise IntegrationError(Code.STORAGE_FAILED, f"{finding.detail} Fix: {finding.fix}", retryable=False)

    def inspect(self, create: bool = False) -> list[SchemaFinding]:
        """The dataset and each table: present with every column, or what is wrong and its fix. With `create`,
        what is missing is created (init); without, nothing is changed (doctor)."""
        findings = [self._dataset(create)]
        if not findings[0].ok:
            return findings
        return findings + [self._table(name, create) for name in sql.TABLES]

    def _dataset(self, create: bool) -> SchemaFinding:
        ref = bigquery.DatasetReference(self.project, self.dataset)
        name = f"dataset {self._t}"
        try:
            self.client.get_dataset(ref, retry=self._retry, timeout=self.timeout)
            return SchemaFinding(name, True, "present")
        except gexc.Forbidden:
            return SchemaFinding(
                name,
                False,
                f"No bigquery.datasets.get on {self._t}.",
                f"Grant the service account BigQuery Data Editor (roles/bigquery.dataEditor) on the dataset {self._t}.",
            )
        except gexc.NotFound:
            pass
        missing = SchemaFinding(
            name,
            False,
            f"The dataset {self._t} does not exist.",
            f"Create it (`bq mk --location={self.location or 'US'} --dataset {self.project}:{self.dataset}`) and grant "
            "BigQuery Data Editor on it, or grant bigquery.datasets.create on the project and run `integrations init`.",
        )
        if not create:
            return missing
        dataset = bigquery.Dataset(ref)
        dataset.location = self.location
        try:
            self.client.create_dataset(dataset, exists_ok=True, retry=self._retry, timeout=self.timeout)
        except gexc.Forbidden:
            return missing._replace(
                detail=f"{missing.detail} Creating it needs bigquery.datasets.create on the "
                f"project {self.project}, which this service account does not have."
            )
        return SchemaFinding(name, True, "created")

    def _table(self, table: str, create: bool) -> SchemaFinding:
        name, full = f"table {table}", f"{self._t}.{table}"
        try:
            found = self.client.get_table(full, retry=self._retry, timeout=self.timeout)
        except gexc.Forbidden:
            return SchemaFinding(
                name,
                False,
                f"No bigquery.tables.get on {full}.",
                f"Grant BigQuery Data Editor (roles/bigquery.dataEditor) on the dataset {self._t}.",
            )
        except gexc.NotFound:
            if not create:
                return SchemaFinding(name, False, f"{full} does not exist.", "Run `integrations init`.")
            try:
                self._query(sql.CREATE[table])
            except IntegrationError as exc:
                if exc.retryable:
                    raise
                return SchemaFinding(
                    name,
                    False,
                    f"{full} does not exist and could not be created ({exc.message[:160]}).",
                    f"Grant bigquery.tables.create (BigQuery Data Editor) on the dataset {self._t} and BigQuery Job "
                    "User on the project, then run `integrations init`.",
                )
            return SchemaFinding(name, True, "created")
        have = {f.name for f in found.schema}
        missing = [c for c in sql.COLUMNS[table] if c not in have]
        addable = sql.ADD_COLUMNS.get(table, {})
        if missing and all(c in addable for c in missing):  # additive columns: init adds them in place
            if not create:
                return SchemaFinding(
                    name, False, f"{full} lacks column(s) {', '.join(missing)}.", "Run `integrations init` (adds them)."
                )
            for column in missing:
                self._query(addable[column])
            return SchemaFinding(name, True, f"present; added {', '.join(missing)}")
        if missing:
            return SchemaFinding(
                name,
                False,
                f"{full} lacks column(s) {', '.join(missing)}.",
                sql.MIGRATIONS.get(table, "").format(t=self._t)
                or f"Add the column(s) {', '.join(missing)} as in store/bigquery/sql.py.",
            )
        return SchemaFinding(name, True, "present, every column")

    def probe_permissions(self) -> list[SchemaFinding]:
        """Dry runs (free, change nothing) of a read and a write on each table: jobs.create, getData, updateData."""
        findings = []
        for table, column in (
            ("org_integrations", "credential_id"),
            ("org_integration_events", "event_id"),
            ("org_api_keys", "key_id"),
        ):
            for kind, text in (
                ("read", f"SELECT {column} FROM `{{t}}.{table}` WHERE {column} = @probe"),
                ("write", f"UPDATE `{{t}}.{table}` SET {column} = @probe WHERE FALSE"),
            ):
                name = f"{kind} {table} (dry run)"
                config = bigquery.QueryJobConfig(
                    dry_run=True, query_parameters=[bigquery.ScalarQueryParameter("probe", "STRING", "probe")]
                )
                try:
                    self.client.query(
                        text.format(t=self._t),
                        job_config=config,
                        location=self.location,
                        timeout=self.timeout,
                        retry=self._retry,
                    ).result(timeout=self.timeout)
                    findings.append(SchemaFinding(name, True, "allowed"))
                except gexc.Forbidden as exc:
                    findings.append(
                        SchemaFinding(
                            name,
                            False,
                            f"Denied: {exc.message[:200]}",
                            f"Grant BigQuery Data Editor (roles/bigquery.dataEditor) on the dataset {self._t} and "
                            f"BigQuery Job User (roles/bigquery.jobUser) on the project {self.project}.",
                        )
                    )
                except gexc.GoogleAPICallError as exc:
                    findings.append(
                        SchemaFinding(
                            name, False, f"BigQuery refused it: {exc.message[:200]}", "See the table's finding above."
                        )
                    )
        return findings

    # --- writes -----------------------------------------------------------------------------------------------------
    def _credential_params(self, record: StoredCredential) -> dict[str, Any]:
        data = record.model_dump()
        data["metadata"] = json.dumps(data["metadata"], sort_keys=True)
        return data

    def activate(self, record: StoredCredential, event: Event) -> StoredCredential | None:
        """One job: erase the active row, insert the new one and its event, return the replaced row (erased)."""
        params = self._credential_params(record) | {
            "erase_at": record.created_at,
            "erase_actor": record.created_by or "system",
            "not_configured": Status.NOT_CONFIGURED.value,
            "rotated": ROTATED,
        }
        rows = self._query(sql.ACTIVATE, params, [events_param([event])])
        return credential_of(rows[0]) if rows else None

    def add_new_orgs(
        self, keys: list[OrgApiKey], setups: list[tuple[StoredCredential, Event]], events: list[Event]
    ) -> None:
        """One job (a transaction of three INSERT ... SELECT FROM UNNEST) per LOAD_BYTES of parameters, whatever the
        number of orgs: the bulk load's batch of 500 demo orgs is one job. An org's key, events and credentials
        travel in the same job. A job writes nothing (and the call fails) when an org and provider that it or a
        later job of the call sets up has an active credential; a job done before stays written (as the bulk load's
        batches do). A setup event's before-status is NOT_CONFIGURED: no credential is replaced."""
        records = [record for record, _ in setups]
        if clash := named_twice(records):
            raise bulk_clash(" ".join(clash))
        orgs: dict[str, dict[str, list[Any]]] = {}

        def add(org: str, kind: str, item: Any) -> None:
            load = orgs.setdefault(org, {"keys": [], "events": [], "records": [], "pending": [], "at": []})
            load[kind].append(item)

        for key in keys:
            add(key.org_slug, "keys", element(KEY_TYPES, key.model_dump()))
        for event in [*events, *(replacing(event, None) for _, event in setups)]:
            add(event.org_slug, "events", element(EVENT_TYPES, event_row(event)))
            add(event.org_slug, "at", event.at)
        for record in records:
            add(record.org_slug, "records", element(CREDENTIAL_TYPES, credential_row(record)))
            pair = {"org_slug": record.org_slug, "provider": record.provider}
            add(record.org_slug, "pending", element(PAIR_TYPES, pair))
        jobs = _loads(list(orgs.values()), LOAD_BYTES)
        for index, job in enumerate(jobs):
            self._add_new(job, [pair for later in jobs[index:] for pair in later["pending"]])

    def _add_new(self, job: dict[str, list[Any]], pending: list[Any]) -> None:
        arrays = [
            array_of("keys", KEY_TYPES, job["keys"]),
            array_of("events", EVENT_TYPES, job["events"]),
            array_of("records", CREDENTIAL_TYPES, job["records"]),
            array_of("pending", PAIR_TYPES, pending),
        ]
        [row] = self._query(sql.ADD_NEW_ORGS, {"since": min(job["at"], default=None)}, arrays)
        if not (row["keys_written"] or row["events_written"] or row["records_written"]):
            raise bulk_clash(row["clash_org"] or "An org of this load")

    def get_active(self, org_slug: str, provider: Provider) -> StoredCredential | None:
        rows = self._query(sql.ACTIVE, {"org_slug": org_slug, "provider": provider.value})
        return credential_of(rows[0]) if rows else None

    def list_credentials(self, org_slug: str | None = None, active_only: bool = True) -> list[StoredCredential]:
        return [credential_of(r) for r in self._query(sql.LIST_ALL, {"org_slug": org_slug, "active_only": active_only})]

    def active_frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self._query(sql.ACTIVE_FRAME), columns=ACTIVE_COLUMNS)

    def data_version(self) -> str | None:
        """The lastModifiedTime and numRows of the three tables the console reads (credentials, events, org keys),
        from tables.get: metadata calls, in parallel, no job and nothing billed. BigQuery moves lastModifiedTime
        at the commit of a DML statement that changes rows, to the millisecond; numRows tells apart two writes in
        the same millisecond wherever one appends (every credential write appends its event), and this store's
        count of its own writes the rest (an org key revoked in the millisecond of the keys' last write, here;
        another process's such revocation shows at the next write or the hourly read). None (the reader
        then reads again after a while) when a call fails: the read that follows says why. A page's several reads
        in one render share one marker: it is kept VERSION_MEMO_S, unless this store writes (its own writes show
        at once, another process's within VERSION_MEMO_S)."""
        memo, writes = self._version_memo, self._writes
        if memo is not None and time.monotonic() - memo[0] < VERSION_MEMO_S:
            return memo[1]
        started = time.monotonic()
        try:
            tables = list(self._pool().map(self._table_meta, VERSION_TABLES))
        except (gexc.GoogleAPICallError, gexc.RetryError, OSError) as exc:
            log.warning(
                "BigQuery data version unavailable (%s): the console reads again after a while", type(exc).__name__
            )
            return None
        marks = (f"{int(t.modified.timestamp() * 1000) if t.modified else 0}.{t.num_rows}" for t in tables)
        version = f"{writes}:" + "/".join(marks)  # this store's own writes count too, whatever their millisecond
        if self._writes == writes:  # no write of this store ended meanwhile (else the marker may predate it)
            self._version_memo = (started, version)
        return version

    def _table_meta(self, name: str) -> Any:
        return self.client.get_table(f"{self._t}.{name}", retry=self._retry, timeout=self.timeout)

    def _pool(self) -> ThreadPoolExecutor:
        if self._versions is None:
            self._versions = ThreadPoolExecutor(len(VERSION_TABLES), thread_name_prefix="bq-version")
        return self._versions

    def record_validations(self, updates: list[ValidationUpdate]) -> set[str]:
        """A whole batch in one query job: one UPDATE ... FROM UNNEST(@updates) and one INSERT of the events;
        returns the credential ids whose row was still active."""
        return self._record(updates) if updates else set()

    def _record(self, updates: list[ValidationUpdate]) -> set[str]:
        latest = {u.credential_id: u for u in updates}  # UPDATE ... FROM must match one source row per target row
        rows = [
            {
                "credential_id": u.credential_id,
                "validation_status": u.status,
                "validation_error_code": u.error_code,
                "validation_error_message": u.error_message,
                "validated_at": u.validated_at,
                "updated_at": u.event.at,
                "actor": u.actor,
                "expected_updated_at": u.expected_updated_at,
                "data_status": u.freshness.data_status if u.freshness else None,
                "data_through": u.freshness.data_through if u.freshness else None,
                "data_newest_at": u.freshness.data_newest_at if u.freshness else None,
                "last_success_at": u.freshness.last_success_at if u.freshness else None,
                "expiry": u.expiry.label if u.expiry else None,
                "expires_at": u.expiry.expires_at if u.expiry else None,
                "last_used_at": u.expiry.last_used_at if u.expiry else None,
            }
            for u in latest.values()
        ]
        result = self._query(
            sql.RECORD_VALIDATIONS,
            superseded_params(),
            [structs("updates", UPDATE_TYPES, rows), events_param([u.event for u in updates])],
        )
        return {r["credential_id"] for r in result}

    def deactivate(
        self, org_slug: str, provider: Provider, at: datetime, actor: str, event: Event
    ) -> StoredCredential | None:
        """One job: the event (only when a row was active), the erase, and the erased row back."""
        params = {"org_slug": org_slug, "provider": provider.value, "erase_at": at, "erase_actor": actor}
        params |= {"event_id": event.event_id, "event_at": event.at}
        rows = self._query(sql.DEACTIVATE, params, [events_param([event])])
        return credential_of(rows[0]) if rows else None

    def replace_ciphertexts(self, swaps: list[CiphertextSwap]) -> set[str]:
        """A batch of swaps in one job (rewrap writes in batches): the ids swapped, each with its event."""
        if not swaps:
            return set()
        rows = [s._asdict() for s in swaps]
        param = structs("swaps", SWAP_TYPES, rows)
        since = min(s.event.at for s in swaps)
        result = self._query(sql.REPLACE_CIPHERTEXTS, {"since": since}, [param, events_param([s.event for s in swaps])])
        return {r["credential_id"] for r in result}

    def append_events(self, events: list[Event]) -> None:
        """Any number of events in one query job."""
        if events:
            self._query(sql.APPEND_EVENTS, None, [events_param(events)])

    def events(self, org_slug: str | None = None, since: datetime | None = None) -> list[Event]:
        if since is None:
            return [event_of(r) for r in self._query(sql.EVENTS, {"org_slug": org_slug})]
        return [event_of(r) for r in self._query(sql.EVENTS_SINCE, {"org_slug": org_slug, "since_at": since})]

    def add_api_key(self, key: OrgApiKey) -> None:
        self._query(sql.ADD_KEY, key.model_dump())

    def find_api_key(self, key_id: str) -> OrgApiKey | None:
        rows = self._query(sql.FIND_KEY, {"key_id": key_id})
        return OrgApiKey.model_validate({k: utc(v) for k, v in rows[0].items()}) if rows else None

    def revoke_api_keys(self, org_slug: str, at: datetime) -> int:
        rows = self._query(sql.REVOKE_KEYS, {"org_slug": org_slug, "revoked_at": at})
        return int(rows[0]["n"]) if rows else 0

    def api_keys(self, org_slug: str | None = None) -> list[OrgApiKey]:
        rows = self._query(sql.LIST_KEYS, {"org_slug": org_slug})
        return [OrgApiKey.model_validate({k: utc(v) for k, v in r.items()}) for r in rows]

    def key_versions(self) -> dict[str, KeyVersion]:
        return {r["key_ref"]: KeyVersion.of({k: utc(v) for k, v in r.items()}) for r in self._query(sql.KEY_VERSIONS)}

    def record_key_version(self, key_ref: str, key_check: str, at: datetime) -> None:
        self._query(sql.RECORD_KEY_VERSION, {"key_ref": key_ref, "key_check": key_check, "created_at": at})

    def retire_key_version(self, key_ref: str, at: datetime) -> None:
        self._query(sql.RETIRE_KEY_VERSION, {"key_ref": key_ref, "retired_at": at})

    def audit(self, question: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        return [{k: utc(v) for k, v in row.items()} for row in self._query(sql.AUDIT[question], params)]

    def ping(self) -> None:
        self._query(sql.PING)

    # --- re-validation runs: a task reads its share (one streamed job), stages a batch per INSERT and marks itself
    # done; finalize reads the run's state and results, applies them in one transaction, streams the statuses back
    def share_counts(self, run_id: str, since: datetime, index: int, count: int) -> tuple[int, int]:
        params = {"run_id": run_id, "since": since, "task_index": index, "task_count": count}
        row = self._query(sql.SHARE_COUNTS, params)[0]
        return int(row["share"]), int(row["staged"])

    def pending_for_run(
        self, run_id: str, since: datetime, index: int = 0, count: int = 1
    ) -> Iterator[StoredCredential]:
        params = {"run_id": run_id, "since": since, "task_index": index, "task_count": count}
        for row in self._stream(sql.PENDING, params):
            yield credential_of(row)

    def stage_results(self, results: list[StagedResult]) -> None:
        if not results:
            return
        since = min(r.checked_at for r in results) - RUN_WINDOW  # an earlier attempt staged before this one
        param = structs("results", RESULT_TYPES, [r._asdict() for r in results])
        self._query(sql.STAGE, {"since": since}, [param])

    def task_done(self, run_id: str, index: int, count: int, at: datetime) -> None:
        self._query(sql.TASK_DONE, {"run_id": run_id, "task_index": index, "task_count": count, "done_at": at})

    def run_state(self, run_id: str, since: datetime) -> RunState:
        row = self._query(sql.RUN_STATE, {"run_id": run_id, "since": since})[0]
        count = row["task_count"]
        return RunState(
            int(row["staged"] or 0),
            int(row["tasks_done"] or 0),
            None if count is None else int(count),
            utc(row["first_at"]),
        )

    def runs_in_progress(self, since: datetime) -> list[RunProgress]:
        return [
            RunProgress(
                r["run_id"],
                int(r["staged"]),
                int(r["tasks_done"] or 0),
                None if r["task_count"] is None else int(r["task_count"]),
                utc(r["first_at"]),
                utc(r["last_at"]),
            )
            for r in self._query(sql.RUNS_IN_PROGRESS, {"since": since})
        ]

    def run_results(self, run_id: str, since: datetime) -> Iterator[RunRow]:
        for r in self._stream(sql.RESULTS, {"run_id": run_id, "since": since}):
            staged = StagedResult(**{c: utc(r[c]) for c in STAGED_COLUMNS})
            yield RunRow(staged, bool(r["written"]), bool(r["active"]), r["credential_hint"], r["credential_name"])

    def apply_run(self, run_id: str, since: datetime) -> set[str]:
        params = {"run_id": run_id, "since": since, "action": Action.VALIDATE.value} | superseded_params()
        return {r["credential_id"] for r in self._query(sql.FINALIZE, params)}

    def run_statuses(self, run_id: str, since: datetime) -> Iterator[tuple[str, Provider, Status, datetime | None]]:
        for r in self._stream(sql.STATUSES, {"run_id": run_id, "since": since}):
            yield r["org_slug"], Provider.parse(r["provider"]), Status(r["validation_status"]), utc(r["created_at"])
