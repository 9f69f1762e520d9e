"""The real openai / anthropic SDKs against a local HTTP server: every outcome maps onto the catalog."""

from __future__ import annotations

import pytest
from integrations.domain import Status
from integrations.providers.api_keys import AnthropicValidator, OpenAIValidator
from pydantic import SecretStr

from tests.keys import ANTHROPIC_OK, OPENAI_OK
from tests.servers import Reply, refused_url, serve

OPENAI_MODELS = {
    "object": "list",
    "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}],
}
ANTHROPIC_MODELS = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-5",
    "last_id": "claude-sonnet-4-5",
}


def openai_error(message: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def anthropic_error(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


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
