"""Property-based requests generated from the app's own OpenAPI schema: no 5xx, every error in the documented
shape, no secret echoed."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from integrations.api import create_app

from tests.conftest import fake_service
from tests.keys import CANARY

svc = fake_service(attempts_per_minute=0)
API_KEY = svc.register_org("acmecorp")
svc.setup("acmecorp", "openai", CANARY)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(svc))


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_fails_and_errors_keep_their_shape(case) -> None:
    headers = dict(case.headers or {})
    headers.setdefault("X-API-Key", API_KEY)
    if case.path_parameters and "org_slug" in case.path_parameters and case.path_parameters["org_slug"] == "":
        case.path_parameters["org_slug"] = "acmecorp"
    response = case.call(headers=headers)
    assert response.status_code < 500 or response.json()["error"]["retryable"], response.text
    assert CANARY not in response.text and CANARY[8:] not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["success"] is False and set(body["error"]) == {"code", "message", "retryable", "hint"}
    case.validate_response(
        response, checks=[schemathesis.checks.response_schema_conformance, schemathesis.checks.status_code_conformance]
    )
