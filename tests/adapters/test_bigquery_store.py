"""BigQuery store specifics: every statement parses as BigQuery SQL, retries, permissions, identifiers."""

from __future__ import annotations

import os

import pytest
import sqlglot
from google.api_core import exceptions as gexc
from integrations.domain import Provider
from integrations.errors import IntegrationError
from integrations.store import bigquery_sql
from integrations.store.bigquery import BigQueryStore

from tests.bigquery_double import PROJECT, DuckBigQuery
from tests.builders import event, record
from tests.contract.test_store import StoreContract


@pytest.mark.parametrize("name", sorted(bigquery_sql.ALL))
def test_every_statement_parses_as_bigquery(name: str) -> None:
    text = bigquery_sql.ALL[name].format(t=f"{PROJECT}.organizations")
    statements = sqlglot.parse(text, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    assert statements and all(s is not None for s in statements)
    assert "'" not in text.replace("''", ""), "values travel as @parameters, never as literals"


def test_emitted_statements_are_the_catalogued_ones() -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    rec = record()
    store.activate(rec, event())
    store.record_validation(rec.credential_id, rec.validation_status, None, None, None, "t", event())
    store.replace_ciphertext(rec.credential_id, b"x", "v2", rec.key_ref, event())
    store.deactivate("acmecorp", Provider.OPENAI, rec.created_at, "t", event())
    store.events()
    known = {v.format(t=f"{PROJECT}.organizations") for v in bigquery_sql.ALL.values()}
    assert set(client.statements) <= known
    assert {"BYTES", "TIMESTAMP", "BOOL", "STRING", "INT64", "ARRAY", "STRUCT"} <= client.parameter_types


@pytest.mark.parametrize(
    "message",
    [
        "Transaction is aborted due to concurrent update against table t",
        "Resources exceeded: too many DML statements outstanding against table t",
    ],
)
def test_concurrent_update_aborts_are_retried(message: str) -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    client.faults = [gexc.BadRequest(message), gexc.BadRequest(message)]
    rec = record()
    store.activate(rec, event())
    assert store.get_active("acmecorp", Provider.OPENAI).credential_id == rec.credential_id


def test_retries_are_bounded() -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    client.faults = [gexc.BadRequest("Transaction is aborted due to concurrent update")] * 10
    with pytest.raises(IntegrationError) as err:
        store.ping()
    assert err.value.code == "STORAGE_FAILED" and len(client.faults) == 5


def test_missing_permission_is_named_at_init() -> None:
    client = DuckBigQuery()

    def denied(*args: object, **kwargs: object) -> None:
        raise gexc.Forbidden("Access Denied: User does not have bigquery.datasets.create permission")

    client.create_dataset = denied  # type: ignore[method-assign]
    with pytest.raises(IntegrationError) as err:
        BigQueryStore(client, PROJECT).init()
    assert err.value.code == "STORAGE_FAILED" and "bigquery.datasets.create" in err.value.message


@pytest.mark.parametrize(
    ("project", "dataset"),
    [("x`; DROP TABLE t; --", "organizations"), (PROJECT, "orgs`.evil"), ("", "organizations"), (PROJECT, "a b")],
)
def test_identifiers_are_validated(project: str, dataset: str) -> None:
    with pytest.raises(IntegrationError) as err:
        BigQueryStore(DuckBigQuery(), project, dataset)
    assert err.value.code == "CONFIGURATION_ERROR"


@pytest.mark.bigquery
@pytest.mark.skipif(not os.environ.get("INTEGRATIONS_TEST_GCP_PROJECT"), reason="needs INTEGRATIONS_TEST_GCP_PROJECT")
class TestLiveBigQuery(StoreContract):
    """Opt-in: the same contract on real BigQuery (`pytest -m bigquery`), in a throwaway dataset."""

    def make(self, tmp_path):  # pragma: no cover - needs a cloud project
        import uuid

        from google.cloud import bigquery

        project = os.environ["INTEGRATIONS_TEST_GCP_PROJECT"]
        return BigQueryStore(bigquery.Client(project=project), project, f"integrations_test_{uuid.uuid4().hex[:8]}")
