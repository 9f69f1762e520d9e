"""Issue 14 in the library: key kinds, capabilities, warnings, the provider's Retry-After, GCP outcomes in the
sandbox, and the sandbox playing each kind of key truthfully through the real SDKs."""

from __future__ import annotations

import anthropic
import openai
import pytest
from integrations import IntegrationError, IntegrationService, Provider, Status
from integrations.domain import CredentialKind
from integrations.providers.sandbox import SandboxRules, anthropic_handler, openai_handler, sdk_client_factory

from tests.conftest import ORG
from tests.fakes import swap
from tests.faults import Faulty
from tests.keys import ANTHROPIC_ADMIN, ANTHROPIC_OK, OPENAI_ADMIN, OPENAI_OK, openai_key, service_account_json

TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"


def gcp(marker: str) -> str:
    return service_account_json(f"{marker}@acme-prod.iam.gserviceaccount.com", "acme-prod")


@pytest.mark.parametrize(
    ("provider", "key", "kind"),
    [
        ("openai", OPENAI_OK, CredentialKind.PROJECT),
        ("openai", "sk-svcacct-Abc123def456ghi789jkl012mno345", CredentialKind.SERVICE_ACCOUNT),
        ("openai", "sk-Abc123def456ghi789jkl012mno345pqr", CredentialKind.USER),
        ("openai", OPENAI_ADMIN, CredentialKind.ADMIN),
        ("anthropic", ANTHROPIC_OK, CredentialKind.API),
        ("anthropic", ANTHROPIC_ADMIN, CredentialKind.ADMIN),
    ],
)
def test_the_kind_is_stored_with_the_record(svc: IntegrationService, provider: str, key: str, kind) -> None:
    result = svc.setup(ORG, provider, key, skip_validation=True)  # read from the format, not from a check
    assert result.credential_kind == kind
    assert svc.store.get_active(ORG, Provider.parse(provider)).credential_kind == kind
    assert svc.get_one(ORG, provider).credential_kind == kind


def test_rows_stored_before_kinds_show_the_kind_of_their_hint(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_ADMIN)
    row = svc.store.get_active(ORG, Provider.OPENAI)
    svc.store.rows[row.credential_id] = row.model_copy(update={"credential_kind": None})
    assert svc.get_one(ORG, "openai").credential_kind == CredentialKind.ADMIN


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_admin_keys_are_valid_cost_readers(svc: IntegrationService, provider: str) -> None:
    result = svc.setup(ORG, provider, OPENAI_ADMIN if provider == "openai" else ANTHROPIC_ADMIN)
    assert result.validation_status == Status.VALID
    assert [(c.name, c.status) for c in result.capabilities] == [
        ("inference", "not available"),
        ("cost data", "passed"),
    ]
    assert [c.name for c in result.checks] == ["authenticate", "cost report (7 days)"]
    assert svc.validate(ORG, provider).success


def test_a_valid_project_key_is_told_how_to_get_cost_data(svc: IntegrationService) -> None:
    result = svc.setup(ORG, "openai", OPENAI_OK)
    assert result.success and result.validation_status == Status.VALID
    cost = result.capabilities[1]
    assert cost.status == "not available" and "organization owner creates one" in cost.detail


def test_warnings_are_filled_when_the_status_cache_cannot_be_updated(svc: IntegrationService) -> None:
    swap(svc, cache=Faulty(svc.cache, "STATUS_SYNC_FAILED", {"set_many", "set_checked"}))
    setup = svc.setup(ORG, "openai", OPENAI_OK)
    validate = svc.validate(ORG, "openai")
    delete = svc.delete(ORG, "openai")
    for result in (setup, validate, delete):
        assert result.success and len(result.warnings) == 1 and "reconcile" in result.warnings[0]
        assert result.model_dump(mode="json")["warnings"] == result.warnings


def test_the_providers_retry_after_travels_with_the_error(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", openai_key("ratelimited"))
    assert err.value.details["retry_after"] == "2"


@pytest.mark.parametrize(
    ("marker", "metadata", "code", "cost"),
    [
        ("exporter", {}, None, "not available"),
        ("exporter", {"billing_export_table": TABLE}, None, "passed"),
        ("noperms", {}, "INSUFFICIENT_PERMISSIONS", None),
        ("crmdisabled", {}, None, "not available"),
        ("datasetonly", {}, "INSUFFICIENT_PERMISSIONS", None),
        ("datasetonly", {"billing_export_table": TABLE}, None, "passed"),
        ("notable", {"billing_export_table": TABLE}, "BILLING_EXPORT_NOT_FOUND", None),
    ],
)
def test_gcp_outcomes_in_the_sandbox(svc: IntegrationService, marker: str, metadata: dict, code, cost) -> None:
    if code:
        with pytest.raises(IntegrationError) as err:
            svc.setup(ORG, "gcp", gcp(marker), metadata=metadata)
        assert err.value.code == code and not err.value.retryable
        assert svc.store.list_credentials(ORG, active_only=False) == []
        return
    result = svc.setup(ORG, "gcp", gcp(marker), metadata=metadata)
    assert [c.status for c in result.capabilities] == [cost]
    if marker == "crmdisabled":
        assert "fell back" in result.checks[1].detail
    validated = svc.validate(ORG, "gcp")  # the stored metadata names the table again
    assert validated.success and [c.status for c in validated.capabilities] == [cost]


def test_the_billing_table_is_checked_again_on_validate(svc: IntegrationService) -> None:
    svc.setup(ORG, "gcp", gcp("notable"), metadata={"billing_export_table": TABLE}, skip_validation=True)
    result = svc.validate(ORG, "gcp")
    assert result.validation_status == Status.INVALID and result.error.code == "BILLING_EXPORT_NOT_FOUND"


def sdk(provider: str):
    rules = SandboxRules(set(), 0)
    if provider == "openai":
        http = sdk_client_factory(openai_handler(rules))()
        return openai.OpenAI(api_key="unused", base_url="https://api.openai.com/v1", http_client=http, max_retries=0)
    http = sdk_client_factory(anthropic_handler(rules))()
    return anthropic.Anthropic(api_key="unused", http_client=http, max_retries=0)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_sandbox_refuses_admin_keys_on_models_and_inference_keys_on_costs(provider: str) -> None:
    client = sdk(provider)
    admin, inference = (OPENAI_ADMIN, OPENAI_OK) if provider == "openai" else (ANTHROPIC_ADMIN, ANTHROPIC_OK)
    with pytest.raises((openai.AuthenticationError, anthropic.AuthenticationError)):
        client.with_options(api_key=admin).models.list()
    assert client.with_options(api_key=inference).models.list()
    if provider == "openai":
        costs = client.with_options(admin_api_key=inference).admin.organization.usage.costs
        with pytest.raises(openai.PermissionDeniedError, match="Missing scopes: api.usage.read"):
            costs(start_time=1_730_419_200, limit=1)
        with pytest.raises(openai.BadRequestError):  # OpenAI's documented limit: 1-180
            client.with_options(admin_api_key=admin).admin.organization.usage.costs(start_time=1_730_419_200, limit=500)
    else:
        with pytest.raises(anthropic.AuthenticationError):
            client.with_options(api_key=inference).get(
                "/v1/organizations/cost_report", cast_to=object, options={"params": {"starting_at": "x"}}
            )
        with pytest.raises(anthropic.BadRequestError):  # limit 1-31 for daily buckets
            client.with_options(api_key=admin).get(
                "/v1/organizations/cost_report",
                cast_to=object,
                options={"params": {"starting_at": "2026-11-26T00:00:00Z", "limit": 90}},
            )
