"""Issue 27: `warnings` are objects at the source (catalog code, message, fix); the seed's `warnings` strings are
derived from them and stay as they were (additive), so a frontend reads a code instead of parsing text."""

from __future__ import annotations

from fastapi.testclient import TestClient
from integrations import IntegrationService, Provider, Status
from integrations.api import create_app
from integrations.errors import Code, entry
from integrations.results import WarningInfo

from tests.conftest import ORG
from tests.fakes import swap
from tests.faults import Faulty
from tests.keys import OPENAI_OK


def _consistent(result: object) -> list[WarningInfo]:
    details: list[WarningInfo] = result.warning_details  # type: ignore[attr-defined]
    assert result.warnings == [str(d) for d in details]  # type: ignore[attr-defined]
    dumped = result.model_dump(mode="json")  # type: ignore[attr-defined]
    assert dumped["warnings"] == result.warnings  # type: ignore[attr-defined]
    assert [d["code"] for d in dumped["warning_details"]] == [d.code.value for d in details]
    return details


def test_a_failed_status_sync_is_a_coded_warning_on_setup_validate_and_delete(svc: IntegrationService) -> None:
    swap(svc, cache=Faulty(svc.cache, "STATUS_SYNC_FAILED", {"set_many", "set_checked"}))
    for result in (svc.setup(ORG, "openai", OPENAI_OK), svc.validate(ORG, "openai"), svc.delete(ORG, "openai")):
        (detail,) = _consistent(result)
        assert detail.code == Code.STATUS_SYNC_FAILED
        assert detail.fix == entry(Code.STATUS_SYNC_FAILED).fixes[0] and "reconcile" in detail.message
        assert result.warnings[0].startswith("STATUS_SYNC_FAILED: the status cache was not updated")


def test_a_disagreeing_cache_is_drift_with_its_own_catalog_code(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK)
    assert svc.get_all(ORG).warning_details == []
    svc.cache.set_status(ORG, Provider.OPENAI, Status.INVALID, None)
    (detail,) = _consistent(svc.get_all(ORG))
    assert detail.code == Code.STATUS_CACHE_DRIFT and "OPENAI" in detail.message
    assert "reconcile" in detail.fix  # the catalog's fix, not a string to parse


def test_no_warnings_means_two_empty_lists(svc: IntegrationService) -> None:
    result = svc.setup(ORG, "openai", OPENAI_OK)
    assert result.model_dump(mode="json")["warnings"] == [] and result.model_dump(mode="json")["warning_details"] == []


def test_rest_answers_carry_the_objects_beside_the_strings(svc: IntegrationService) -> None:
    key = svc.register_org("globex")
    swap(svc, cache=Faulty(svc.cache, "STATUS_SYNC_FAILED", {"set_many", "set_checked"}))
    client = TestClient(create_app(svc))
    body = client.post(
        "/api/v1/integrations/globex/openai/setup", headers={"X-API-Key": key}, json={"credential": OPENAI_OK}
    ).json()
    [detail] = body["warning_details"]
    assert set(detail) == {"code", "message", "fix"} and detail["code"] == "STATUS_SYNC_FAILED"
    assert body["warnings"] == [f"{detail['code']}: {detail['message']}"]
    assert OPENAI_OK not in str(body)


def test_the_openapi_schema_types_the_warning_objects() -> None:
    schema = create_app().openapi()
    warning = schema["components"]["schemas"]["WarningInfo"]
    assert set(warning["required"]) == {"code", "message", "fix"}
    assert "STATUS_CACHE_DRIFT" in schema["components"]["schemas"]["Code"]["enum"]
    for name in ("SetupResponse", "ValidateResponse", "DeleteResponse", "OrgIntegrationsResponse"):
        props = schema["components"]["schemas"][name]["properties"]
        assert props["warning_details"]["items"] == {"$ref": "#/components/schemas/WarningInfo"}
        assert "warning_details" in schema["components"]["schemas"][name]["required"]
