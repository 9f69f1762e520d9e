"""The BigQuery double's limits (issue 23): what BigQuery refuses, the double refuses with BigQuery's words."""

from __future__ import annotations

import threading

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from integrations.errors import IntegrationError
from integrations.store.bigquery import BigQueryStore

from tests.doubles.bigquery import MAX_QUEUED_DML, PROJECT, DuckBigQuery


def _store(client: DuckBigQuery, location: str | None = None) -> BigQueryStore:
    store = BigQueryStore(client, PROJECT, location=location)
    store.init()
    return store


def test_a_request_over_10_mb_is_refused_as_bigquery_refuses_it() -> None:
    client = DuckBigQuery()
    _store(client)
    big = bigquery.ScalarQueryParameter("s", "STRING", "é" * 1_800_000)  # 1.8 M characters: 10.8 MB as JSON
    with pytest.raises(gexc.BadRequest, match="Request payload size exceeds the limit: 10485760 bytes"):
        client.query("SELECT @s AS s", job_config=bigquery.QueryJobConfig(query_parameters=[big]))
    small = bigquery.ScalarQueryParameter("s", "STRING", "é" * 1_000_000)
    assert client.query("SELECT LENGTH(@s) AS n", job_config=bigquery.QueryJobConfig(query_parameters=[small])).result()


def test_a_job_in_another_location_than_the_dataset_fails_as_bigquery_fails() -> None:
    client = DuckBigQuery()
    _store(client, location="EU")
    with pytest.raises(IntegrationError) as err:
        BigQueryStore(client, PROJECT, location="US").list_credentials()
    assert "Not found: Dataset test-project:organizations was not found in location US" in err.value.message
    assert BigQueryStore(client, PROJECT, location="EU").list_credentials() == []


def test_qualify_is_reserved() -> None:
    client = DuckBigQuery()
    with pytest.raises(gexc.BadRequest, match="Unexpected keyword QUALIFY"):
        client.query("SELECT 1 AS qualify").result()


def test_a_transaction_on_a_table_another_open_transaction_mutates_is_aborted() -> None:
    client = DuckBigQuery()
    _store(client)
    t = f"`{PROJECT}.organizations.key_versions`"
    update = f"BEGIN TRANSACTION; UPDATE {t} SET retired_at = NULL WHERE key_ref = 'k'; COMMIT TRANSACTION"
    client._locks.held[f"{PROJECT}.organizations.key_versions"] = "another-job"  # an open transaction holds it
    with pytest.raises(gexc.BadRequest, match="Transaction is aborted due to concurrent update against table"):
        client.query(update).result(timeout=5)


def test_more_than_20_queued_dml_statements_on_a_table_fail() -> None:
    client = DuckBigQuery()
    _store(client)
    table = f"{PROJECT}.organizations.key_versions"
    client._locks.held[table] = "a-long-transaction"
    client._locks.queued[table] = MAX_QUEUED_DML  # 20 statements already wait for it
    with pytest.raises(gexc.BadRequest, match="Too many DML statements outstanding against table"):
        client.query(f"UPDATE `{table}` SET retired_at = NULL WHERE key_ref = 'k'").result(timeout=5)
    client._locks.queued[table] = 0
    job = client.query(f"UPDATE `{table}` SET retired_at = NULL WHERE key_ref = 'k'")
    release = threading.Timer(0.2, lambda: client._release([table]))
    release.start()
    job.result(timeout=5)  # a queued statement runs once the table is free


def test_last_modified_time_moves_only_when_a_commit_changed_rows() -> None:
    """tables.get's lastModifiedTime (ms) and numRows, as BigQuery: a committed statement that changed rows moves
    them; a statement that changed none, and a transaction rolled back, leave them as they were."""
    import time

    client = DuckBigQuery()
    _store(client)
    name = f"{PROJECT}.organizations.key_versions"
    t = f"`{name}`"

    def meta() -> tuple[object, int | None]:
        table = client.get_table(name)
        return table.modified, table.num_rows

    created = meta()
    assert created[0] is not None and created[1] == 0
    client.query(f"UPDATE {t} SET retired_at = NULL WHERE key_ref = 'none'").result(timeout=5)
    assert meta() == created  # no row changed
    client._locks.held[name] = "another-job"  # an open transaction holds it: this one's INSERT is rolled back
    aborted = (
        f"BEGIN TRANSACTION; INSERT INTO {t} (key_ref, key_check, created_at) VALUES ('k', 'c', CURRENT_TIMESTAMP()); "
        f"UPDATE {t} SET retired_at = NULL WHERE key_ref = 'k'; COMMIT TRANSACTION"
    )
    with pytest.raises(gexc.BadRequest):
        client.query(aborted).result(timeout=5)
    client._locks.held.pop(name)
    assert meta() == created
    before_ms = int(time.time() * 1000)
    client.query(f"INSERT INTO {t} (key_ref, key_check, created_at) VALUES ('k', 'c', CURRENT_TIMESTAMP())").result(
        timeout=5
    )
    modified, rows = meta()
    assert rows == 1 and modified is not None and int(modified.timestamp() * 1000) >= before_ms
