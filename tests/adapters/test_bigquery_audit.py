"""In the gcp profile the audit questions run inside BigQuery: the same answers as the pandas path, from the
BigQuery store's own SQL executed on the DuckDB double."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlglot
from integrations import IntegrationError, IntegrationService, audit
from integrations.bootstrap import build_validators
from integrations.settings import Settings
from integrations.store.bigquery import BigQueryStore
from integrations.store.bigquery.sql import AUDIT

from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.fakes import InMemoryCipher, InMemoryStatusCache, InMemoryStore
from tests.keys import ANTHROPIC_OK, OPENAI_OK


def scenario(store) -> IntegrationService:
    svc = IntegrationService(
        store,
        InMemoryCipher(),
        InMemoryStatusCache(),
        build_validators(Settings(_env_file=None)),
        attempts_per_minute=0,
    )
    store.init()
    for slug in ("acmecorp", "globex", "initech", "empty-org"):
        svc.register_org(slug)
    svc.setup("acmecorp", "openai", OPENAI_OK, actor="alice")
    svc.setup("acmecorp", "anthropic", ANTHROPIC_OK, skip_validation=True, actor="bob")
    svc.setup("globex", "anthropic", ANTHROPIC_OK, actor="alice")  # the same key in two orgs
    svc.setup("globex", "openai", "sk-proj-revoked" + "r" * 30, skip_validation=True, actor="alice")
    svc.validate("globex", "openai", actor="carol")
    svc.cipher.rotate()
    svc.setup("initech", "openai", "sk-proj-" + "i" * 30, actor="bob")
    with contextlib.suppress(IntegrationError):  # an inconclusive attempt is history too
        svc.setup("initech", "anthropic", "sk-ant-api03-unreachable" + "x" * 30, actor="bob")
    return svc


@pytest.fixture(scope="module")
def both() -> tuple[IntegrationService, IntegrationService]:
    return scenario(BigQueryStore(DuckBigQuery(), PROJECT)), scenario(InMemoryStore())


def comparable(frame, drop=("created_at", "last_validated_at", "age_days", "fingerprint", "day")) -> list[tuple]:
    keep = [c for c in frame.columns if c not in drop]
    return sorted(tuple(_text(v) for v in row) for row in frame[keep].itertuples(index=False))


def _text(value: object) -> str:
    return "None" if value is None or (isinstance(value, float) and value != value) else str(value)


LATER = datetime.now(UTC) + timedelta(days=40)


QUESTIONS = [
    lambda svc: audit.inventory(svc),
    lambda svc: audit.unhealthy(svc),
    lambda svc: audit.stale_pending(svc, 7, LATER),
    lambda svc: audit.validation_age(svc),
    lambda svc: audit.not_validated_since(svc, 30, LATER),
    lambda svc: audit.not_validated_since(svc, 30),
    lambda svc: audit.duplicate_active(svc),
    lambda svc: audit.active_without_ciphertext(svc),
    lambda svc: audit.reused_credentials(svc),
    lambda svc: audit.activity(svc),
    lambda svc: audit.failures_by_code(svc),
    lambda svc: audit.actors(svc),
    lambda svc: audit.actors(svc, since=LATER),
]


@pytest.mark.parametrize(
    "question",
    QUESTIONS,
    ids=[
        "inventory",
        "unhealthy",
        "stale_pending",
        "validation_age",
        "not_validated_since_later",
        "not_validated_since",
        "duplicate_active",
        "active_without_ciphertext",
        "reused",
        "activity",
        "failures",
        "actors",
        "actors_since",
    ],
)
def test_bigquery_answers_match_pandas(both, question) -> None:
    in_bigquery, in_pandas = both
    sql_answer, pandas_answer = question(in_bigquery), question(in_pandas)
    assert list(sql_answer.columns) == list(pandas_answer.columns)
    assert comparable(sql_answer) == comparable(pandas_answer)


def test_key_versions_in_bigquery(both) -> None:
    in_bigquery, _ = both
    versions = audit.key_versions(in_bigquery).set_index("key_ref")
    assert versions.loc["mem/v1", "ciphertexts"] == 4 and versions.loc["mem/v2", "ciphertexts"] == 1
    assert bool(versions.loc["mem/v2", "current"])


def test_the_questions_ran_in_bigquery(both) -> None:
    in_bigquery, _ = both
    for question in QUESTIONS + [audit.key_versions]:
        question(in_bigquery)
    client = in_bigquery.store.client
    texts = {q.format(t=f"{PROJECT}.organizations") for q in AUDIT.values()}
    assert texts <= set(client.statements)


@pytest.mark.parametrize("name", sorted(AUDIT))
def test_audit_sql_parses_as_bigquery(name: str) -> None:
    assert sqlglot.parse(
        AUDIT[name].format(t=f"{PROJECT}.organizations"), read="bigquery", error_level=sqlglot.ErrorLevel.RAISE
    )
    assert "'" not in AUDIT[name]
