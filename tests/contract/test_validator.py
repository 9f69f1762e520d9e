"""ValidatorContract: the sandbox validators and the real ones (official SDKs pointed at the local provider doubles)
answer alike: the format check, every live outcome (valid, rejected, forbidden, rate limited with Retry-After,
server error, time-out, unreachable) as the same status / catalog code / retryable, the key's kind and
capabilities, and never a piece of the secret in a result or an exception."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from integrations.bootstrap import build_validators
from integrations.domain import CredentialKind, Outcome, Provider, Status
from integrations.errors import CATALOG, IntegrationError
from integrations.providers.anthropic_keys import AnthropicValidator
from integrations.providers.base import Validator
from integrations.providers.gcp_service_account import GcpValidator
from integrations.providers.openai_keys import OpenAIValidator
from integrations.settings import Settings
from integrations.verdict import verdict
from pydantic import SecretStr

from tests.doubles.providers import (
    ALL,
    ANTHROPIC_COSTS,
    ANTHROPIC_MODELS,
    EMAIL,
    OPENAI_COSTS,
    OPENAI_MODELS,
    anthropic_error,
    google,
    openai_error,
)
from tests.keys import admin_key, anthropic_key, openai_key, service_account_json
from tests.servers import Reply, Seen, listener, refused_url, serve

HANG_S = 2.5
# case -> (status, catalog code, retryable)
OUTCOMES: dict[str, tuple[Status, str | None, bool]] = {
    "valid": (Status.VALID, None, False),
    "rejected": (Status.INVALID, "INVALID_CREDENTIAL", False),
    "forbidden": (Status.INVALID, "INSUFFICIENT_PERMISSIONS", False),
    "rate_limited": (Status.PENDING, "RATE_LIMITED", True),
    "server_error": (Status.PENDING, "PROVIDER_UNAVAILABLE", True),
    "timeout": (Status.PENDING, "NETWORK_ERROR", True),
    "unreachable": (Status.PENDING, "NETWORK_ERROR", True),
}
KINDS = {Provider.OPENAI: CredentialKind.PROJECT, Provider.ANTHROPIC: CredentialKind.API}
MALFORMED = {
    Provider.OPENAI: ["", "   ", "sk-proj-short", "not-a-key-at-all-0123456789abcdef", anthropic_key()],
    Provider.ANTHROPIC: ["", "sk-ant-api03-x", "sk-ant-api03-has spaces in it 0123456789abcdef", openai_key()],
    Provider.GCP: ["", "{", "[]", json.dumps({"type": "service_account"}), '{"type": "authorized_user"}'],
}


def credential(provider: Provider, marker: str = "", admin: bool = False) -> str:
    """A well-formed credential of `provider`; the sandbox reads `marker` from it, the local servers ignore it."""
    if provider == Provider.GCP:
        return service_account_json(f"exporter-{marker or 'ok'}@proj-123.iam.gserviceaccount.com", "proj-123")
    if admin:
        return admin_key(provider.value, marker)
    return openai_key(marker) if provider == Provider.OPENAI else anthropic_key(marker)


def secret_pieces(provider: Provider, text: str) -> list[str]:
    """The parts of a credential that must never be shown: its random body (the sandbox's marker and the public
    prefix aside), for GCP the private key's PEM body (its id is public: it names the key in the JWT header)."""
    if provider == Provider.GCP:
        return ["".join(line for line in json.loads(text)["private_key"].splitlines() if "-----" not in line)]
    return [text[-40:]]  # tests.keys and demo keys end in token_urlsafe(30)


def leaks(provider: Provider, secret: str, *texts: str) -> list[str]:
    """Every 8-character piece of the secret found in `texts` (the scrubber's own threshold)."""
    joined = "\n".join(texts)
    return sorted(
        {p[i : i + 8] for p in secret_pieces(provider, secret) for i in range(len(p) - 7) if p[i : i + 8] in joined}
    )


@pytest.fixture(params=list(Provider), ids=lambda p: p.value.lower())
def provider(request: pytest.FixtureRequest) -> Provider:
    return request.param


