"""The use cases on fakes: every rule of the flow."""

from __future__ import annotations

import pytest
from integrations import IntegrationError, IntegrationService, Provider, Status
from integrations.bootstrap import build_validators
from integrations.domain import Action, Outcome
from integrations.settings import Settings

from tests.conftest import ORG, fake_service
from tests.fakes import swap
from tests.keys import ANTHROPIC_OK, OPENAI_OK, anthropic_key, openai_key, service_account_json


def credential_events(svc: IntegrationService, org: str | None = ORG) -> list:
    """The history without the fixture's org registrations (ORG_KEY events)."""
    return [e for e in svc.store.events(org) if e.action != Action.ORG_KEY]


def cached(svc: IntegrationService, provider: Provider = Provider.OPENAI) -> Status:
    return svc.cache.get_org(ORG).status_of(provider).status


def test_setup_stores_ciphertext_and_syncs_status(svc: IntegrationService) -> None:
    result = svc.setup(
        ORG,
        "openai",
        OPENAI_OK,
        credential_name="OpenAI Production Key",
        metadata={"environment": "production"},
        actor="ops@example.com",
    )
    assert result.success and result.validation_status == Status.VALID
    assert result.credential_id.startswith("cred_")
    [row] = svc.store.list_credentials(ORG)
    assert OPENAI_OK.encode() not in row.encrypted_credential
    assert row.credential_hint == "sk-proj-...Yz99" and row.metadata == {"environment": "production"}
    assert row.created_by == "ops@example.com" and row.last_validated_at is not None
    assert cached(svc) == Status.VALID
    assert svc.cache.get_org(ORG).status_of(Provider.OPENAI).configured_at == row.created_at
    [event] = credential_events(svc)
    assert (event.action, event.outcome, event.actor, event.status_after) == (
        Action.SETUP,
        Outcome.SUCCESS,
        "ops@example.com",
        Status.VALID,
    )


def test_result_dumps_to_the_rest_shape(svc: IntegrationService) -> None:
    result = svc.setup(ORG, Provider.OPENAI, OPENAI_OK)
    assert set(result.model_dump(mode="json")) == {
        "success",
        "provider",
        "credential_id",
        "validation_status",
        "message",
        "credential_kind",
        "capabilities",
        "warnings",
        "warning_details",
    }


@pytest.mark.parametrize(
    ("marker", "code"), [("revoked", "INVALID_CREDENTIAL"), ("noperms", "INSUFFICIENT_PERMISSIONS")]
)
@pytest.mark.parametrize("provider", [Provider.OPENAI, Provider.ANTHROPIC])
def test_rejected_credential_is_not_stored(svc: IntegrationService, provider: Provider, marker: str, code: str) -> None:
    key = openai_key(marker) if provider == Provider.OPENAI else anthropic_key(marker)
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, provider, key)
    assert err.value.code == code and not err.value.retryable
    assert svc.store.list_credentials(ORG, active_only=False) == []
    assert cached(svc, provider) == Status.NOT_CONFIGURED
    [event] = credential_events(svc)
    assert (event.outcome, event.error_code, event.credential_id) == (Outcome.REJECTED, code, None)


@pytest.mark.parametrize(
    ("marker", "code"),
    [("unreachable", "NETWORK_ERROR"), ("outage", "PROVIDER_UNAVAILABLE"), ("ratelimited", "RATE_LIMITED")],
)
@pytest.mark.parametrize("provider", list(Provider))
def test_transient_failure_is_not_stored_and_retryable(
    svc: IntegrationService, provider: Provider, marker: str, code: str
) -> None:
    if provider == Provider.GCP:
        key = service_account_json(f"sa-{marker}@p.iam.gserviceaccount.com")
        code = "PROVIDER_UNAVAILABLE" if marker == "outage" else code
    else:
        key = openai_key(marker) if provider == Provider.OPENAI else anthropic_key(marker)
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, provider, key)
    assert err.value.code == code and err.value.retryable
    assert svc.store.list_credentials(ORG, active_only=False) == []
    assert svc.store.events(ORG)[0].outcome == Outcome.INCONCLUSIVE


