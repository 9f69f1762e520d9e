"""StoreContract: every IntegrationStore adapter and fake behaves alike, the port's optional methods (batch
writes, the overview frame, audit questions, key versions, ping) included."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from integrations import IntegrationService, audit
from integrations.bootstrap import build_validators
from integrations.domain import Action, CredentialKind, DataStatus, Event, Expiry, OrgApiKey, Outcome, Provider, Status
from integrations.errors import IntegrationError
from integrations.freshness import Freshness
from integrations.overview import ACTIVE_COLUMNS, records_frame, utc
from integrations.settings import Settings
from integrations.store.base import ROTATED, CiphertextSwap, IntegrationStore, ValidationUpdate
from integrations.store.bigquery import BigQueryStore
from integrations.store.sqlite import SqliteStore
from integrations.store.staging import RunProgress, StagedResult

from tests.builders import T0, event, record
from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.fakes import InMemoryCipher, InMemoryStatusCache, InMemoryStore
from tests.servers import refused_url


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

    def test_the_data_status_is_stored_with_the_record_and_kept_when_a_check_reads_none(
        self, store: IntegrationStore
    ) -> None:
        rec = record()
        store.activate(rec, event(credential_id=rec.credential_id))
        fresh = Freshness(
            data_status=DataStatus.STALE,
            data_through=date(2026, 12, 5),
            data_newest_at=T0 - timedelta(hours=26),
            last_success_at=T0,
        )
        ok = ValidationUpdate(rec.credential_id, Status.VALID, None, None, T0, "t", event(offset_s=1), freshness=fresh)
        assert store.record_validations([ok]) == {rec.credential_id}
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.data_status, got.data_through, got.data_newest_at, got.last_success_at) == (
            DataStatus.STALE,
            date(2026, 12, 5),
            T0 - timedelta(hours=26),
            T0,
        )
        assert got.validation_status == Status.VALID  # freshness never changes the credential's status
        limited = ValidationUpdate(rec.credential_id, Status.VALID, "RATE_LIMITED", "429", None, "t", event(offset_s=2))
        store.record_validations([limited])  # a check that read no cost data leaves the data status as it was
        again = store.get_active("acmecorp", Provider.OPENAI)
        assert (again.data_status, again.data_through, again.last_success_at) == (
            DataStatus.STALE,
            date(2026, 12, 5),
            T0,
        )

    def test_expiry_is_stored_and_a_never_expiring_key_clears_the_date(self, store: IntegrationStore) -> None:
        rec = record()
        store.activate(rec, event(credential_id=rec.credential_id))
        soon = Expiry(known=True, expires_at=T0 + timedelta(days=6), last_used_at=T0 - timedelta(minutes=1))
        store.record_validations(
            [ValidationUpdate(rec.credential_id, Status.VALID, None, None, T0, "t", event(offset_s=1), expiry=soon)]
        )
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.expiry, got.expires_at, got.last_used_at) == (
            f"expires {(T0 + timedelta(days=6)):%Y-%m-%d}",
            T0 + timedelta(days=6),
            T0 - timedelta(minutes=1),
        )
        store.record_validations(  # a check that could not ask keeps what was read
            [ValidationUpdate(rec.credential_id, Status.VALID, None, None, T0, "t", event(offset_s=2))]
        )
        assert store.get_active("acmecorp", Provider.OPENAI).expires_at == T0 + timedelta(days=6)
        never = Expiry(known=True, never=True)
        store.record_validations(
            [ValidationUpdate(rec.credential_id, Status.VALID, None, None, T0, "t", event(offset_s=3), expiry=never)]
        )
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.expiry, got.expires_at, got.last_used_at) == ("never expires", None, None)

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
        assert store.record_validations(
            [
                ValidationUpdate(
                    rec.credential_id,
                    Status.INVALID,
                    "INVALID_CREDENTIAL",
                    "rejected",
                    later,
                    "ops",
                    event(action=Action.VALIDATE, offset_s=5),
                )
            ]
        ) == {rec.credential_id}
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.validation_status, got.validation_error_code, got.last_validated_at) == (
            Status.INVALID,
            "INVALID_CREDENTIAL",
            later,
        )
        store.record_validations(
            [
                ValidationUpdate(
                    rec.credential_id,
                    Status.INVALID,
                    "NETWORK_ERROR",
                    "down",
                    None,
                    "ops",
                    event(action=Action.VALIDATE, offset_s=6),
                )
            ]
        )
        assert store.get_active("acmecorp", Provider.OPENAI).last_validated_at == later

    def test_record_validation_on_inactive_row_is_refused(self, store: IntegrationStore) -> None:
        rec = record()
        store.activate(rec, event())
        store.activate(record(), event())
        update = ValidationUpdate(rec.credential_id, Status.VALID, None, None, T0, "ops", event())
        assert store.record_validations([update]) == set()

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
        swap = CiphertextSwap(rec.credential_id, b"new", "test/v2", "other/v9", event(credential_id=rec.credential_id))
        assert store.replace_ciphertexts([swap]) == set()
        assert store.replace_ciphertexts([swap._replace(expected_key_ref="test/v1")]) == {rec.credential_id}
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.encrypted_credential, got.key_ref) == (b"new", "test/v2")

    def test_events_newest_first_and_filtered(self, store: IntegrationStore) -> None:
        store.append_events([event("acmecorp", offset_s=1), event("globex", offset_s=2)])
        store.append_events([event("acmecorp", action=Action.VALIDATE, offset_s=3)])
        assert [e.action for e in store.events("acmecorp")] == [Action.VALIDATE, Action.SETUP]
        assert len(store.events()) == 3

    def test_an_event_keeps_its_run_id(self, store: IntegrationStore) -> None:
        """A run's checks name it (changes.run_changes reads a run by it); single actions name none."""
        store.append_events([event(offset_s=1).model_copy(update={"run_id": "bulk-0123456789abcdef"}), event()])
        assert [e.run_id for e in store.events()] == ["bulk-0123456789abcdef", None]

    def test_events_since_a_time_only(self, store: IntegrationStore) -> None:
        """`since` keeps what happened at or after it (the console reads only the recent days; BigQuery prunes)."""
        store.append_events([event("acmecorp", offset_s=s) for s in (0, 60, 120)] + [event("globex", offset_s=90)])
        since = T0 + timedelta(seconds=60)
        assert [e.at for e in store.events(since=since)] == [T0 + timedelta(seconds=s) for s in (120, 90, 60)]
        assert [e.at for e in store.events("acmecorp", since)] == [T0 + timedelta(seconds=s) for s in (120, 60)]
        in_paris = since.astimezone(timezone(timedelta(hours=1)))  # the same instant in another zone
        assert len(store.events(since=in_paris)) == 3
        assert store.events(since=T0 + timedelta(days=1)) == []

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

    def test_new_orgs_are_added_with_their_keys_credentials_and_events_in_time_order(
        self, store: IntegrationStore
    ) -> None:
        """add_new_orgs (a bulk load): what add_api_key, append_event and activate write one by one."""
        orgs = ("org-a", "org-b")
        keys = [
            OrgApiKey(org_slug=o, key_id=f"key_{o}", key_prefix=f"{o}_api_", key_hash="h" * 64, created_at=T0)
            for o in orgs
        ]
        issued = [event(o, Action.ORG_KEY, offset_s=10 * i) for i, o in enumerate(orgs)]
        recs = [record("org-a"), record("org-a", Provider.GCP), record("org-b")]
        setups = []
        for offset, rec in zip((1, 2, 11), recs, strict=True):
            setup = event(rec.org_slug, offset_s=offset, credential_id=rec.credential_id)
            setups.append((rec, setup.model_copy(update={"status_before": None})))  # as setup leaves it
        store.add_new_orgs(keys, setups, issued)
        assert sorted(k.key_id for k in store.api_keys()) == ["key_org-a", "key_org-b"]
        assert store.list_credentials("org-a") == sorted(recs[:2], key=lambda r: r.provider.value)
        assert store.get_active("org-b", Provider.OPENAI) == recs[2]
        history = store.events("org-a")  # newest first
        assert [(e.action, e.credential_id) for e in history] == [
            (Action.SETUP, recs[1].credential_id),
            (Action.SETUP, recs[0].credential_id),
            (Action.ORG_KEY, None),
        ]
        assert {e.status_before for e in history if e.action == Action.SETUP} == {Status.NOT_CONFIGURED}

    def test_a_bulk_load_replaces_no_credential_and_fails_whole(self, store: IntegrationStore) -> None:
        """add_new_orgs is for orgs registered now: a batch naming an org and provider that already has an active
        credential fails, and nothing of it is written (no key, no credential, no event)."""
        present = record("org-b")
        store.activate(present, event("org-b", credential_id=present.credential_id))
        before = (store.list_credentials(active_only=False), store.events(), store.api_keys())
        keys = [
            OrgApiKey(org_slug=o, key_id=f"key_{o}", key_prefix=f"{o}_api_", key_hash="h" * 64, created_at=T0)
            for o in ("org-a", "org-b")
        ]
        issued = [event(o, Action.ORG_KEY, offset_s=10) for o in ("org-a", "org-b")]
        setups = [
            (rec, event(rec.org_slug, offset_s=11, credential_id=rec.credential_id))
            for rec in (record("org-a"), record("org-b"))
        ]
        with pytest.raises(IntegrationError) as err:
            store.add_new_orgs(keys, setups, issued)
        assert err.value.code == "STORAGE_FAILED"
        assert (store.list_credentials(active_only=False), store.events(), store.api_keys()) == before
        assert store.get_active("org-b", Provider.OPENAI) == present

    def test_the_data_version_changes_with_every_write_and_only_then(self, store: IntegrationStore) -> None:
        """The console keeps what it read while this marker stays the same; a store without one (None) is read again
        after a while instead."""
        first = store.data_version()
        if first is None:
            pytest.skip(f"the {store.name} store keeps no cheap data version: the console re-reads it every 15 s")
        assert store.data_version() == first  # no write, no change
        seen = [first]

        def changed() -> None:
            now = store.data_version()
            assert now not in seen
            seen.append(now)

        rec = record()
        store.activate(rec, event(credential_id=rec.credential_id))
        changed()
        update = ValidationUpdate(rec.credential_id, Status.INVALID, "INVALID_KEY", "401", T0, "t", event(offset_s=1))
        store.record_validations([update])
        changed()
        store.append_events([event(action=Action.VALIDATE, offset_s=2)])
        changed()
        key = OrgApiKey(org_slug="newco", key_id="key_1", key_prefix="newco_api_", key_hash="h" * 64, created_at=T0)
        store.add_api_key(key)
        changed()
        store.revoke_api_keys("newco", T0)
        changed()
        store.deactivate("acmecorp", Provider.OPENAI, T0 + timedelta(minutes=1), "t", event(action=Action.DELETE))
        changed()
        assert store.data_version() == seen[-1]

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

    def test_record_validations_writes_every_field_and_every_event(self, store: IntegrationStore) -> None:
        live, other = record(), record("globex")
        store.activate(live, event(credential_id=live.credential_id))
        store.activate(other, event("globex", credential_id=other.credential_id))
        later = T0 + timedelta(days=2)
        rejected = (Status.INVALID, "INVALID_CREDENTIAL", "no", later, "bot", _validate(2))
        updates = [
            ValidationUpdate(live.credential_id, Status.PENDING, "NETWORK_ERROR", "down", None, "ops", _validate(1)),
            ValidationUpdate(other.credential_id, *rejected),
            ValidationUpdate("cred_unknown", Status.VALID, None, None, later, "ops", _validate(3)),
            ValidationUpdate(live.credential_id, Status.VALID, None, None, later, "ops", _validate(4)),  # last wins
        ]
        assert store.record_validations(updates) == {live.credential_id, other.credential_id}
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.validation_status, got.validation_error_code, got.last_validated_at) == (Status.VALID, None, later)
        assert (got.updated_by, got.updated_at) == ("ops", _validate(4).at)
        got = store.get_active("globex", Provider.OPENAI)
        assert (got.validation_status, got.validation_error_code, got.validation_error_message) == (
            Status.INVALID,
            "INVALID_CREDENTIAL",
            "no",
        )
        assert (got.last_validated_at, got.updated_by) == (later, "bot")
        validations = [e for e in store.events() if e.action == Action.VALIDATE]
        assert sorted(e.event_id for e in validations) == sorted(u.event.event_id for u in updates)

    def test_an_empty_batch_writes_nothing(self, store: IntegrationStore) -> None:
        assert store.record_validations([]) == set()
        store.append_events([])
        assert store.events() == [] and store.list_credentials(active_only=False) == []

    def test_a_batch_of_events_reads_back_field_for_field(self, store: IntegrationStore) -> None:
        batch = [
            event("acmecorp", offset_s=1).model_copy(update={"message": "one", "duration_ms": 7}),
            _validate(2).model_copy(
                update={"outcome": Outcome.INCONCLUSIVE, "error_code": "NETWORK_ERROR", "status_after": None}
            ),
            event("globex", action=Action.DELETE, offset_s=3).model_copy(update={"provider": None}),
        ]
        store.append_events(batch)
        assert store.events() == list(reversed(batch))
        assert store.events("globex") == [batch[2]]

    def test_active_frame_equals_the_records_it_is_read_from(self, store: IntegrationStore) -> None:
        _history(store)
        frame = store.active_frame()
        assert list(frame.columns) == ACTIVE_COLUMNS
        assert_same_frame(frame, records_frame(store.list_credentials()))
        by = frame.set_index(["org_slug", "provider"])
        assert len(by) == 5 and ("initech", "GCP") not in by.index  # deactivated rows are not in it
        assert by.loc[("globex", "OPENAI")].error_code == "INVALID_CREDENTIAL"

    def test_active_frame_of_an_empty_store(self, store: IntegrationStore) -> None:
        frame = store.active_frame()
        assert list(frame.columns) == ACTIVE_COLUMNS and frame.empty

    def test_audit_answers_equal_the_reference_on_the_same_history(self, store: IntegrationStore) -> None:
        """Whether the store answers in place (`audit()` rows) or leaves it to pandas (None), every question gets
        the answer the in-memory reference gives on the same history."""
        got, want = _answers(_audited(_history(store))), _answers(_audited(_history(InMemoryStore())))
        assert got == want
        assert want["reused_credentials"][1] and want["failures_by_code"][1] and want["stale_pending"][1]
        assert len(want["key_versions"][1]) == 2 and len(want["not_validated_since"][1]) == 5
        assert ("acmecorp", "ANTHROPIC", "PENDING", "None", "None") in want["validation_age"][1]
        for name, params in AUDIT_PARAMS.items():
            rows = store.audit(name, params)
            assert rows is None or all(isinstance(r, dict) for r in rows)

    def test_a_run_with_staged_results_is_in_progress_until_it_is_finalized(self, store: IntegrationStore) -> None:
        rec = record()
        store.activate(rec, event(credential_id=rec.credential_id))
        since = T0 + timedelta(minutes=1)
        store.stage_results([_staged("old-run", rec.credential_id, T0)])  # before the window: not read
        assert store.runs_in_progress(since) == []
        first, last = since + timedelta(seconds=5), since + timedelta(seconds=9)
        store.stage_results([_staged("nightly-1", rec.credential_id, first), _staged("nightly-1", "gone", last)])
        store.stage_results([_staged("nightly-1", "gone", last)])  # a retried task's batch counts once
        assert store.runs_in_progress(since) == [RunProgress("nightly-1", 2, 0, None, first, last)]
        store.task_done("nightly-1", 0, 2, last + timedelta(seconds=1))
        assert store.runs_in_progress(since) == [RunProgress("nightly-1", 2, 1, 2, first, last)]
        store.apply_run("nightly-1", since)
        assert store.runs_in_progress(since) == [], "a finalized run is not in progress"

    def test_ping_reads_and_writes_nothing(self, store: IntegrationStore) -> None:
        store.ping()
        assert store.list_credentials(active_only=False) == [] and store.events() == []
        assert store.key_versions() == {} and store.api_keys() == []