class ValidatorContract:
    cases: tuple[str, ...] = tuple(OUTCOMES)
    retry_after: dict[Provider, str | None]  # what this world's 429 says in Retry-After (Google's may say none)

    @contextmanager
    def world(self, provider: Provider, case: str, admin: bool = False) -> Iterator[tuple[Validator, str]]:
        """A validator of `provider` whose provider answers `case`, and the credential to check."""
        raise NotImplementedError
        yield

    @contextmanager
    def offline(self, provider: Provider) -> Iterator[Validator]:
        """A validator whose provider must not be contacted (the format check is offline)."""
        raise NotImplementedError
        yield

    def test_every_outcome_is_a_result_with_its_catalog_code(self, provider: Provider, case: str) -> None:
        with self.world(provider, case) as (validator, text):
            parsed = validator.parse(SecretStr(text))
            result = validator.check(parsed)
        status, code, retryable = OUTCOMES[case]
        assert (result.status, result.error_code, result.retryable) == (status, code, retryable), result.message
        assert code is None or (code in CATALOG and result.message)
        assert (verdict(result, Status.VALID).outcome == Outcome.INCONCLUSIVE) == retryable
        if case == "rate_limited":
            assert result.retry_after == self.retry_after[provider]
        if case == "valid":
            assert any(c.status == "passed" for c in result.capabilities) or provider == Provider.GCP
        assert not leaks(provider, text, result.model_dump_json(), repr(result), repr(parsed), str(parsed))
        if provider != Provider.GCP:  # the providers echo the key's last four characters; the result must not
            assert text[-4:] not in result.message

    def test_the_format_check_reads_the_kind_and_a_safe_hint(self, provider: Provider) -> None:
        for admin in (False, True) if provider != Provider.GCP else (False,):
            text = credential(provider, admin=admin)
            with self.offline(provider) as validator:
                parsed = validator.parse(SecretStr(text))
            assert parsed.provider == provider
            want = CredentialKind.ADMIN if admin else KINDS.get(provider, CredentialKind.SERVICE_ACCOUNT)
            assert parsed.kind == want
            assert parsed.hint and not leaks(provider, text, parsed.hint, repr(parsed), json.dumps(parsed.info))

    def test_a_malformed_credential_is_refused_offline_without_echoing_it(self, provider: Provider) -> None:
        for text in MALFORMED[provider]:
            with self.offline(provider) as validator, pytest.raises(IntegrationError) as err:
                validator.parse(SecretStr(text))
            assert err.value.code == "MALFORMED_CREDENTIAL" and err.value.message
            if len(text) >= 16:
                assert text not in str(err.value) and text[-12:] not in str(err.value)

    @pytest.mark.parametrize("provider", [Provider.GCP], ids=["gcp"])
    def test_a_key_file_whose_private_key_does_not_load_is_refused_without_echoing_it(self, provider: Provider) -> None:
        body = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
        data = json.loads(credential(provider)) | {"private_key": f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END"}
        with self.offline(provider) as validator, pytest.raises(IntegrationError) as err:
            validator.parse(SecretStr(json.dumps(data)))
        assert err.value.code == "MALFORMED_CREDENTIAL" and body[:8] not in str(err.value)

    @pytest.mark.parametrize("case", ["valid", "rejected", "forbidden"])
    @pytest.mark.parametrize("provider", [Provider.OPENAI, Provider.ANTHROPIC], ids=["openai", "anthropic"])
    def test_an_admin_key_reads_costs_not_inference(self, provider: Provider, case: str) -> None:
        with self.world(provider, case, admin=True) as (validator, text):
            parsed = validator.parse(SecretStr(text))
            result = validator.check(parsed)
        status, code, retryable = OUTCOMES[case]
        assert (parsed.kind, result.status, result.error_code, result.retryable) == (
            CredentialKind.ADMIN,
            status,
            code,
            retryable,
        )
        if case == "valid":
            caps = {c.name: c.status for c in result.capabilities}
            assert caps == {"inference": "not available", "cost data": "passed"}
        assert not leaks(provider, text, result.model_dump_json())

    @pytest.mark.parametrize("provider", [Provider.OPENAI, Provider.ANTHROPIC], ids=["openai", "anthropic"])
    def test_a_valid_inference_key_lists_its_capabilities(self, provider: Provider) -> None:
        with self.world(provider, "valid") as (validator, text):
            result = validator.check(validator.parse(SecretStr(text)))
        caps = {c.name: c.status for c in result.capabilities}
        assert caps == {"inference": "passed", "cost data": "not available"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames and not any(m.name == "parametrize" for m in metafunc.definition.own_markers):
        metafunc.parametrize("case", metafunc.cls.cases if metafunc.cls else tuple(OUTCOMES))


SANDBOX_MARKERS = {
    "valid": "",
    "rejected": "revoked",
    "forbidden": "noperms",
    "rate_limited": "ratelimited",
    "server_error": "outage",
    "unreachable": "unreachable",
}


class TestSandboxValidators(ValidatorContract):
    """The real SDKs over the in-process sandbox transport (the local profile's validation)."""

    # the sandbox answers in-process at once: it has no clock for a time-out (the local servers below have)
    cases = tuple(SANDBOX_MARKERS)
    retry_after = {Provider.OPENAI: "2", Provider.ANTHROPIC: "2", Provider.GCP: None}

    @contextmanager
    def world(self, provider: Provider, case: str, admin: bool = False) -> Iterator[tuple[Validator, str]]:
        validators = build_validators(Settings(_env_file=None, validation="sandbox"))
        yield validators[provider], credential(provider, SANDBOX_MARKERS[case], admin)

    @contextmanager
    def offline(self, provider: Provider) -> Iterator[Validator]:
        yield build_validators(Settings(_env_file=None, validation="sandbox"))[provider]


def _api_reply(provider: Provider, case: str, text: str, admin: bool) -> Reply:
    masked = f"{text[:8]}****{text[-4:]}"
    ok_headers = {"x-ratelimit-remaining-requests": "42", "anthropic-ratelimit-requests-remaining": "42"}
    if provider == Provider.OPENAI:
        ok = OPENAI_COSTS if admin else OPENAI_MODELS
        errors = {
            "rejected": (401, openai_error(f"Incorrect API key provided: {masked}.", "invalid_api_key")),
            "forbidden": (403, openai_error("You have insufficient permissions. Missing scopes: api.usage.read.")),
            "rate_limited": (429, openai_error(f"Rate limit reached for key ending {text[-4:]}")),
            "server_error": (500, openai_error("The server had an error while processing your request.")),
        }
    else:
        ok = ANTHROPIC_COSTS if admin else ANTHROPIC_MODELS
        errors = {
            "rejected": (401, anthropic_error("authentication_error", f"invalid x-api-key {masked}")),
            "forbidden": (403, anthropic_error("permission_error", "Your API key does not have permission.")),
            "rate_limited": (429, anthropic_error("rate_limit_error", "Number of requests has exceeded your limit.")),
            "server_error": (529, anthropic_error("overloaded_error", "Overloaded")),
        }
    if case in errors:
        status, body = errors[case]
        return Reply(status, body, {"retry-after": "7"} if case == "rate_limited" else {})
    return Reply(200, ok, ok_headers, hang_s=HANG_S if case == "timeout" else 0.0)


def _google_replies(case: str) -> dict[str, Reply]:
    return {
        "valid": {},
        "rejected": {"token": Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})},
        "forbidden": {"crm": Reply(200, {"permissions": ALL[:2]})},
        "rate_limited": {"crm": Reply(429, {"error": {"code": 429}}, {"Retry-After": "17"})},
        "server_error": {"token": Reply(503, {"error": "backend"})},
        "timeout": {"token": Reply(200, {"access_token": "x"}, hang_s=HANG_S)},
    }[case]