def test_rate_limit_headroom_is_reported(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", openai_key("ratelimited"))
    assert err.value.details["rate_limit"]["retry-after"] == "2"
    assert "Retry after 2 s" in err.value.message
    svc.setup(ORG, "openai", OPENAI_OK)
    result = svc.validate(ORG, "openai")
    assert result.rate_limit["x-ratelimit-remaining-requests"] == "499"
    assert "499/500 requests left" in result.message  # the headroom is recorded with the event
    assert "499/500 requests left" in svc.store.events(ORG)[0].message


def test_skip_validation_stores_pending(svc: IntegrationService) -> None:
    result = svc.setup(ORG, "anthropic", anthropic_key("revoked"), skip_validation=True)
    assert result.validation_status == Status.PENDING
    one = svc.get_one(ORG, "ANTHROPIC")
    assert one.status == Status.PENDING and one.last_validated_at is None
    assert cached(svc, Provider.ANTHROPIC) == Status.PENDING


def test_skip_validation_still_checks_format(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", "not-a-key", skip_validation=True)
    assert err.value.code == "MALFORMED_CREDENTIAL"
    assert svc.store.list_credentials(ORG, active_only=False) == []


def test_rotation_keeps_one_active_and_erases_the_old(svc: IntegrationService) -> None:
    first = svc.setup(ORG, "openai", OPENAI_OK)
    second = svc.setup(ORG, "openai", openai_key(), actor="rotator")
    assert second.rotated_credential_id == first.credential_id and "rotated" in second.message
    rows = {r.credential_id: r for r in svc.store.list_credentials(ORG, active_only=False)}
    assert rows[first.credential_id].encrypted_credential is None and not rows[first.credential_id].is_active
    assert [r.credential_id for r in svc.store.list_credentials(ORG)] == [second.credential_id]
    assert svc.store.events(ORG)[0].status_before == Status.VALID


def test_rejected_rotation_keeps_the_current_credential(svc: IntegrationService) -> None:
    first = svc.setup(ORG, "openai", OPENAI_OK)
    with pytest.raises(IntegrationError):
        svc.setup(ORG, "openai", openai_key("revoked"))
    assert svc.get_one(ORG, "openai").credential_id == first.credential_id
    assert cached(svc) == Status.VALID


def test_validate_marks_a_revoked_key_invalid(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    result = svc.validate(ORG, "openai", actor="ops")
    assert not result.success and result.validation_status == Status.INVALID
    assert result.error.code == "INVALID_CREDENTIAL" and not result.error.retryable
    assert set(result.model_dump(mode="json")) == {
        "success",
        "provider",
        "validation_status",
        "message",
        "error",
        "capabilities",
        "warnings",
        "warning_details",
    }
    one = svc.get_one(ORG, "openai")
    assert one.status == Status.INVALID and one.error.code == "INVALID_CREDENTIAL" and one.last_validated_at
    assert cached(svc) == Status.INVALID


def test_transient_failure_never_flips_the_status(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK)
    validated = svc.get_one(ORG, "openai").last_validated_at
    swap(svc, validators=build_validators(Settings(_env_file=None, sandbox_outage="openai,gcp")))
    result = svc.validate(ORG, "openai")
    assert not result.success and result.validation_status == Status.VALID
    assert result.error.code == "NETWORK_ERROR" and result.error.retryable and "Inconclusive" in result.message
    one = svc.get_one(ORG, "openai")
    assert one.status == Status.VALID and one.last_validated_at == validated and one.error.code == "NETWORK_ERROR"
    assert svc.store.events(ORG)[0].outcome == Outcome.INCONCLUSIVE and cached(svc) == Status.VALID


def test_validate_recovers_a_pending_key(svc: IntegrationService) -> None:
    svc.setup(ORG, "anthropic", ANTHROPIC_OK, skip_validation=True)
    assert svc.validate(ORG, "anthropic").validation_status == Status.VALID
    assert cached(svc, Provider.ANTHROPIC) == Status.VALID


def test_validate_and_delete_need_a_configured_integration(svc: IntegrationService) -> None:
    for call in (svc.validate, svc.delete):
        with pytest.raises(IntegrationError) as err:
            call(ORG, "gcp")
        assert err.value.code == "NOT_CONFIGURED" and err.value.http_status == 404


def test_delete_erases_and_keeps_history(svc: IntegrationService) -> None:
    setup = svc.setup(ORG, "openai", OPENAI_OK)
    result = svc.delete(ORG, "openai", actor="ops")
    assert result.success
    assert result.model_dump(mode="json") == {
        "success": True,
        "message": result.message,
        "warnings": [],
        "warning_details": [],
    }
    [row] = svc.store.list_credentials(ORG, active_only=False)
    assert row.credential_id == setup.credential_id and row.encrypted_credential is None and row.deleted_at
    assert svc.get_one(ORG, "openai").model_dump(mode="json") == {"provider": "OPENAI", "status": "NOT_CONFIGURED"}
    assert cached(svc) == Status.NOT_CONFIGURED
    assert [e.action for e in credential_events(svc)] == [Action.DELETE, Action.SETUP]


def test_get_all_shape(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK, credential_name="Prod")
    data = svc.get_all(ORG).model_dump(mode="json")
    # the document's example: OpenAI VALID, the others NOT_CONFIGURED -> not all valid
    assert data["org_slug"] == ORG and data["all_valid"] is False and data["providers_configured"] == ["OPENAI"]
    assert set(data["integrations"]) == {"OPENAI", "ANTHROPIC", "GCP"}
    assert set(data["integrations"]["OPENAI"]) == {
        "provider",
        "status",
        "credential_name",
        "credential_hint",
        "data_status",
        "data_through",
        "last_success_at",
        "expiry",
        "expires_at",
        "last_used_at",
        "credential_kind",
        "last_validated_at",
        "created_at",
        "credential_id",
        "metadata",
    }
    assert data["integrations"]["GCP"] == {"provider": "GCP", "status": "NOT_CONFIGURED"}
    svc.setup(ORG, "gcp", service_account_json("exporter@proj-123.iam.gserviceaccount.com", "proj-123"))
    svc.setup(ORG, "anthropic", ANTHROPIC_OK, skip_validation=True)
    listing = svc.get_all(ORG)
    assert listing.providers_configured == [Provider.OPENAI, Provider.ANTHROPIC, Provider.GCP]  # the document's order
    assert listing.all_valid is False  # Anthropic is PENDING
    svc.validate(ORG, "anthropic")
    assert svc.get_all(ORG).all_valid is True  # every provider VALID


def test_ciphertext_copied_to_another_org_fails_to_decrypt(svc: IntegrationService) -> None:
    svc.register_org("globex")
    svc.setup(ORG, "openai", OPENAI_OK)
    svc.setup("globex", "openai", openai_key())
    acme = svc.store.get_active(ORG, Provider.OPENAI)
    globex_id = svc.store.get_active("globex", Provider.OPENAI).credential_id
    stolen = svc.store.rows[globex_id]
    svc.store.rows[globex_id] = stolen.model_copy(update={"encrypted_credential": acme.encrypted_credential})
    result = svc.validate("globex", "openai")
    assert result.error.code == "DECRYPTION_FAILED" and not result.success
    # an operator alarm (the store or the keyring is wrong), not a verdict on the tenant's key: status kept
    assert result.validation_status == Status.VALID
    assert svc.get_all("globex").integrations[Provider.OPENAI].status == Status.VALID
    assert svc.store.events("globex")[0].error_code == "DECRYPTION_FAILED"
    assert svc.validate(ORG, "openai").success  # the original row is untouched


def test_unknown_org_writes_nothing(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup("ghost-org", "openai", OPENAI_OK)
    assert err.value.code == "ORG_NOT_FOUND" and err.value.http_status == 404
    assert credential_events(svc, None) == [] and svc.store.list_credentials(active_only=False) == []


def test_attempts_per_org_are_limited() -> None:
    svc = fake_service(attempts_per_minute=3)
    svc.register_org(ORG)
    svc.register_org("globex")
    for _ in range(3):
        svc.setup(ORG, "openai", openai_key())
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", openai_key())
    assert err.value.code == "TOO_MANY_ATTEMPTS" and err.value.retryable and err.value.http_status == 429
    svc.setup("globex", "openai", openai_key())  # other orgs are not affected
    with pytest.raises(IntegrationError, match="TOO_MANY_ATTEMPTS"):  # the format check costs CPU: it counts too
        svc.setup(ORG, "openai", openai_key(), skip_validation=True)


def test_gcp_setup_reports_the_checklist(svc: IntegrationService) -> None:
    result = svc.setup(ORG, "gcp", service_account_json("exporter@proj-123.iam.gserviceaccount.com", "proj-123"))
    assert result.validation_status == Status.VALID
    assert [c.name for c in result.checks] == [
        "token",
        "bigquery.datasets.get",
        "bigquery.tables.get",
        "bigquery.jobs.create",
    ]
    assert svc.get_one(ORG, "gcp").credential_hint.startswith("exporter@proj-123.iam.gserviceaccount.com (key ")


def test_gcp_missing_permission_is_named(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "gcp", service_account_json("sa-noperms@proj-123.iam.gserviceaccount.com", "proj-123"))
    assert err.value.code == "INSUFFICIENT_PERMISSIONS" and "bigquery.jobs.create" in err.value.message
    failed = [c["name"] for c in err.value.details["checks"] if not c["passed"]]
    assert failed == ["bigquery.jobs.create"]


def test_gcp_revoked_key_is_invalid(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "gcp", service_account_json("sa-revoked@proj.iam.gserviceaccount.com"))
    assert err.value.code == "INVALID_CREDENTIAL" and "invalid_grant" in err.value.message


def test_ciphertext_copied_to_another_provider_fails_to_decrypt(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK)
    svc.setup(ORG, "anthropic", ANTHROPIC_OK)
    openai_row = svc.store.get_active(ORG, Provider.OPENAI)
    anthropic_row = svc.store.get_active(ORG, Provider.ANTHROPIC)
    svc.store.rows[anthropic_row.credential_id] = anthropic_row.model_copy(
        update={"encrypted_credential": openai_row.encrypted_credential}
    )
    result = svc.validate(ORG, "anthropic")
    assert result.error.code == "DECRYPTION_FAILED" and result.validation_status == Status.VALID  # an alarm
    listing = svc.get_all(ORG)  # reported, not crashed on
    assert listing.integrations[Provider.ANTHROPIC].status == Status.VALID
    assert listing.integrations[Provider.OPENAI].status == Status.VALID
