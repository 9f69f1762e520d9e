"""StoreContract: every IntegrationStore adapter and fake behaves alike."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from integrations.domain import Action, CredentialKind, OrgApiKey, Provider, Status
from integrations.store.base import ROTATED, IntegrationStore, ValidationUpdate
from integrations.store.bigquery import BigQueryStore
from integrations.store.sqlite import SqliteStore

from tests.builders import T0, event, record
from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.fakes import InMemoryStore


class StoreContract:
    def make(self, tmp_path: Path) -> IntegrationStore:
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> IntegrationStore:
        store = self.make(tmp_path)
        store.init()
        store.init()  # idempotent
        return store

    def test_activate_then_read_back_every_field(self, store: IntegrationStore) -> None:
        rec = record()
        assert store.activate(rec, event(credential_id=rec.credential_id)) is None
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert got == rec
        assert got.created_at.tzinfo is not None and got.metadata == {"environment": "production", "n": 3}

    @pytest.mark.parametrize("kind", [CredentialKind.ADMIN, CredentialKind.PROJECT, None])
    def test_credential_kind_is_stored_with_the_record(self, store: IntegrationStore, kind) -> None:
        rec = record(credential_kind=kind)
        store.activate(rec, event(credential_id=rec.credential_id))
        assert store.get_active("acmecorp", Provider.OPENAI).credential_kind == kind
        assert [r.credential_kind for r in store.list_credentials("acmecorp")] == [kind]

    def test_rotation_deactivates_and_erases_previous(self, store: IntegrationStore) -> None:
        first, second = record(), record(at=T0 + timedelta(hours=1))
        store.activate(first, event())
        previous = store.activate(second, event(offset_s=1))
        assert previous is not None and previous.credential_id == first.credential_id
        active = store.list_credentials("acmecorp")
        assert [r.credential_id for r in active] == [second.credential_id]
        everything = {r.credential_id: r for r in store.list_credentials("acmecorp", active_only=False)}
        old = everything[first.credential_id]
        assert not old.is_active and old.encrypted_credential is None and old.deleted_at is not None
        assert len(store.events("acmecorp")) == 2

    def test_a_setup_event_learns_its_before_status_from_the_replaced_row(self, store: IntegrationStore) -> None:
        first = record(status=Status.INVALID)
        store.activate(first, event().model_copy(update={"status_before": None, "message": "Configured."}))
        second = record(at=T0 + timedelta(hours=1))
        unset = event(offset_s=1).model_copy(update={"status_before": None, "message": "Configured."})
        store.activate(second, unset)
        newest, oldest = store.events("acmecorp")
        assert (oldest.status_before, oldest.message) == (Status.NOT_CONFIGURED, "Configured.")
        assert (newest.status_before, newest.message) == (Status.INVALID, ROTATED)

    def test_list_by_org_and_across_orgs(self, store: IntegrationStore) -> None:
        store.activate(record("acmecorp", Provider.OPENAI), event())
        store.activate(record("acmecorp", Provider.GCP), event())
        store.activate(record("globex", Provider.OPENAI), event("globex"))
        assert {(r.org_slug, r.provider) for r in store.list_credentials()} == {
            ("acmecorp", Provider.OPENAI),
            ("acmecorp", Provider.GCP),
            ("globex", Provider.OPENAI),
        }
        assert len(store.list_credentials("globex")) == 1
        assert store.list_credentials("nobody") == []

    def test_record_validation_keeps_last_validated_when_none(self, store: IntegrationStore) -> None:
        rec = record()
        store.activate(rec, event())
        later = T0 + timedelta(days=1)
        assert store.record_validation(
            rec.credential_id,
            Status.INVALID,
            "INVALID_CREDENTIAL",
            "rejected",
            later,
            "ops",
            event(action=Action.VALIDATE, offset_s=5),
        )
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.validation_status, got.validation_error_code, got.last_validated_at) == (
            Status.INVALID,
            "INVALID_CREDENTIAL",
            later,
        )
        store.record_validation(
            rec.credential_id,
            Status.INVALID,
            "NETWORK_ERROR",
            "down",
            None,
            "ops",
            event(action=Action.VALIDATE, offset_s=6),
        )
        assert store.get_active("acmecorp", Provider.OPENAI).last_validated_at == later

    def test_record_validation_on_inactive_row_is_refused(self, store: IntegrationStore) -> None:
        rec = record()
        store.activate(rec, event())
        store.activate(record(), event())
        assert not store.record_validation(rec.credential_id, Status.VALID, None, None, T0, "ops", event())

    def test_deactivate_erases_and_keeps_history(self, store: IntegrationStore) -> None:
        rec = record()
        store.activate(rec, event())
        gone = store.deactivate("acmecorp", Provider.OPENAI, T0, "ops", event(action=Action.DELETE, offset_s=1))
        assert gone is not None and gone.credential_id == rec.credential_id
        assert store.get_active("acmecorp", Provider.OPENAI) is None
        [row] = store.list_credentials("acmecorp", active_only=False)
        assert row.encrypted_credential is None and not row.is_active
        assert store.deactivate("acmecorp", Provider.OPENAI, T0, "ops", event()) is None
        assert [e.action for e in store.events("acmecorp")] == [Action.DELETE, Action.SETUP]

    def test_replace_ciphertext_only_under_expected_key(self, store: IntegrationStore) -> None:
        rec = record()
        store.activate(rec, event())
        assert not store.replace_ciphertext(rec.credential_id, b"new", "test/v2", "other/v9", event())
        assert store.replace_ciphertext(rec.credential_id, b"new", "test/v2", "test/v1", event())
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.encrypted_credential, got.key_ref) == (b"new", "test/v2")

    def test_events_newest_first_and_filtered(self, store: IntegrationStore) -> None:
        store.append_events([event("acmecorp", offset_s=1), event("globex", offset_s=2)])
        store.append_event(event("acmecorp", action=Action.VALIDATE, offset_s=3))
        assert [e.action for e in store.events("acmecorp")] == [Action.VALIDATE, Action.SETUP]
        assert len(store.events()) == 3

    def test_api_keys(self, store: IntegrationStore) -> None:
        key = OrgApiKey(
            org_slug="acmecorp", key_id="key_1", key_prefix="acmecorp_api_", key_hash="h" * 64, created_at=T0
        )
        store.add_api_key(key)
        store.add_api_key(key.model_copy(update={"key_id": "key_2"}))
        assert store.find_api_key("key_1") == key and store.find_api_key("nope") is None
        assert store.revoke_api_keys("acmecorp", T0) == 2
        assert store.revoke_api_keys("acmecorp", T0) == 0
        assert all(k.revoked_at == T0 for k in store.api_keys("acmecorp"))

    def test_key_versions_are_recorded_once_and_retired(self, store: IntegrationStore) -> None:
        assert store.key_versions() == {}
        store.record_key_version("local/v1", "c1" * 8, T0)
        store.record_key_version("local/v1", "other", T0 + timedelta(hours=1))  # a known version is left as is
        store.record_key_version("local/v2", "c2" * 8, T0 + timedelta(hours=2))
        versions = store.key_versions()
        assert set(versions) == {"local/v1", "local/v2"}
        assert versions["local/v1"].key_check == "c1" * 8 and versions["local/v1"].created_at == T0
        assert versions["local/v1"].retired_at is None
        store.retire_key_version("local/v1", T0 + timedelta(days=1))
        store.retire_key_version("local/v1", T0 + timedelta(days=2))  # the first retirement stands
        assert store.key_versions()["local/v1"].retired_at == T0 + timedelta(days=1)
        assert store.key_versions()["local/v2"].retired_at is None

    def test_record_validations_reports_the_rows_it_matched(self, store: IntegrationStore) -> None:
        first, second = record(), record(at=T0 + timedelta(hours=1))
        store.activate(first, event(credential_id=first.credential_id))
        store.activate(second, event(credential_id=second.credential_id, offset_s=1))  # first is now inactive
        updates = [
            ValidationUpdate(r.credential_id, Status.INVALID, "INVALID_CREDENTIAL", "no", T0, "t", event(offset_s=2))
            for r in (first, second)
        ]
        assert store.record_validations(updates) == {second.credential_id}


class TestBigQueryStore(StoreContract):
    """The BigQuery adapter's own SQL and parameters, executed on DuckDB through sqlglot."""

    def make(self, tmp_path: Path) -> IntegrationStore:
        return BigQueryStore(DuckBigQuery(), PROJECT)

    def test_init_adds_the_kind_column_to_an_older_table(self) -> None:
        client = DuckBigQuery()
        store = BigQueryStore(client, PROJECT)
        store.init()
        client.query(f"ALTER TABLE `{PROJECT}.organizations.org_integrations` DROP COLUMN credential_kind")
        store.init()
        rec = record(credential_kind=CredentialKind.ADMIN)
        store.activate(rec, event())
        assert store.get_active("acmecorp", Provider.OPENAI).credential_kind == CredentialKind.ADMIN


class TestSqliteStore(StoreContract):
    def make(self, tmp_path: Path) -> IntegrationStore:
        return SqliteStore(tmp_path / "warehouse.sqlite")

    def test_init_adds_the_kind_column_to_an_older_file(self, tmp_path: Path) -> None:
        import sqlite3

        from integrations.store.sqlite import SCHEMA

        with sqlite3.connect(tmp_path / "old.sqlite") as conn:  # the schema as it was before kinds
            conn.executescript(SCHEMA.replace(", credential_kind TEXT", ""))
        (tmp_path / "old.sqlite").chmod(0o600)  # as the store's files are (it refuses shared ones)
        store = SqliteStore(tmp_path / "old.sqlite")
        store.init()
        store.init()
        rec = record(credential_kind=CredentialKind.SERVICE_ACCOUNT)
        store.activate(rec, event())
        assert store.get_active("acmecorp", Provider.OPENAI).credential_kind == CredentialKind.SERVICE_ACCOUNT


class TestInMemoryStore(StoreContract):
    def make(self, tmp_path: Path) -> IntegrationStore:
        return InMemoryStore()
