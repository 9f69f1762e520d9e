"""BigQuery system of record: DML in query jobs with query parameters (never streaming inserts, never SQL built
from values); rotation and delete as one multi-statement transaction, retried on concurrent-update aborts."""

from __future__ import annotations

import json
import random
import re
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from ..domain import Event, OrgApiKey, Provider, Status, StoredCredential
from ..errors import IntegrationError
from ..overview import ACTIVE_COLUMNS
from . import bigquery_sql as sql
from .base import IntegrationStore, KeyVersion
from .bigquery_audit_sql import AUDIT

PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]$")
DATASET_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
RETRYABLE = (
    "concurrent update",
    "Transaction is aborted",
    "too many DML statements outstanding",
    "Could not serialize access",
)
MAX_ATTEMPTS = 5
_TYPES = {bytes: "BYTES", bool: "BOOL", int: "INT64", float: "FLOAT64", datetime: "TIMESTAMP", str: "STRING"}
_TYPED_NULLS = {
    "encrypted_credential": "BYTES",
    "ciphertext": "BYTES",
    "is_active": "BOOL",
    "duration_ms": "INT64",
    "active_only": "BOOL",
    "since": "TIMESTAMP",
    "until": "TIMESTAMP",
    "cutoff": "TIMESTAMP",
}


