"""Org API keys are checked against the store on every call (issue 28, N16): no cache outlives a revocation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from integrations import IntegrationError, IntegrationService
from integrations.bootstrap import build_validators
from integrations.settings import Settings

from tests.fakes import InMemoryCipher, InMemoryStatusCache, InMemoryStore


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


@pytest.fixture
def svc(store: CountingStore) -> IntegrationService:
    validators = build_validators(Settings(_env_file=None))
    return IntegrationService(store, InMemoryCipher(), InMemoryStatusCache(), validators)


def test_every_call_reads_the_keys_row(svc: IntegrationService, store: CountingStore) -> None:
    key = svc.register_org("acmecorp")
    for _ in range(5):
        assert svc.authenticate("acmecorp", key).org_slug == "acmecorp"
    assert store.lookups == 5
    with pytest.raises(IntegrationError) as err:  # the cache never widens what a key may do
        svc.authenticate("globex", key)
    assert err.value.code == "ORG_API_KEY_FORBIDDEN"


def test_unknown_keys_are_never_cached(svc: IntegrationService, store: CountingStore) -> None:
    for _ in range(3):
        with pytest.raises(IntegrationError):
            svc.authenticate("acmecorp", "acmecorp_api_not-a-key")
    assert store.lookups == 3


def test_revoke_and_rotate_in_this_process_take_effect_at_once(svc: IntegrationService, store: CountingStore) -> None:
    key = svc.register_org("acmecorp")
    svc.authenticate("acmecorp", key)
    new = svc.rotate_org_key("acmecorp")
    with pytest.raises(IntegrationError) as err:
        svc.authenticate("acmecorp", key)
    assert err.value.code == "ORG_API_KEY_INVALID"
    svc.authenticate("acmecorp", new)
    svc.revoke_org_keys("acmecorp")
    with pytest.raises(IntegrationError):
        svc.authenticate("acmecorp", new)


def test_a_revocation_elsewhere_takes_effect_at_once(svc: IntegrationService, store: CountingStore) -> None:
    key = svc.register_org("acmecorp")
    svc.authenticate("acmecorp", key)
    store.revoke_api_keys("acmecorp", datetime.now(UTC))  # another process revoked it, straight in the store
    with pytest.raises(IntegrationError) as err:
        svc.authenticate("acmecorp", key)
    assert err.value.code == "ORG_API_KEY_INVALID"