def _staged(run_id: str, credential_id: str, at: datetime) -> StagedResult:
    return StagedResult(
        run_id=run_id,
        task_index=0,
        credential_id=credential_id,
        org_slug="acmecorp",
        provider="OPENAI",
        status_before="VALID",
        status_after="INVALID",
        outcome="REJECTED",
        error_code="INVALID_CREDENTIAL",
        message="rejected",
        validated_at=None,
        checked_at=at,
        event_id=f"{run_id}-{credential_id}",
        actor="system",
        duration_ms=5,
        alarm=False,
    )


def _validate(offset_s: int) -> Event:
    return event(action=Action.VALIDATE, offset_s=offset_s)


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Frames equal as the overview reads them: datetimes as UTC timestamps, has_ciphertext as a bool."""

    def norm(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(
            last_validated_at=utc(frame.last_validated_at),
            configured_at=utc(frame.configured_at),
            has_ciphertext=frame.has_ciphertext.astype("boolean").fillna(False).astype(bool),
        )
        return frame.sort_values(["org_slug", "provider"]).reset_index(drop=True).astype({"has_ciphertext": bool})

    pd.testing.assert_frame_equal(norm(got), norm(want), check_dtype=False)


def _history(store: IntegrationStore) -> IntegrationStore:
    """One deterministic history written through the port: valid, pending, rejected, rotated, deleted, a key
    reused across orgs, two key versions, and a failed and an inconclusive attempt."""
    store.init()
    day = timedelta(days=1)

    def put(org: str, provider: Provider, at: datetime, **fields: Any) -> str:
        rec = record(org, provider, at=at).model_copy(update=fields)
        setup = event(org, at=at, credential_id=rec.credential_id).model_copy(update={"provider": provider})
        store.activate(rec, setup)
        return rec.credential_id

    put("acmecorp", Provider.OPENAI, T0, credential_fingerprint="a" * 64, key_ref="mem/v1")
    never = {"last_validated_at": None, "validation_status": Status.PENDING}
    put("acmecorp", Provider.ANTHROPIC, T0 - 10 * day, credential_fingerprint="b" * 64, key_ref="mem/v1", **never)
    pending = store.get_active("acmecorp", Provider.ANTHROPIC)
    store.record_validations(
        [ValidationUpdate(pending.credential_id, Status.PENDING, None, None, None, "bob", _validate(1))]
    )
    put("globex", Provider.ANTHROPIC, T0 - 2 * day, credential_fingerprint="b" * 64, key_ref="mem/v1")
    put("globex", Provider.OPENAI, T0 - 40 * day, credential_fingerprint="c" * 64, key_ref="mem/v1")
    rejected = put("globex", Provider.OPENAI, T0 - 35 * day, credential_fingerprint="d" * 64, key_ref="mem/v1")
    update = ValidationUpdate(rejected, Status.INVALID, "INVALID_CREDENTIAL", "revoked", T0, "carol", _validate(2))
    store.record_validations([update])
    put("initech", Provider.OPENAI, T0 + day, credential_fingerprint="e" * 64, key_ref="mem/v2")
    put("initech", Provider.GCP, T0 + day, credential_fingerprint="g" * 64, key_ref="mem/v2")
    store.deactivate("initech", Provider.GCP, T0 + 2 * day, "bob", event("initech", Action.DELETE, T0 + 2 * day))
    failed = [
        event("initech", offset_s=3).model_copy(update={"outcome": out, "error_code": code, "actor": "bob"})
        for out, code in ((Outcome.INCONCLUSIVE, "NETWORK_ERROR"), (Outcome.REJECTED, "INVALID_CREDENTIAL"))
    ]
    store.append_events(failed)
    return store


def _audited(store: IntegrationStore) -> IntegrationService:
    cache = InMemoryStatusCache()
    for slug in ("acmecorp", "globex", "initech", "empty-org"):
        cache.create_org(slug, slug.title())
    cipher = InMemoryCipher()
    cipher.rotate()  # mem/v2 is current
    validators = build_validators(Settings(_env_file=None))
    return IntegrationService(store, cipher, cache, validators, attempts_per_minute=0)


LATER = T0 + timedelta(days=40)
AUDIT_PARAMS: dict[str, dict[str, Any]] = {
    "configured": {},
    "unhealthy": {"valid": "VALID"},
    "duplicate_active": {},
    "active_without_ciphertext": {},
    "reused_credentials": {},
    "key_versions": {},
    "activity": {"since": None, "until": None},
}
QUESTIONS = {
    "inventory": audit.inventory,
    "unhealthy": audit.unhealthy,
    "stale_pending": lambda svc: audit.stale_pending(svc, 7, LATER),
    "validation_age": lambda svc: audit.validation_age(svc, LATER),
    "not_validated_since": lambda svc: audit.not_validated_since(svc, 30, LATER),
    "duplicate_active": audit.duplicate_active,
    "active_without_ciphertext": audit.active_without_ciphertext,
    "reused_credentials": audit.reused_credentials,
    "key_versions": audit.key_versions,
    "activity": audit.activity,
    "activity_since": lambda svc: audit.activity(svc, since=T0 + timedelta(hours=12)),
    "failures_by_code": audit.failures_by_code,
    "actors": audit.actors,
    "actors_until": lambda svc: audit.actors(svc, until=T0 - timedelta(days=3)),
}


def _answers(svc: IntegrationService) -> dict[str, tuple[list[str], list[tuple[str, ...]]]]:
    """Each question's columns and rows (order-free, values as text, times in UTC, ages to the millisecond)."""
    frames = {name: ask(svc) for name, ask in QUESTIONS.items()}
    return {name: (list(f.columns), sorted(map(_texts, f.itertuples(index=False)))) for name, f in frames.items()}


