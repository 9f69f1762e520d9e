"""Verified org API keys are remembered for a short TTL: a REST call does not cost a store query each time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from integrations import IntegrationError, orgkeys

from tests.fakes import InMemoryStore


class CountingStore(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def find_api_key(self, key_id: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return super().find_api_key(key_id)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


def test_a_verified_key_is_looked_up_once_within_the_ttl(store: CountingStore) -> None:
    key = orgkeys.issue(store, "acmecorp")
    for _ in range(5):
        assert orgkeys.verify(store, "acmecorp", key).org_slug == "acmecorp"
    assert store.lookups == 1
    with pytest.raises(IntegrationError) as err:  # the cache never widens what a key may do
        orgkeys.verify(store, "globex", key)
    assert err.value.code == "ORG_API_KEY_FORBIDDEN"


def test_unknown_keys_are_never_cached(store: CountingStore) -> None:
    for _ in range(3):
        with pytest.raises(IntegrationError):
            orgkeys.verify(store, "acmecorp", "acmecorp_api_not-a-key")
    assert store.lookups == 3


def test_revoke_and_rotate_in_this_process_take_effect_at_once(store: CountingStore) -> None:
    key = orgkeys.issue(store, "acmecorp")
    orgkeys.verify(store, "acmecorp", key)
    new = orgkeys.rotate(store, "acmecorp")
    with pytest.raises(IntegrationError) as err:
        orgkeys.verify(store, "acmecorp", key)
    assert err.value.code == "ORG_API_KEY_INVALID"
    orgkeys.verify(store, "acmecorp", new)
    orgkeys.revoke(store, "acmecorp")
    with pytest.raises(IntegrationError):
        orgkeys.verify(store, "acmecorp", new)


def test_a_revocation_elsewhere_takes_effect_within_the_ttl(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = orgkeys.issue(store, "acmecorp")
    orgkeys.verify(store, "acmecorp", key)
    store.revoke_api_keys("acmecorp", datetime.now(UTC))  # another process revoked it, straight in the store
    orgkeys.verify(store, "acmecorp", key)  # still remembered here...
    clock = orgkeys.time.monotonic() + orgkeys.VERIFIED_TTL_S + 1
    monkeypatch.setattr(orgkeys.time, "monotonic", lambda: clock)
    with pytest.raises(IntegrationError) as err:  # ...until the TTL has passed
        orgkeys.verify(store, "acmecorp", key)
    assert err.value.code == "ORG_API_KEY_INVALID"