def _param(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    if name == "metadata":
        return bigquery.ScalarQueryParameter(name, "STRING", value)  # PARSE_JSON(@metadata) in the SQL
    if value is None:
        kind = _TYPED_NULLS.get(name, "TIMESTAMP" if name.endswith("_at") or name == "at" else "STRING")
        return bigquery.ScalarQueryParameter(name, kind, None)
    if hasattr(value, "value"):  # enums
        value = value.value
    return bigquery.ScalarQueryParameter(name, _TYPES[type(value)], value)


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _credential(row: dict[str, Any]) -> StoredCredential:
    data = {k: _utc(v) for k, v in row.items()}
    meta = data.get("metadata")
    data["metadata"] = json.loads(meta) if isinstance(meta, str) else (meta or {})
    return StoredCredential.model_validate(data)


def _event_params(event: Event) -> dict[str, Any]:
    data = event.model_dump()
    return {
        "event_id": data["event_id"],
        "at": data["at"],
        "event_org_slug": data["org_slug"],
        "event_provider": data["provider"],
        "event_credential_id": data["credential_id"],
        "action": data["action"],
        "status_before": data["status_before"],
        "status_after": data["status_after"],
        "outcome": data["outcome"],
        "error_code": data["error_code"],
        "message": data["message"],
        "actor": data["actor"],
        "duration_ms": data["duration_ms"],
    }


class BigQueryStore(IntegrationStore):
    name = "bigquery"

    def __init__(self, client: Any, project: str, dataset: str = "organizations", timeout: float = 30.0) -> None:
        if not PROJECT_RE.fullmatch(project or ""):
            raise IntegrationError(
                "CONFIGURATION_ERROR", f"Invalid GCP project id {project!r} (INTEGRATIONS_GCP_PROJECT)."
            )
        if not DATASET_RE.fullmatch(dataset or ""):
            raise IntegrationError("CONFIGURATION_ERROR", f"Invalid BigQuery dataset name {dataset!r}.")
        self.client, self.project, self.dataset, self.timeout = client, project, dataset, timeout
        self._t = f"{project}.{dataset}"

    def _query(self, template: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        config = bigquery.QueryJobConfig(query_parameters=[_param(k, v) for k, v in (params or {}).items()])
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.queries += 1
            try:
                job = self.client.query(template.format(t=self._t), job_config=config, timeout=self.timeout)
                return [dict(row.items()) for row in job.result(timeout=self.timeout)]
            except gexc.Forbidden as exc:
                raise IntegrationError(
                    "STORAGE_FAILED", f"BigQuery denied access: {exc.message[:200]}", retryable=False
                ) from None
            except gexc.GoogleAPICallError as exc:
                if attempt < MAX_ATTEMPTS and any(m.lower() in exc.message.lower() for m in RETRYABLE):
                    time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
                    continue
                raise IntegrationError("STORAGE_FAILED", f"BigQuery failed: {exc.message[:200]}") from None
            except (gexc.RetryError, TimeoutError, OSError) as exc:
                raise IntegrationError("STORAGE_FAILED", f"BigQuery unreachable ({type(exc).__name__}).") from None
        raise AssertionError("unreachable")

    def init(self) -> None:
        """Create the dataset and tables if missing, naming the permission that is missing if any."""
        steps = [
            (
                "bigquery.datasets.create",
                lambda: self.client.create_dataset(bigquery.Dataset(self._t), exists_ok=True, timeout=self.timeout),
            ),
            (
                "bigquery.tables.create",
                lambda: [
                    self._query(s)
                    for s in (sql.CREATE_CREDENTIALS, sql.CREATE_EVENTS, sql.CREATE_KEYS, sql.CREATE_KEY_VERSIONS)
                ],
            ),
            (
                "bigquery.jobs.create + bigquery.tables.getData",
                lambda: self._query(sql.LIST_KEYS, {"org_slug": "init-probe"}),
            ),
        ]
        for permission, step in steps:
            try:
                step()
            except (gexc.Forbidden, IntegrationError) as exc:
                if isinstance(exc, IntegrationError) and exc.retryable:
                    raise
                raise IntegrationError(
                    "STORAGE_FAILED",
                    f"Missing BigQuery permission {permission} on {self._t} (grant BigQuery Data Editor and Job User).",
                    retryable=False,
                ) from None

    def _credential_params(self, record: StoredCredential) -> dict[str, Any]:
        data = record.model_dump()
        data["metadata"] = json.dumps(data["metadata"], sort_keys=True)
        return data

    def activate(self, record: StoredCredential, event: Event) -> StoredCredential | None:
        previous = self.get_active(record.org_slug, record.provider)
        params = (
            self._credential_params(record)
            | _event_params(event)
            | {"erase_at": record.created_at, "erase_actor": record.created_by or "system"}
        )
        self._query(sql.ACTIVATE, params)
        return previous

    def get_active(self, org_slug: str, provider: Provider) -> StoredCredential | None:
        rows = self._query(sql.ACTIVE, {"org_slug": org_slug, "provider": provider.value})
        return _credential(rows[0]) if rows else None

    def list_credentials(self, org_slug: str | None = None, active_only: bool = True) -> list[StoredCredential]:
        return [_credential(r) for r in self._query(sql.LIST_ALL, {"org_slug": org_slug, "active_only": active_only})]

    def active_frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self._query(sql.ACTIVE_FRAME), columns=ACTIVE_COLUMNS)

    def record_validation(
        self,
        credential_id: str,
        status: Status,
        error_code: str | None,
        error_message: str | None,
        validated_at: datetime | None,
        actor: str,
        event: Event,
    ) -> bool:
        active = bool(self._query(sql.IS_ACTIVE, {"credential_id": credential_id}))
        self._query(
            sql.RECORD_VALIDATION,
            _event_params(event)
            | {
                "credential_id": credential_id,
                "validation_status": status.value,
                "validation_error_code": error_code,
                "validation_error_message": error_message,
                "validated_at": validated_at,
                "actor": actor,
            },
        )
        return active

    def deactivate(
        self, org_slug: str, provider: Provider, at: datetime, actor: str, event: Event
    ) -> StoredCredential | None:
        previous = self.get_active(org_slug, provider)
        if previous is not None:
            self._query(
                sql.DEACTIVATE,
                _event_params(event)
                | {"org_slug": org_slug, "provider": provider.value, "erase_at": at, "erase_actor": actor},
            )
        return previous

    def replace_ciphertext(
        self, credential_id: str, ciphertext: bytes, key_ref: str, expected_key_ref: str, event: Event
    ) -> bool:
        rows = self._query(sql.IS_ACTIVE, {"credential_id": credential_id})
        if not rows or rows[0]["key_ref"] != expected_key_ref:
            return False
        self._query(
            sql.REPLACE_CIPHERTEXT,
            _event_params(event)
            | {
                "credential_id": credential_id,
                "ciphertext": ciphertext,
                "key_ref": key_ref,
                "expected_key_ref": expected_key_ref,
            },
        )
        return True

    def append_event(self, event: Event) -> None:
        self._query(sql.APPEND_EVENT, _event_params(event))

    def events(self, org_slug: str | None = None) -> list[Event]:
        rows = self._query(sql.EVENTS, {"org_slug": org_slug})
        return [Event.model_validate({k: _utc(v) for k, v in r.items()}) for r in rows]

    def add_api_key(self, key: OrgApiKey) -> None:
        self._query(sql.ADD_KEY, key.model_dump())

    def find_api_key(self, key_id: str) -> OrgApiKey | None:
        rows = self._query(sql.FIND_KEY, {"key_id": key_id})
        return OrgApiKey.model_validate({k: _utc(v) for k, v in rows[0].items()}) if rows else None

    def revoke_api_keys(self, org_slug: str, at: datetime) -> int:
        live = self._query(sql.COUNT_LIVE_KEYS, {"org_slug": org_slug})[0]["n"]
        self._query(sql.REVOKE_KEYS, {"org_slug": org_slug, "at": at})
        return int(live)

    def api_keys(self, org_slug: str | None = None) -> list[OrgApiKey]:
        rows = self._query(sql.LIST_KEYS, {"org_slug": org_slug})
        return [OrgApiKey.model_validate({k: _utc(v) for k, v in r.items()}) for r in rows]

    def key_versions(self) -> dict[str, KeyVersion]:
        return {r["key_ref"]: KeyVersion.of({k: _utc(v) for k, v in r.items()}) for r in self._query(sql.KEY_VERSIONS)}

    def record_key_version(self, key_ref: str, key_check: str, at: datetime) -> None:
        self._query(sql.RECORD_KEY_VERSION, {"key_ref": key_ref, "key_check": key_check, "created_at": at})

    def retire_key_version(self, key_ref: str, at: datetime) -> None:
        self._query(sql.RETIRE_KEY_VERSION, {"key_ref": key_ref, "at": at})

    def audit(self, question: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        return [{k: _utc(v) for k, v in row.items()} for row in self._query(AUDIT[question], params)]

    def ping(self) -> None:
        self._query(sql.PING)