def _texts(row: tuple[Any, ...]) -> tuple[str, ...]:
    def text(value: Any) -> str:
        if isinstance(value, list | tuple):
            return str([text(v) for v in value])
        if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
            return "None"
        if isinstance(value, datetime):
            return pd.Timestamp(value).tz_convert("UTC").isoformat()
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value.item() if hasattr(value, "item") else value)

    return tuple(text(v) for v in row)


class UnreachableStoreContract:
    """Real backends can be out of reach; the port says how that shows: STORAGE_FAILED, from ping first."""

    def unreachable(self, tmp_path: Path) -> IntegrationStore:
        raise NotImplementedError

    def test_ping_on_an_unreachable_store_is_storage_failed(self, tmp_path: Path) -> None:
        store = self.unreachable(tmp_path)
        for call in (store.ping, store.list_credentials, store.key_versions):
            with pytest.raises(IntegrationError) as err:
                call()
            assert err.value.code == "STORAGE_FAILED"


class TestBigQueryStore(StoreContract, UnreachableStoreContract):
    """The BigQuery adapter's own SQL and parameters, executed on DuckDB through sqlglot."""

    def make(self, tmp_path: Path) -> IntegrationStore:
        return BigQueryStore(DuckBigQuery(), PROJECT)

    def unreachable(self, tmp_path: Path) -> IntegrationStore:
        """The real client, pointed at a loopback port where nothing listens."""
        client = bigquery.Client(
            PROJECT, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=refused_url())
        )
        return BigQueryStore(client, PROJECT, timeout=1)

    def test_init_adds_the_kind_column_to_an_older_table(self) -> None:
        client = DuckBigQuery()
        store = BigQueryStore(client, PROJECT)
        store.init()
        client.query(f"ALTER TABLE `{PROJECT}.organizations.org_integrations` DROP COLUMN credential_kind")
        store.init()
        rec = record(credential_kind=CredentialKind.ADMIN)
        store.activate(rec, event())
        assert store.get_active("acmecorp", Provider.OPENAI).credential_kind == CredentialKind.ADMIN

    def test_init_adds_the_data_status_columns_to_an_older_table(self) -> None:
        client = DuckBigQuery()
        store = BigQueryStore(client, PROJECT)
        store.init()
        for column in (
            "data_status",
            "data_through",
            "data_newest_at",
            "last_success_at",
            "expiry",
            "expires_at",
            "last_used_at",
        ):
            client.query(f"ALTER TABLE `{PROJECT}.organizations.org_integrations` DROP COLUMN {column}")
        [finding] = [f for f in store.inspect() if f.name == "table org_integrations"]
        assert not finding.ok and "data_through" in finding.detail and "integrations init" in finding.fix
        store.init()
        rec = record().model_copy(update={"data_status": DataStatus.FRESH, "data_through": date(2026, 12, 6)})
        store.activate(rec, event())
        got = store.get_active("acmecorp", Provider.OPENAI)
        assert (got.data_status, got.data_through) == (DataStatus.FRESH, date(2026, 12, 6))

    def test_init_adds_the_run_id_column_to_an_older_events_table(self) -> None:
        client = DuckBigQuery()
        store = BigQueryStore(client, PROJECT)
        store.init()
        client.query(f"ALTER TABLE `{PROJECT}.organizations.org_integration_events` DROP COLUMN run_id")
        [finding] = [f for f in store.inspect() if f.name == "table org_integration_events"]
        assert not finding.ok and "run_id" in finding.detail and "integrations init" in finding.fix
        store.init()
        store.append_events([event().model_copy(update={"run_id": "run-1"})])
        assert [e.run_id for e in store.events()] == ["run-1"]


