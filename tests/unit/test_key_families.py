"""Issue 26, the 2026 key families: one table (providers/kinds.FAMILIES) places every key by prefix; a key of the
wrong kind for what is asked is refused before any network call, naming the right key and who creates it; the
sk-ant-api01- prefix is placed by its probe."""

from __future__ import annotations

import secrets

import pytest
from integrations import IntegrationError, IntegrationService, Provider, Status
from integrations.domain import CredentialKind
from integrations.providers.kinds import FAMILIES, KeyFamily, family_of

from tests.conftest import ORG
from tests.keys import service_account_json

NEEDS = ("inference", "cost data")


def sample(family: KeyFamily) -> str:
    if family.prefix == "{":
        return service_account_json("exporter@acme-prod.iam.gserviceaccount.com", "acme-prod")
    if family.prefix == "AIza":
        return "AIzaSyA" + secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
    tail = secrets.token_urlsafe(30).replace("-", "a").replace("_", "b")
    if family.prefix == "sk-":  # the legacy key: no other family's prefix
        return "sk-" + "L" + tail
    if family.prefix == "sk-ant-":
        return "sk-ant-" + "X" + tail
    return family.prefix + tail


class NoNetwork:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: object, **kwargs: object) -> None:
        self.calls += 1
        raise AssertionError("the live check ran")


def test_every_prefix_is_in_one_table_and_longest_first() -> None:
    for provider in Provider:
        prefixes = [f.prefix for f in FAMILIES if f.provider == provider]
        for i, prefix in enumerate(prefixes):  # no later prefix is shadowed by an earlier, shorter one
            assert not any(prefix.startswith(earlier) for earlier in prefixes[:i]), prefix
    assert {f.prefix for f in FAMILIES} >= {
        "sk-admin-",
        "sk-proj-",
        "sk-svcacct-",
        "sk-",
        "sk-ant-admin01-",
        "sk-ant-api03-",
        "sk-ant-api01-",
    }


@pytest.mark.parametrize("family", FAMILIES, ids=[f"{f.provider.value}:{f.prefix}" for f in FAMILIES])
@pytest.mark.parametrize("need", NEEDS)
def test_every_family_for_every_need(
    svc: IntegrationService, monkeypatch: pytest.MonkeyPatch, family: KeyFamily, need: str
) -> None:
    key = sample(family)
    assert family_of(family.provider, key) == family
    refused = not family.usable or family.can(need) == "no"  # type: ignore[arg-type]
    guard = NoNetwork()
    monkeypatch.setattr(svc.deps.validators[family.provider], "check", guard)
    if refused:
        with pytest.raises(IntegrationError) as err:
            svc.setup(ORG, family.provider, key, need=need)  # type: ignore[arg-type]
        assert err.value.code == "WRONG_KEY_KIND" and guard.calls == 0  # refused before any network call
        message = err.value.message
        assert family.prefix in message and (
            "Admin key" in message or "key file" in message or "project key" in message or "API key" in message
        )
        assert "creates one" in message or "creates a service account" in message  # who can create the right one
        assert key not in message and key[-8:] not in message
        assert svc.store.list_credentials(ORG, active_only=False) == []
        return
    with pytest.raises(IntegrationError) as err:  # the gate let it through to its probe (here: the guard)
        svc.setup(ORG, family.provider, key, need=need)  # type: ignore[arg-type]
    assert err.value.code == "CHECK_FAILED" and guard.calls == 1


def test_kinds_are_read_from_the_table(svc: IntegrationService) -> None:
    for family in FAMILIES:
        if family.kind is not None and family.provider != Provider.GCP:
            result = svc.setup(ORG, family.provider, sample(family), skip_validation=True)
            assert result.credential_kind == family.kind


def test_an_enterprise_admin_key_is_recognised_by_its_probe(svc: IntegrationService) -> None:
    result = svc.setup(ORG, "anthropic", "sk-ant-api01-" + secrets.token_urlsafe(30), need="cost data")
    assert result.validation_status == Status.VALID and result.credential_kind == CredentialKind.ENTERPRISE_ADMIN
    assert [c.name for c in result.checks] == ["authenticate", "enterprise analytics (1 day)"]
    assert [(c.name, c.status) for c in result.capabilities] == [
        ("inference", "not available"),
        ("cost data", "passed"),
    ]
    assert svc.store.get_active(ORG, Provider.ANTHROPIC).credential_kind == CredentialKind.ENTERPRISE_ADMIN


def test_an_old_developer_key_with_the_same_prefix_is_checked_as_one(svc: IntegrationService) -> None:
    result = svc.setup(ORG, "anthropic", "sk-ant-api01-devkey" + secrets.token_urlsafe(30))
    assert result.validation_status == Status.VALID and result.credential_kind == CredentialKind.API
    assert [c.name for c in result.checks] == ["authenticate", "models.list"]


def test_a_subscription_token_is_refused_without_a_need(svc: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        svc.check_format("anthropic", "sk-ant-oat01-" + secrets.token_urlsafe(30))
    assert err.value.code == "WRONG_KEY_KIND" and "Anthropic Admin key" in err.value.message


def test_a_rejected_keys_hint_names_the_prefix_it_has_whoever_it_belongs_to() -> None:
    """An OpenAI key pasted as Anthropic's: the audit event's hint says so, as its message does (never the secret)."""
    from integrations.providers.kinds import rejected_hint
    from pydantic import SecretStr

    pasted = "sk-proj-" + "Q" * 57
    hint = rejected_hint(Provider.ANTHROPIC, SecretStr(pasted))
    assert hint == "starts with sk-proj- (OpenAI Project key), 65 characters" and "Q" not in hint
    assert rejected_hint(Provider.OPENAI, SecretStr(pasted)).startswith("starts with sk-proj- (Project key)")
    assert rejected_hint(Provider.ANTHROPIC, SecretStr("Q" * 9)) == "no known key prefix, 9 characters"
