"""Review round 4, item 11's remainder: the fix an operator reads is the one for the key at hand. A wrong-kind
key's fix names its own provider's right key (not the catalog's list for three providers); a rejected key that was
never stored is not told to rotate; a rate limit without Retry-After does not send the reader looking for one; an
inconclusive new key's advice names the console's one-click PENDING button."""

from __future__ import annotations

import pytest
from integrations import IntegrationError, Provider
from integrations.errors import CATALOG
from integrations.providers.kinds import refuse_wrong_kind
from integrations.troubleshooting import advice

from tests.keys import OPENAI_OK


@pytest.mark.parametrize(
    "provider,key,own,others",
    [
        (Provider.ANTHROPIC, "sk-ant-oat01-" + "Ab1" * 20, "Anthropic Admin key", ("OpenAI", "Google Cloud")),
        (Provider.OPENAI, OPENAI_OK, "OpenAI Admin key", ("Anthropic", "Google Cloud")),
    ],
)
def test_a_wrong_kind_keys_fix_is_its_own_providers(provider: Provider, key: str, own: str, others: tuple) -> None:
    with pytest.raises(IntegrationError) as refused:
        refuse_wrong_kind(provider, key, "cost data")
    assert refused.value.code == "WRONG_KEY_KIND"
    assert own in refused.value.hint and not any(name in refused.value.hint for name in others)


def test_a_rejected_key_never_stored_is_not_told_to_rotate() -> None:
    fixes = advice("INVALID_CREDENTIAL", Provider.OPENAI, stored=False).fixes
    assert fixes and not any("again (rotate)" in fix for fix in fixes)
    assert "set it up" in CATALOG["INVALID_CREDENTIAL"].fixes[0]


def test_a_rate_limit_fix_holds_when_the_provider_sent_no_retry_after() -> None:
    assert "when it sends one" in CATALOG["RATE_LIMITED"].fixes[0]


def test_an_inconclusive_new_keys_advice_names_the_one_click_button() -> None:
    fixes = advice("NETWORK_ERROR", Provider.OPENAI, stored=False).fixes
    assert any("'Store it as PENDING' button" in fix for fix in fixes)