class TestSqliteStore(StoreContract, UnreachableStoreContract):
    def make(self, tmp_path: Path) -> IntegrationStore:
        return SqliteStore(tmp_path / "warehouse.sqlite")

    def unreachable(self, tmp_path: Path) -> IntegrationStore:
        (tmp_path / "a-directory").mkdir(mode=0o700)  # where the file should be: SQLite cannot open it
        return SqliteStore(tmp_path / "a-directory")

    def test_init_adds_the_kind_and_run_id_columns_to_an_older_file(self, tmp_path: Path) -> None:
        import sqlite3

        from integrations.store.sqlite import SCHEMA

        with sqlite3.connect(tmp_path / "old.sqlite") as conn:  # the schema as it was before kinds
            old = SCHEMA.replace(
                ", data_status TEXT, data_through TEXT,\n  data_newest_at TEXT, last_success_at TEXT", ""
            )
            assert "data_status" not in old
            conn.executescript(old.replace(", credential_kind TEXT", "").replace(", run_id TEXT", ""))
        (tmp_path / "old.sqlite").chmod(0o600)  # as the store's files are (it refuses shared ones)
        store = SqliteStore(tmp_path / "old.sqlite")
        store.init()
        store.init()
        rec = record(credential_kind=CredentialKind.SERVICE_ACCOUNT)
        store.activate(rec, event().model_copy(update={"run_id": "run-1"}))
        assert store.get_active("acmecorp", Provider.OPENAI).credential_kind == CredentialKind.SERVICE_ACCOUNT
        assert [e.run_id for e in store.events()] == ["run-1"]
        stale = Freshness(data_status=DataStatus.STALE, data_through=date(2026, 12, 5), last_success_at=T0)
        store.record_validations(
            [ValidationUpdate(rec.credential_id, Status.VALID, None, None, T0, "t", event(offset_s=1), freshness=stale)]
        )
        assert store.get_active("acmecorp", Provider.OPENAI).data_through == date(2026, 12, 5)


class TestInMemoryStore(StoreContract):
    def make(self, tmp_path: Path) -> IntegrationStore:
        return InMemoryStore()
