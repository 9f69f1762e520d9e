"""The real openai / anthropic SDKs against a local HTTP server: every outcome maps onto the catalog."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
from integrations.domain import DataStatus, Provider, Status
from integrations.freshness import judge
from integrations.providers.anthropic_keys import AnthropicValidator
from integrations.providers.openai_keys import OpenAIValidator
from pydantic import SecretStr

from tests.doubles.providers import (
    ANTHROPIC_COSTS,
    ANTHROPIC_MODELS,
    MISSING_SCOPE,
    OPENAI_COSTS,
    OPENAI_MODELS,
    anthropic_costs,
    anthropic_error,
    openai_costs,
    openai_error,
)
from tests.keys import ANTHROPIC_ADMIN, ANTHROPIC_OK, OPENAI_ADMIN, OPENAI_OK
from tests.servers import Reply, refused_url, serve

CASES = {
    "ok": (
        Reply(200, None, {"x-ratelimit-remaining-requests": "42", "anthropic-ratelimit-requests-remaining": "42"}),
        None,
        False,
    ),
    "401": (Reply(401), "INVALID_CREDENTIAL", False),
    "403": (Reply(403), "INSUFFICIENT_PERMISSIONS", False),
    "404": (Reply(404), "PROVIDER_UNAVAILABLE", True),
    "429": (Reply(429, None, {"retry-after": "7"}), "RATE_LIMITED", True),
    "500": (Reply(500, b"<html>bad gateway</html>"), "PROVIDER_UNAVAILABLE", True),
    "529": (Reply(529), "PROVIDER_UNAVAILABLE", True),
    "hang": (Reply(200, None, hang_s=1.0), "NETWORK_ERROR", True),
}


def _body(provider: str, case: str, key: str) -> object:
    masked = f"{key[:8]}****{key[-4:]}"
    if provider == "openai":
        return {
            "ok": OPENAI_MODELS,
            "hang": OPENAI_MODELS,
            "401": openai_error(
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_api_key",
            ),
        }.get(case, openai_error(f"error {case} for key ending {key[-4:]}"))
    kinds = {
        "401": "authentication_error",
        "403": "permission_error",
        "404": "not_found_error",
        "429": "rate_limit_error",
        "529": "overloaded_error",
    }
    if case in ("ok", "hang"):
        return ANTHROPIC_MODELS
    return anthropic_error(kinds.get(case, "api_error"), f"problem with {masked}")


def validator(provider: str, base_url: str):
    if provider == "openai":
        return OpenAIValidator(f"{base_url}/v1", timeout=0.5), OPENAI_OK
    return AnthropicValidator(base_url, timeout=0.5), ANTHROPIC_OK


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("case", list(CASES))
def test_outcome_maps_to_catalog(provider: str, case: str) -> None:
    reply, code, retryable = CASES[case]

    def route(_seen):
        body = reply.body if isinstance(reply.body, bytes) else _body(provider, case, key)
        return Reply(reply.status, body, reply.headers, reply.hang_s)

    with serve(route) as (base_url, seen):
        check, key = validator(provider, base_url)
        result = check.check(check.parse(SecretStr(key)))
    assert result.error_code == code and result.retryable == retryable
    assert seen[0].path == "/v1/models" and seen[0].headers["authorization"] == f"Bearer {key}"
    assert len(seen) == 1, "max_retries=0: one request only"
    assert key not in result.message and key[-4:] not in result.message and key[:8] not in result.message
    if code is None:
        assert result.status == Status.VALID and "42" in result.rate_limit.values()
    if case == "429":
        assert result.rate_limit["retry-after"] == "7" and "Retry after 7 s" in result.message


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_connection_refused_is_network_error(provider: str) -> None:
    check, key = validator(provider, refused_url())
    result = check.check(check.parse(SecretStr(key)))
    assert (result.error_code, result.retryable) == ("NETWORK_ERROR", True)


def test_anthropic_sends_its_version_header() -> None:
    with serve(lambda s: Reply(200, ANTHROPIC_MODELS)) as (base_url, seen):
        check, key = validator("anthropic", base_url)
        assert check.check(check.parse(SecretStr(key))).status == Status.VALID
    assert "anthropic-version" in seen[0].headers


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_one_client_serves_many_keys_at_once_each_request_carries_its_own(provider: str) -> None:
    """The validator keeps one SDK client and pool; concurrent checks must never mix their keys up."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.keys import anthropic_key, openai_key

    make = openai_key if provider == "openai" else anthropic_key
    keys = [make() for _ in range(24)]
    accepted = set(keys[::2])

    def route(seen):
        key = seen.headers.get("authorization", "").removeprefix("Bearer ")
        if key in accepted:
            return Reply(200, OPENAI_MODELS if provider == "openai" else ANTHROPIC_MODELS)
        return Reply(401, _body(provider, "401", key))

    with serve(route) as (base_url, seen):
        check = OpenAIValidator(f"{base_url}/v1", 10) if provider == "openai" else AnthropicValidator(base_url, 10)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda k: check.check(check.parse(SecretStr(k))), keys))
    assert [r.error_code is None for r in results] == [k in accepted for k in keys]
    assert sorted(s.headers["authorization"] for s in seen) == sorted(f"Bearer {k}" for k in keys)


