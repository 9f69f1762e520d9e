"""BigQuery store specifics: every statement parses as BigQuery SQL, retries, permissions, identifiers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlglot
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from integrations import IntegrationService
from integrations.domain import Action, Provider, Status
from integrations.errors import IntegrationError
from integrations.store.base import CiphertextSwap, ValidationUpdate
from integrations.store.bigquery import BigQueryStore
from integrations.store.bigquery import sql as bigquery_sql

from tests.builders import T0, event, record
from tests.doubles.bigquery import DATA_EDITOR_ON_DATASET, PROJECT, DuckBigQuery


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
    store.record_validations(
        [ValidationUpdate(rec.credential_id, rec.validation_status, None, None, None, "t", event())]
    )
    store.replace_ciphertexts([CiphertextSwap(rec.credential_id, b"x", "v2", rec.key_ref or "", event())])
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


def _denied_dataset_create() -> DuckBigQuery:
    return DuckBigQuery(granted=DATA_EDITOR_ON_DATASET)


def test_data_editor_on_an_existing_dataset_is_enough_for_init() -> None:
    client = _denied_dataset_create()
    client.add_dataset(f"{PROJECT}.organizations", "EU")  # created by an administrator
    store = BigQueryStore(client, PROJECT, location="EU")
    store.init()
    assert client.jobs == len(bigquery_sql.TABLES)  # each table, created because it was missing
    store.init()
    assert client.jobs == len(bigquery_sql.TABLES)  # everything present: get, nothing created, no job
    assert set(client.locations) == {"EU"}


def test_missing_dataset_without_create_permission_names_it_only_then() -> None:
    with pytest.raises(IntegrationError) as err:
        BigQueryStore(_denied_dataset_create(), PROJECT).init()
    message = err.value.message
    assert err.value.code == "STORAGE_FAILED" and not err.value.retryable
    assert "bigquery.datasets.create" in message and "bq mk" in message


def test_an_events_table_with_the_old_reserved_column_names_its_migration() -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    old = bigquery_sql.CREATE_EVENTS.replace("event_at", "`at`").replace("IF NOT EXISTS ", "")
    client.tables.pop(f"{PROJECT}.organizations.org_integration_events")
    client.db.execute('DROP TABLE "test-project"."organizations"."org_integration_events"')
    client.query(old.format(t=f"{PROJECT}.organizations")).result()
    with pytest.raises(IntegrationError) as err:
        store.init()
    assert "event_at" in err.value.message and "RENAME TO org_integration_events" in err.value.message


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT at FROM `{t}.org_integration_events`", "Syntax error"),  # AT is reserved
        ("SELECT nope FROM `{t}.org_integrations`", "Unrecognized name: nope"),
        ("SELECT credential_id FROM `{t}.org_integrations` WHERE is_active = @flag", "No matching signature"),
        ("SELECT credential_id FROM `{t}.org_integrations` WHERE org_slug = @undeclared", "undeclared"),
    ],
)
def test_zetasql_refuses_what_bigquery_refuses(sql: str, error: str) -> None:
    client = DuckBigQuery()
    BigQueryStore(client, PROJECT).init()
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("flag", "STRING", "x")])
    job = client.query(sql.format(t=f"{PROJECT}.organizations"), job_config=config)
    with pytest.raises(gexc.BadRequest) as err:
        job.result()
    assert error.lower() in err.value.message.lower() and err.value.errors[0]["reason"] == "invalidQuery"


def test_a_batch_of_validations_or_events_is_one_job() -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    records = [record(f"org-{i:03d}") for i in range(3)]
    for rec in records:
        store.activate(rec, event(rec.org_slug))
    before = client.jobs
    updates = [
        ValidationUpdate(r.credential_id, Status.INVALID, "INVALID_CREDENTIAL", "no", T0, "ops", event(r.org_slug))
        for r in records * 200  # 600 outcomes, some for the same credential
    ]
    store.record_validations(updates)
    store.append_events([event(f"org-{i:03d}") for i in range(700)])
    assert client.jobs - before == 2
    assert {r.validation_status for r in store.list_credentials()} == {Status.INVALID}
    assert len(store.events()) == 3 + 600 + 700


def test_setup_delete_and_rewrap_writes_are_one_job_each() -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    rec = record()
    counts = []
    for write in (
        lambda: store.activate(rec, event()),
        lambda: store.replace_ciphertexts(
            [CiphertextSwap(rec.credential_id, b"new", "test/v2", rec.key_ref or "", event())]
        ),
        lambda: store.deactivate("acmecorp", Provider.OPENAI, T0, "ops", event(action=Action.DELETE)),
        lambda: store.revoke_api_keys("acmecorp", T0),
    ):
        before = client.jobs
        write()
        counts.append(client.jobs - before)
    assert counts == [1, 1, 1, 1]


def test_a_second_transaction_on_a_held_table_aborts_and_the_store_retries() -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    table = f"{PROJECT}.organizations.org_integrations"
    client._locks.held[table] = "another-open-transaction"
    script = bigquery_sql.DEACTIVATE.replace("{t}", f"{PROJECT}.organizations")
    job = client.query(script, job_config=_deactivate_config())
    with pytest.raises(gexc.BadRequest) as err:
        job.result()
    assert "Transaction is aborted due to concurrent update against table" in err.value.message
    threading.Timer(0.3, lambda: client._release([table])).start()  # the other transaction commits
    rec = record()
    store.activate(rec, event())  # aborted until then, retried with backoff
    assert store.get_active("acmecorp", Provider.OPENAI).credential_id == rec.credential_id
    assert client.jobs >= 5


def _deactivate_config() -> bigquery.QueryJobConfig:
    from integrations.store.bigquery.params import events_param as _events
    from integrations.store.bigquery.params import scalar as _param

    params = {"org_slug": "acmecorp", "provider": "OPENAI", "erase_at": T0, "erase_actor": "t"}
    params |= {"event_id": "evt_1", "event_at": T0}
    return bigquery.QueryJobConfig(query_parameters=[_param(k, v) for k, v in params.items()] + [_events([event()])])


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "quotaExceeded"])
def test_quota_errors_are_their_own_transient_code_not_an_outage(reason: str) -> None:
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    client.quota_errors = [reason]
    with pytest.raises(IntegrationError) as err:
        store.activate(record(), event())
    assert err.value.code == "STORE_QUOTA_EXCEEDED" and err.value.retryable and reason in err.value.message
    assert store.list_credentials() == []


def test_a_write_past_the_deadline_is_cancelled_and_said_not_to_have_happened() -> None:
    client = DuckBigQuery()
    BigQueryStore(client, PROJECT).init()
    store = BigQueryStore(client, PROJECT, timeout=0.3)
    client.job_delay_s = 5.0
    with pytest.raises(IntegrationError) as err:
        store.activate(record(), event())
    assert err.value.code == "STORAGE_FAILED" and err.value.retryable
    assert "nothing was written" in err.value.message and "INTEGRATIONS_STORE_TIMEOUT_S" in err.value.message
    client.job_delay_s = 0.0
    slow_to_read = BigQueryStore(client, PROJECT)
    assert slow_to_read.list_credentials() == [] and slow_to_read.events() == []


@pytest.mark.parametrize(
    ("project", "dataset"),
    [("x`; DROP TABLE t; --", "organizations"), (PROJECT, "orgs`.evil"), ("", "organizations"), (PROJECT, "a b")],
)
def test_identifiers_are_validated(project: str, dataset: str) -> None:
    with pytest.raises(IntegrationError) as err:
        BigQueryStore(DuckBigQuery(), project, dataset)
    assert err.value.code == "CONFIGURATION_ERROR"


def test_a_write_that_commits_despite_the_cancel_is_said_to_maybe_have_happened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.doubles.bigquery import Job

    client = DuckBigQuery()
    BigQueryStore(client, PROJECT).init()
    store = BigQueryStore(client, PROJECT, timeout=0.3)
    monkeypatch.setattr(Job, "cancel", lambda self, *a, **k: True)  # the cancel arrives after the commit
    client.job_delay_s = 0.6
    with pytest.raises(IntegrationError) as err:
        store.activate(record(), event())
    assert err.value.retryable and "may have happened" in err.value.message
    client.job_delay_s = 0.0
    assert len(BigQueryStore(client, PROJECT).list_credentials()) == 1  # it did


def test_concurrent_setups_conflict_at_table_level_and_are_retried() -> None:
    """BigQuery locks a table for a mutating transaction: setups of different orgs at the same time abort each
    other; each is retried, and whatever fails says so as retryable with nothing half-written."""
    from concurrent.futures import ThreadPoolExecutor

    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    records = [record(f"org-{i}") for i in range(4)]

    def setup(rec):  # type: ignore[no-untyped-def]
        try:
            store.activate(rec, event(rec.org_slug, credential_id=rec.credential_id))
            return None
        except IntegrationError as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(setup, records) if f is not None]
    assert all(f.code == "STORAGE_FAILED" and f.retryable for f in failures)
    stored = {r.org_slug for r in store.list_credentials()}
    written = {e.org_slug for e in store.events()}
    assert stored == written and len(stored) == 4 - len(failures)


def _new_orgs(count: int, providers: tuple[Provider, ...] = (Provider.OPENAI, Provider.ANTHROPIC, Provider.GCP)):
    """What bulkload hands add_new_orgs for `count` new orgs: their keys, their first credentials with their SETUP
    events (status_before unset, as setup leaves it), and their ORG_KEY events."""
    from integrations.domain import OrgApiKey

    orgs = [f"bulk-{i:04d}" for i in range(count)]
    keys = [
        OrgApiKey(org_slug=o, key_id=f"key_{o}", key_prefix=f"{o}_api_", key_hash="h" * 64, created_at=T0) for o in orgs
    ]
    issued = [event(o, Action.ORG_KEY) for o in orgs]
    setups = []
    for o in orgs:
        for p in providers:
            rec = record(o, p)
            setups.append((rec, event(o, credential_id=rec.credential_id).model_copy(update={"status_before": None})))
    return keys, setups, issued


@pytest.mark.parametrize("orgs", [2, 60])
def test_a_bulk_load_of_new_orgs_is_one_job_whatever_its_size(orgs: int) -> None:
    """add_new_orgs (integrations demo --orgs N, 500 orgs a call) in one job, not ~2 per credential + 1 per key."""
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    keys, setups, issued = _new_orgs(orgs)
    before = client.jobs
    store.add_new_orgs(keys, setups, issued)
    assert client.jobs - before == 1
    assert len(store.list_credentials()) == 3 * orgs and len(store.api_keys()) == orgs
    assert len(store.events()) == 4 * orgs


def test_a_bulk_load_over_the_request_limit_is_split_by_org_into_jobs_bigquery_accepts() -> None:
    """BigQuery refuses a jobs.insert over 10 MB (the double too): a load of 12 orgs with a 1 MB ciphertext each
    (~16 MB as JSON) goes in jobs of at most LOAD_BYTES, an org's rows together, and all of it is written."""
    from integrations.store.bigquery.store import LOAD_BYTES

    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    keys, setups, issued = _new_orgs(12, (Provider.GCP,))
    setups = [(r.model_copy(update={"encrypted_credential": bytes(1_000_000)}), e) for r, e in setups]
    before = client.jobs
    store.add_new_orgs(keys, setups, issued)
    assert client.jobs - before == -(-12 * 1_340_000 // LOAD_BYTES)  # base64: 4/3 of the bytes
    assert len(store.list_credentials()) == 12 and len(store.api_keys()) == 12 and len(store.events()) == 24
    for rec in store.list_credentials():  # each org whole: its key, its events and its credential
        assert len(rec.encrypted_credential or b"") == 1_000_000


def test_a_bulk_load_split_in_jobs_checks_every_org_before_its_first_job_writes() -> None:
    """A clash in the last job of a split load refuses the first job too: nothing is written."""
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    keys, setups, issued = _new_orgs(12, (Provider.GCP,))
    setups = [(r.model_copy(update={"encrypted_credential": bytes(1_000_000)}), e) for r, e in setups]
    present = record("bulk-0011", Provider.GCP)
    store.activate(present, event("bulk-0011", credential_id=present.credential_id))
    with pytest.raises(IntegrationError) as err:
        store.add_new_orgs(keys, setups, issued)
    assert err.value.code == "STORAGE_FAILED" and "bulk-0011" in err.value.message
    assert [r.credential_id for r in store.list_credentials()] == [present.credential_id]
    assert store.api_keys() == [] and len(store.events()) == 1


def test_the_data_version_is_three_table_gets_no_job_and_a_render_asks_once() -> None:
    """data_version reads tables.get of credentials, events and org keys (metadata: no job, nothing billed); a
    render's several asks share it; this store's writes show at once, another process's in a fresh read."""
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    jobs, gets = client.jobs, client.table_gets
    first = store.data_version()
    assert first is not None and client.jobs == jobs and client.table_gets - gets == 3
    assert store.data_version() == first and client.table_gets - gets == 3  # the same render: no call
    rec = record()
    store.activate(rec, event(credential_id=rec.credential_id))
    mine = store.data_version()
    assert mine != first and client.table_gets - gets == 6
    elsewhere = BigQueryStore(client, PROJECT)  # another process (the CLI, a task) writes
    elsewhere.append_events([event(action=Action.VALIDATE, offset_s=1)])
    assert BigQueryStore(client, PROJECT).data_version() not in (first, mine)
    assert client.jobs - jobs == 2  # the two writes, no read


def test_the_data_version_is_none_when_tables_get_fails() -> None:
    """A failed metadata call is no marker (the console reads again after a while); the read then says why."""
    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    client.granted.discard("bigquery.tables.get")
    assert store.data_version() is None


def test_register_orgs_on_bigquery_writes_what_sqlite_writes_in_a_fixed_number_of_jobs(
    local_svc: IntegrationService, tmp_path: Path
) -> None:
    """The bulk load through the service (every credential format-checked and really encrypted) on the BigQuery
    double: the same statuses, history and usable keys as on SQLite, in jobs that do not grow with the orgs."""
    from integrations.bootstrap import build_validators
    from integrations.crypto.local import LocalKeyring
    from integrations.demo import anthropic_key, openai_key, service_account_json
    from integrations.settings import Settings
    from integrations.status_cache.sqlite import SqliteStatusCache

    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    (tmp_path / "bq").mkdir(mode=0o700)
    cache = SqliteStatusCache(tmp_path / "bq" / "status.sqlite")
    cache.init()
    validators = build_validators(Settings(_env_file=None, data_dir=tmp_path / "bq"))
    bq = IntegrationService(store, LocalKeyring(tmp_path / "bq" / "local.keyring"), cache, validators)
    gcp = service_account_json("fleet@demo-project.iam.gserviceaccount.com")

    def plan(first: int, count: int) -> dict[str, dict[Provider | str, str]]:
        keys = {Provider.OPENAI: openai_key(), Provider.ANTHROPIC: anthropic_key(), Provider.GCP: gcp}
        return {f"org-{i:03d}": {p: keys[p] for p in list(Provider)[: 1 + i % 3]} for i in range(first, first + count)}

    def shape(svc: IntegrationService) -> tuple[object, ...]:
        frame = svc.events().iloc[::-1]
        frame = frame[frame.org_slug.str.startswith("org-")]
        rows = zip(frame.org_slug, frame.action, frame.provider, frame.status_before, frame.status_after, strict=True)
        creds = sorted((r.org_slug, r.provider.value, r.validation_status.value) for r in svc.credentials())
        return sorted(map(str, rows)), [c for c in creds if c[0].startswith("org-")]

    jobs = []
    for first, count in ((0, 3), (3, 30)):
        before = client.jobs
        keys = bq.register_orgs(plan(first, count), actor="loader")
        jobs.append(client.jobs - before)
        local_svc.register_orgs(plan(first, count), actor="loader")
    assert jobs == [4, 3]  # the org list, the key versions (recorded the first time), one write: 3 orgs or 30
    assert shape(bq) == shape(local_svc)
    assert bq.undecryptable() == [] and bq.authenticate("org-032", keys["org-032"]).org_slug == "org-032"
    # pages that poll (runs in progress) read BigQuery less often: each read is a billed job, SQLite's are not
    assert bq.reads_billed and not local_svc.reads_billed
