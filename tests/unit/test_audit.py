"""Every audit function, including the integrity checks on deliberately broken data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations import IntegrationService, Provider, Status, audit

from tests.conftest import ORG
from tests.keys import ANTHROPIC_OK, OPENAI_OK, anthropic_key, openai_key


def populated(svc: IntegrationService) -> IntegrationService:
    svc.register_org("globex")
    svc.register_org("empty-org")
    svc.setup(ORG, "openai", OPENAI_OK, actor="alice")
    svc.setup(ORG, "anthropic", ANTHROPIC_OK, skip_validation=True, actor="bob")
    svc.setup("globex", "openai", openai_key("revoked"), skip_validation=True, actor="alice")
    svc.validate("globex", "openai", actor="alice")
    return svc


def test_inventory_and_orgs_without(svc: IntegrationService) -> None:
    populated(svc)
    table = audit.inventory(svc).set_index("provider")
    assert table.loc["OPENAI", "VALID"] == 1 and table.loc["OPENAI", "INVALID"] == 1
    assert table.loc["ANTHROPIC", "PENDING"] == 1 and table.loc["GCP", "NOT_CONFIGURED"] == 3
    assert list(audit.orgs_without_integrations(svc).org_slug) == ["empty-org"]


def test_health_and_stale_pending(svc: IntegrationService) -> None:
    populated(svc)
    bad = audit.unhealthy(svc)
    assert sorted(zip(bad.org_slug, bad.validation_status, strict=True)) == [
        ("acmecorp", "PENDING"),
        ("globex", "INVALID"),
    ]
    assert bad.set_index("org_slug").loc["globex", "validation_error_code"] == "INVALID_CREDENTIAL"
    assert audit.stale_pending(svc, days=7).empty
    later = datetime.now(UTC) + timedelta(days=8)
    assert list(audit.stale_pending(svc, days=7, now=later).org_slug) == ["acmecorp"]


def test_who_must_act_lists_problems_by_class(svc: IntegrationService) -> None:
    populated(svc)
    table = audit.who_must_act(svc)
    rows = list(zip(table.problem_class, table.org_slug, table.error_code, strict=True))
    assert rows[0] == ("tenant_action", "globex", "INVALID_CREDENTIAL")  # the revoked key: the tenant must act
    assert set(table.problem_class) <= {"tenant_action", "operator_action", "transient", "dark"}


def test_freshness(svc: IntegrationService) -> None:
    populated(svc)
    assert list(audit.not_validated_since(svc, days=30).provider) == ["ANTHROPIC"]  # never validated
    later = datetime.now(UTC) + timedelta(days=31)
    assert len(audit.not_validated_since(svc, days=30, now=later)) == 3
    assert (audit.validation_age(svc).age_days.dropna() < 1).all()


def test_integrity_on_broken_data(svc: IntegrationService) -> None:
    populated(svc)
    store = svc.store
    acme = store.get_active(ORG, Provider.OPENAI)
    globex = store.get_active("globex", Provider.OPENAI)
    store.rows[globex.credential_id] = globex.model_copy(update={"encrypted_credential": acme.encrypted_credential})
    twin = acme.model_copy(update={"credential_id": "cred_twin"})
    store.rows["cred_twin"] = twin
    anth = store.get_active(ORG, Provider.ANTHROPIC)
    store.rows[anth.credential_id] = anth.model_copy(update={"encrypted_credential": None})
    assert audit.duplicate_active(svc).to_dict("records") == [{"org_slug": ORG, "provider": "OPENAI", "active_rows": 2}]
    assert list(audit.active_without_ciphertext(svc).credential_id) == [anth.credential_id]
    broken = audit.undecryptable(svc)
    assert set(broken.credential_id) == {globex.credential_id, "cred_twin"}
    assert set(broken.error_code) == {"DECRYPTION_FAILED"}


def test_drift(svc: IntegrationService) -> None:
    populated(svc)
    assert audit.drift(svc).empty
    svc.cache.set_status("globex", Provider.OPENAI, Status.VALID, None)
    rows = audit.drift(svc)
    assert rows[["org_slug", "provider", "status", "cached_status"]].values.tolist() == [
        ["globex", "OPENAI", "INVALID", "VALID"]
    ]


def test_reuse_is_found_by_fingerprint(svc: IntegrationService) -> None:
    populated(svc)
    svc.setup("globex", "anthropic", ANTHROPIC_OK)
    reused = audit.reused_credentials(svc)
    assert reused[["provider", "org_count"]].values.tolist() == [["ANTHROPIC", 2]]
    assert reused.orgs[0] == ["acmecorp", "globex"] and ANTHROPIC_OK not in reused.to_csv()


def test_key_versions(svc: IntegrationService) -> None:
    populated(svc)
    svc.cipher.rotate()
    svc.setup("empty-org", "anthropic", anthropic_key())
    versions = audit.key_versions(svc).set_index("key_ref")
    assert versions.loc["mem/v1", "ciphertexts"] == 3 and not versions.loc["mem/v1", "current"]
    assert versions.loc["mem/v2", "ciphertexts"] == 1 and versions.loc["mem/v2", "current"]


def test_activity_failures_and_actors(svc: IntegrationService) -> None:
    populated(svc)
    activity = audit.activity(svc)
    assert activity.groupby("action").events.sum().to_dict() == {"ORG_KEY": 3, "SETUP": 3, "VALIDATE": 1}
    assert audit.failures_by_code(svc).to_dict("records") == [
        {"error_code": "INVALID_CREDENTIAL", "action": "VALIDATE", "events": 1}
    ]
    who = audit.actors(svc)
    assert who.set_index(["actor", "action"]).events.to_dict() == {
        ("alice", "SETUP"): 2,
        ("alice", "VALIDATE"): 1,
        ("bob", "SETUP"): 1,
        ("system", "ORG_KEY"): 3,
    }
    future = datetime.now(UTC) + timedelta(days=1)
    assert audit.activity(svc, since=future).empty


def test_every_question_answers_an_empty_store_with_an_empty_frame() -> None:
    import inspect

    import pandas as pd

    from tests.conftest import fake_service

    empty = fake_service()
    members = inspect.getmembers(audit, inspect.isfunction)
    questions = [f for name, f in members if f.__module__ == audit.__name__ and name[0] != "_"]
    assert len(questions) >= 15
    for question in questions:
        answer = question(empty)
        assert isinstance(answer, pd.DataFrame) and answer.empty and len(answer.columns) > 0, question.__name__


def test_data_freshness_late_data_and_expiring_keys(svc: IntegrationService) -> None:
    """Issue 26: the notebook's freshness table by provider and status, the stale/stalled sources listed beside
    their (valid) credential, and keys expiring soon or whose expiry is unknown."""
    from integrations.domain import DataStatus

    from tests.keys import admin_key

    svc.register_org("globex")
    svc.register_org("initech")
    svc.setup(ORG, "openai", admin_key("openai", "age3h-exp6d"))
    svc.setup(ORG, "anthropic", admin_key("anthropic", "age30h"))
    svc.setup("globex", "anthropic", admin_key("anthropic", "age80h-noexp"))
    svc.setup_keyless("initech", "initech-nodata.billing.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9")
    svc.setup("globex", "openai", OPENAI_OK)  # an inference key: no cost data, not counted
    table = audit.data_freshness(svc).set_index("provider")
    assert list(table.columns) == [s.value for s in DataStatus]
    assert table.loc["OPENAI", "FRESH"] == 1 and table.loc["ANTHROPIC", "STALE"] == 1
    assert table.loc["ANTHROPIC", "STALLED"] == 1 and table.loc["GCP", "PENDING_FIRST_DATA"] == 1
    late = audit.late_data(svc)
    assert list(zip(late.org_slug, late.data_status, late.validation_status, strict=True)) == [
        ("globex", "STALLED", "VALID"),
        (ORG, "STALE", "VALID"),
    ]
    assert late.fix[1].startswith("DATA_STALE") and late.data_age_hours[1] > 24
    soon = audit.expiring_keys(svc)
    assert list(zip(soon.org_slug, soon.provider, soon.expiry.str[:7], strict=True)) == [
        (ORG, "OPENAI", "expires"),
        (ORG, "ANTHROPIC", "unknown"),
    ]
    assert 5 < soon.days_left[0] <= 6  # the keyless GCP integration "never expires": not listed
    later = audit.late_data(svc, now=datetime.now(UTC) + timedelta(days=5))  # not re-checked: it ages
    assert set(late.org_slug) <= set(later.org_slug) and "STALLED" in set(later.data_status)
