"""BigQuery query parameters built from records and events (every value a typed parameter, NULLs too), and the
records and events read back from result rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from google.cloud import bigquery

from ...domain import Event, StoredCredential
from ..staging import STAGED_COLUMNS
from .sql import COLUMNS

_TYPES = {
    bytes: "BYTES",
    bool: "BOOL",
    int: "INT64",
    float: "FLOAT64",
    datetime: "TIMESTAMP",
    date: "DATE",
    str: "STRING",
}
_TYPED_NULLS = {
    "encrypted_credential": "BYTES",
    "ciphertext": "BYTES",
    "is_active": "BOOL",
    "duration_ms": "INT64",
    "active_only": "BOOL",
    "since": "TIMESTAMP",
    "until": "TIMESTAMP",
    "cutoff": "TIMESTAMP",
    "data_through": "DATE",
}
EVENT_TYPES = {  # the STRUCT of one @events element: the events table's columns
    "event_id": "STRING",
    "event_at": "TIMESTAMP",
    "org_slug": "STRING",
    "provider": "STRING",
    "credential_id": "STRING",
    "action": "STRING",
    "status_before": "STRING",
    "status_after": "STRING",
    "outcome": "STRING",
    "error_code": "STRING",
    "message": "STRING",
    "actor": "STRING",
    "duration_ms": "INT64",
    "run_id": "STRING",
}
FRESHNESS_TYPES = {  # what a check read of the cost source and the key's expiry: an update's and a staged result's
    "data_status": "STRING",
    "data_through": "DATE",
    "data_newest_at": "TIMESTAMP",
    "last_success_at": "TIMESTAMP",
    "expiry": "STRING",
    "expires_at": "TIMESTAMP",
    "last_used_at": "TIMESTAMP",
}
UPDATE_TYPES = {  # the STRUCT of one @updates element
    "credential_id": "STRING",
    "validation_status": "STRING",
    "validation_error_code": "STRING",
    "validation_error_message": "STRING",
    "validated_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "actor": "STRING",
    "expected_updated_at": "TIMESTAMP",  # the row's updated_at when the check read it: written only while unchanged
    **FRESHNESS_TYPES,
}


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value  # enums


def scalar(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    if name == "metadata":
        return bigquery.ScalarQueryParameter(name, "STRING", value)  # PARSE_JSON(@metadata) in the SQL
    if value is None:
        kind = _TYPED_NULLS.get(name, "TIMESTAMP" if name.endswith("_at") else "STRING")
        return bigquery.ScalarQueryParameter(name, kind, None)
    value = _plain(value)
    return bigquery.ScalarQueryParameter(name, _TYPES[type(value)], value)


def structs(name: str, types: dict[str, str], rows: list[dict[str, Any]]) -> bigquery.ArrayQueryParameter:
    """An ARRAY<STRUCT<...>> parameter: one element per row, every field typed (NULLs too)."""
    return array_of(name, types, [element(types, row) for row in rows])


def element(types: dict[str, str], row: dict[str, Any]) -> bigquery.StructQueryParameter:
    """One STRUCT element of an array parameter."""
    return bigquery.StructQueryParameter(
        None, *(bigquery.ScalarQueryParameter(f, t, _plain(row[f])) for f, t in types.items())
    )


def array_of(
    name: str, types: dict[str, str], elements: list[bigquery.StructQueryParameter]
) -> bigquery.ArrayQueryParameter:
    """An ARRAY<STRUCT<...>> of built elements; an empty one carries its element type (BigQuery needs it)."""
    if elements:
        return bigquery.ArrayQueryParameter(name, "STRUCT", elements)
    kind = bigquery.StructQueryParameterType(*(bigquery.ScalarQueryParameterType(t, name=f) for f, t in types.items()))
    return bigquery.ArrayQueryParameter(name, kind, [])


def wire_bytes(item: bigquery.StructQueryParameter) -> int:
    """What one element adds to a jobs.insert request: its value as the client sends it (JSON), and a separator."""
    return len(json.dumps(item.to_api_repr()["parameterValue"])) + 2


def event_row(event: Event) -> dict[str, Any]:
    row = event.model_dump()
    return row | {"event_at": row["at"]}


def events_param(events: list[Event]) -> bigquery.ArrayQueryParameter:
    return structs("events", EVENT_TYPES, [event_row(e) for e in events])


def credential_row(record: StoredCredential) -> dict[str, Any]:
    """A record as query parameters: its metadata as JSON text (PARSE_JSON in the SQL)."""
    row = record.model_dump()
    row["metadata"] = json.dumps(row["metadata"], sort_keys=True)
    return row


def utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def credential_of(row: dict[str, Any]) -> StoredCredential:
    data = {k: utc(v) for k, v in row.items()}
    meta = data.get("metadata")
    data["metadata"] = json.loads(meta) if isinstance(meta, str) else (meta or {})
    return StoredCredential.model_validate(data)


def event_of(row: dict[str, Any]) -> Event:
    data = {k: utc(v) for k, v in row.items()}
    data["at"] = data.pop("event_at")  # the column is event_at (AT is reserved in BigQuery); the model says at
    return Event.model_validate(data)


CREDENTIAL_TYPES = {  # the STRUCT of one @records element: the credentials table's columns (metadata as JSON text)
    "credential_id": "STRING",
    "org_slug": "STRING",
    "provider": "STRING",
    "credential_name": "STRING",
    "encrypted_credential": "BYTES",
    "key_ref": "STRING",
    "credential_hint": "STRING",
    "credential_fingerprint": "STRING",
    "metadata": "STRING",
    "is_active": "BOOL",
    "validation_status": "STRING",
    "validation_error_code": "STRING",
    "validation_error_message": "STRING",
    "last_validated_at": "TIMESTAMP",
    "created_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "created_by": "STRING",
    "updated_by": "STRING",
    "deleted_at": "TIMESTAMP",
    "credential_kind": "STRING",
    **FRESHNESS_TYPES,
}
KEY_TYPES = {  # one @keys element: an org API key (its hash, never the key)
    "org_slug": "STRING",
    "key_id": "STRING",
    "key_prefix": "STRING",
    "key_hash": "STRING",
    "created_at": "TIMESTAMP",
    "revoked_at": "TIMESTAMP",
}
assert tuple(CREDENTIAL_TYPES) == COLUMNS["org_integrations"]  # noqa: S101 - checked at import, as below
assert tuple(KEY_TYPES) == COLUMNS["org_api_keys"]  # noqa: S101
PAIR_TYPES = {"org_slug": "STRING", "provider": "STRING"}  # one @pending element

RESULT_TYPES = {  # the STRUCT of one @results element: the staging table's columns
    "run_id": "STRING",
    "task_index": "INT64",
    "credential_id": "STRING",
    "org_slug": "STRING",
    "provider": "STRING",
    "status_before": "STRING",
    "status_after": "STRING",
    "outcome": "STRING",
    "error_code": "STRING",
    "message": "STRING",
    "validated_at": "TIMESTAMP",
    "checked_at": "TIMESTAMP",
    "event_id": "STRING",
    "actor": "STRING",
    "duration_ms": "INT64",
    "alarm": "BOOL",
    "seen_updated_at": "TIMESTAMP",
    **FRESHNESS_TYPES,
}
assert tuple(RESULT_TYPES) == STAGED_COLUMNS  # noqa: S101 - the struct and the table agree, checked at import