class TestValidatorsOnLocalServers(ValidatorContract):
    """The live validators (openai, anthropic, google-auth + BigQuery/Resource Manager over HTTP) against the
    provider doubles served on loopback; the time-out is the validator's own (1 s against a 2.5 s hang)."""

    retry_after = {Provider.OPENAI: "7", Provider.ANTHROPIC: "7", Provider.GCP: "17"}

    @contextmanager
    def world(self, provider: Provider, case: str, admin: bool = False) -> Iterator[tuple[Validator, str]]:
        text = credential(provider, admin=admin)
        if provider == Provider.GCP:
            text = service_account_json(EMAIL, "proj-123")  # the token endpoint checks the issuer
            route: Any = google(text, **_google_replies(case)) if case != "unreachable" else None
        else:
            route = (lambda seen: _api_reply(provider, case, text, admin)) if case != "unreachable" else None
        timeout = 1.0 if case == "timeout" else 10.0  # generous elsewhere: two shared cores
        if route is None:
            yield self.validator(provider, refused_url(), timeout), text
            return
        with serve(route) as (url, seen):
            yield self.validator(provider, url, timeout), text
        self.assert_sent_only_to_itself(provider, text, seen)

    @staticmethod
    def validator(provider: Provider, url: str, timeout: float = 10.0) -> Validator:
        if provider == Provider.OPENAI:
            return OpenAIValidator(f"{url}/v1", timeout)
        if provider == Provider.ANTHROPIC:
            return AnthropicValidator(url, timeout)
        return GcpValidator(f"{url}/token", f"{url}/bigquery/v2", timeout, resource_manager_url=f"{url}/crm/v1")

    @staticmethod
    def assert_sent_only_to_itself(provider: Provider, text: str, seen: list[Seen]) -> None:
        """One check is a bounded number of requests (no hidden retries), the key only in its own header."""
        # GCP: token + query; an Admin key: costs + its own expiry (OpenAI's admin_api_keys, Anthropic's api_keys)
        most = 2 if provider == Provider.GCP or text.startswith(("sk-admin-", "sk-ant-admin01-")) else 1
        assert 1 <= len(seen) <= most, [s.path for s in seen]
        for request in seen:
            assert not leaks(provider, text, request.path, request.body.decode(errors="replace"))

    @contextmanager
    def offline(self, provider: Provider) -> Iterator[Validator]:
        with listener() as (url, connections):
            yield self.validator(provider, url)
            assert connections == [], "the format check contacted the provider"
