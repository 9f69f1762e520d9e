"""Bad input: each a clear catalog error, nothing written."""

from __future__ import annotations

import json

import pytest
from integrations import IntegrationError, IntegrationService
from integrations.domain import Action

from tests.conftest import ORG
from tests.keys import OPENAI_OK, service_account_json


def nothing_written(svc: IntegrationService) -> bool:
    """Nothing stored; the history holds at most the refused try (a SETUP REJECTED event, which names no secret)."""
    events = [e for e in svc.store.events() if e.action != Action.ORG_KEY]  # the fixture's org registrations
    refused = [e for e in events if e.action == Action.SETUP and e.outcome.value == "REJECTED"]
    return svc.store.list_credentials(active_only=False) == [] and events == refused


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "A",
        "Acme",
        "a",
        "-acme",
        "acme corp",
        "acme;drop table",
        "../etc",
        "acme\x00",
        "ａｃｍｅ",
        "a" * 64,
        None,
        42,
    ],
)
def test_bad_slugs(svc: IntegrationService, slug: object) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(slug, "openai", OPENAI_OK)  # type: ignore[arg-type]
    assert err.value.code == "INVALID_ORG_SLUG" and err.value.http_status == 422
    assert nothing_written(svc)


@pytest.mark.parametrize("provider", ["azure", "", "open ai", None, 3, "OPENAI;"])
def test_unknown_providers(svc: IntegrationService, provider: object) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, provider, OPENAI_OK)  # type: ignore[arg-type]
    assert err.value.code == "UNSUPPORTED_PROVIDER" and "openai, anthropic or gcp" in err.value.message
    assert nothing_written(svc)


@pytest.mark.parametrize(
    ("credential", "needle"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("sk-proj-" + "a" * 17 * 1024, "16 KiB"),
        (b"sk-bytes", "text"),
        ("sk-proj-abc", "at least 20"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz 123", "spaces"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345", "Anthropic key"),
        ("hello", "sk-"),
        ("sk-proj-abcdefghijklmnop\x00qrstuvwxyz", "NUL"),
    ],
)
def test_bad_openai_credentials(svc: IntegrationService, credential: object, needle: str) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", credential)  # type: ignore[arg-type]
    assert err.value.code == "MALFORMED_CREDENTIAL" and needle in err.value.message
    assert nothing_written(svc)


def test_anthropic_refuses_an_openai_key(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "anthropic", OPENAI_OK)
    assert err.value.code == "MALFORMED_CREDENTIAL" and "OpenAI key" in err.value.message


def _sa(**changes: object) -> str:
    data = json.loads(service_account_json("sa@p.iam.gserviceaccount.com"))
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("credential", "needle"),
    [
        ('{"type": "service_account",\n "project_id": }', "line 2"),
        ("[1, 2]", "JSON object"),
        (_sa(type="external_account"), "external_account"),
        (_sa(type="authorized_user"), "authorized_user"),
        (_sa(private_key=None, client_email=None), "missing: private_key, client_email"),
        (_sa(private_key="-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"), "PEM"),
        (_sa(token_uri="https://evil.example/token"), "token_uri"),
        (_sa(universe_domain="evil.example"), "universe_domain"),
        ("[" * 5000 + "]" * 5000, "JSON"),
    ],
)
def test_bad_service_accounts(svc: IntegrationService, credential: str, needle: str) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "gcp", credential)
    assert err.value.code == "MALFORMED_CREDENTIAL" and needle in err.value.message
    assert nothing_written(svc)


@pytest.mark.parametrize(
    "metadata",
    [
        "production",
        ["a"],
        {"nested": {"a": 1}},
        {"list": [1]},
        {"": 1},
        {"k" * 65: 1},
        {"big": "x" * 5000},
        {1: "a"},
        {"nan": float("nan")},
    ],
)
def test_bad_metadata(svc: IntegrationService, metadata: object) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", OPENAI_OK, metadata=metadata)  # type: ignore[arg-type]
    assert err.value.code == "INVALID_INPUT" and "metadata" in err.value.message
    assert nothing_written(svc)


def test_bad_credential_name(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", OPENAI_OK, credential_name="n" * 201)
    assert err.value.code == "INVALID_INPUT" and nothing_written(svc)