def admin_validator(provider: str, base_url: str):
    if provider == "openai":
        return OpenAIValidator(f"{base_url}/v1", timeout=0.5), OPENAI_ADMIN
    return AnthropicValidator(base_url, timeout=0.5), ANTHROPIC_ADMIN


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_admin_key_is_checked_with_one_read_of_the_cost_report(provider: str) -> None:
    body = OPENAI_COSTS if provider == "openai" else ANTHROPIC_COSTS
    with serve(lambda s: Reply(200, body)) as (base_url, seen):
        check, key = admin_validator(provider, base_url)
        before = time.time()
        result = check.check(check.parse(SecretStr(key)))
    assert result.status == Status.VALID and result.error_code is None
    assert {c.name: c.status for c in result.capabilities} == {"inference": "not available", "cost data": "passed"}
    # one cheap read of the costs, nothing else: no models call, no retry (then the organization's key list, for
    # expiry: OpenAI's Admin keys, Anthropic's API keys as the Admin key sees them)
    [request] = [s for s in seen if "api_keys" not in s.path]
    assert [s.path.split("?")[0] for s in seen if "api_keys" in s.path] == (
        ["/v1/organization/admin_api_keys"] if provider == "openai" else ["/v1/organizations/api_keys"]
    )
    assert request.method == "GET" and request.headers["authorization"] == f"Bearer {key}"
    path, _, query = request.path.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    if provider == "openai":
        assert path == "/v1/organization/costs"
        assert params["limit"] == "8" and params["bucket_width"] == "1d"
        assert abs(int(params["start_time"]) - (before - 7 * 86_400)) < 60  # a week of daily buckets
        assert before - 60 < int(params["end_time"]) <= time.time()  # never an end_time in the future
    else:
        assert path == "/v1/organizations/cost_report" and "anthropic-version" in request.headers
        assert params["limit"] == "8" and params["bucket_width"] == "1d"
        since = datetime.fromisoformat(params["starting_at"].replace("Z", "+00:00")).timestamp()
        assert abs(since - (before - 7 * 86_400)) < 60
        until = datetime.fromisoformat(params["ending_at"].replace("Z", "+00:00")).timestamp()
        assert before - 60 < until <= time.time()  # never in the future
    assert "1 day bucket(s) read" in result.checks[-1].detail


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("status", "message", "code", "detail"),
    [
        (401, "Incorrect API key provided: sk-admin-****Ad01.", "INVALID_CREDENTIAL", None),
        (403, MISSING_SCOPE, "INSUFFICIENT_PERMISSIONS", "missing scope api.usage.read"),
        (401, MISSING_SCOPE, "INSUFFICIENT_PERMISSIONS", "missing scope api.usage.read"),  # 401 in some reports
        (403, "Admin APIs are unavailable to individual accounts.", "INSUFFICIENT_PERMISSIONS", "permission denied"),
    ],
)
def test_admin_key_failures_map_onto_the_catalog(
    provider: str, status: int, message: str, code: str, detail: str | None
) -> None:
    if provider == "openai":
        body = openai_error(message, "invalid_api_key" if code == "INVALID_CREDENTIAL" else None)
    else:
        body = anthropic_error("authentication_error" if status == 401 else "permission_error", message)
    with serve(lambda s: Reply(status, body)) as (base_url, seen):
        check, key = admin_validator(provider, base_url)
        result = check.check(check.parse(SecretStr(key)))
    assert (result.error_code, result.retryable, len(seen)) == (code, False, 1)
    if detail:
        assert result.checks[-1].detail == detail and "cost report" in result.message
    assert key[-4:] not in result.message and key not in result.message


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_admin_keys_429_keeps_the_providers_retry_after(provider: str) -> None:
    body = openai_error("Rate limit reached") if provider == "openai" else anthropic_error("rate_limit_error", "slow")
    with serve(lambda s: Reply(429, body, {"retry-after": "13"})) as (base_url, seen):
        check, key = admin_validator(provider, base_url)
        result = check.check(check.parse(SecretStr(key)))
    assert (result.error_code, result.retry_after, len(seen)) == ("RATE_LIMITED", "13", 1)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_valid_inference_key_lists_its_capabilities(provider: str) -> None:
    body = OPENAI_MODELS if provider == "openai" else ANTHROPIC_MODELS
    with serve(lambda s: Reply(200, body)) as (base_url, seen):
        check, key = validator(provider, base_url)
        result = check.check(check.parse(SecretStr(key)))
    assert seen[0].path == "/v1/models"
    inference, cost = result.capabilities
    assert (inference.status, cost.status) == ("passed", "not available") and "Admin key" in cost.detail


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("age", "want"),
    [(3, DataStatus.FRESH), (26, DataStatus.STALE), (80, DataStatus.STALLED), (None, DataStatus.PENDING_FIRST_DATA)],
)
def test_the_cost_probe_reads_the_newest_non_empty_bucket(provider: str, age: float | None, want) -> None:
    """Issue 26 on the wire doubles: an Anthropic (and OpenAI) cost bucket 26 h old is STALE, 3 h old FRESH, through
    the real SDK; the credential is VALID either way."""
    body = openai_costs(age) if provider == "openai" else anthropic_costs(age)
    with serve(lambda s: Reply(200, body)) as (base_url, seen):
        check, key = admin_validator(provider, base_url)
        result = check.check(check.parse(SecretStr(key)))
    costs = [s for s in seen if "api_keys" not in s.path]
    assert result.status == Status.VALID and result.data is not None and len(costs) == 1  # one read does both
    fresh = judge(Provider.parse(provider), result.data, datetime.now(UTC))
    assert fresh.data_status == want
    if age is None:
        assert result.data.newest_at is None and result.data.data_through is None
    else:
        assert abs((datetime.now(UTC) - result.data.newest_at).total_seconds() - age * 3600) < 120
