"""Org existence comes from the system of record: reads keep working while the status cache is down, with a
warning; an unknown org is still ORG_NOT_FOUND; the status cache is compared, never trusted."""

from __future__ import annotations

from datetime import datetime

import pytest
from integrations import IntegrationError, IntegrationService, Provider, Status

from tests.conftest import ORG, fake_service
from tests.fakes import InMemoryStatusCache, swap
from tests.keys import OPENAI_OK


class UnreachableCache(InMemoryStatusCache):
    """Every read and write fails the way an unreachable Supabase does, once `down` is set."""

    down = False

    def _check(self, code: str) -> None:
        if self.down:
            raise IntegrationError(code, "Supabase could not be reached (ConnectError).")

    def get_org(self, org_slug: str):  # type: ignore[no-untyped-def]
        self._check("STATUS_CACHE_READ_FAILED")
        return super().get_org(org_slug)

    def all_orgs(self):  # type: ignore[no-untyped-def]
        self._check("STATUS_CACHE_READ_FAILED")
        return super().all_orgs()

    def set_status(self, org_slug: str, provider: Provider, status: Status, configured_at: datetime | None) -> None:
        self._check("STATUS_SYNC_FAILED")
        super().set_status(org_slug, provider, status, configured_at)


@pytest.fixture
def down() -> IntegrationService:
    svc = fake_service()
    swap(svc, cache=UnreachableCache())
    svc.register_org(ORG, "Acme Corp")
    svc.setup(ORG, "openai", OPENAI_OK)
    svc.cache.down = True
    return svc


def test_reads_work_with_a_warning_while_the_cache_is_down(down: IntegrationService) -> None:
    result = down.get_all(ORG)
    assert result.integrations[Provider.OPENAI].status == Status.VALID
    assert len(result.warnings) == 1 and result.warnings[0].startswith("STATUS_CACHE_READ_FAILED")
    assert result.model_dump(mode="json")["warnings"] == result.warnings
    assert down.get_one(ORG, "openai").credential_hint
    assert down.orgs() == [ORG]


def test_writes_work_with_a_sync_warning_and_unknown_orgs_are_still_not_found(down: IntegrationService) -> None:
    assert down.validate(ORG, "openai").warnings[0].startswith("STATUS_SYNC_FAILED")
    assert down.delete(ORG, "openai").success
    for call in (lambda: down.get_all("ghost"), lambda: down.get_one("ghost", "openai")):
        with pytest.raises(IntegrationError) as err:
            call()
        assert err.value.code == "ORG_NOT_FOUND"


def test_the_overview_keeps_the_recorded_side_and_says_why_the_cached_side_is_empty(down: IntegrationService) -> None:
    frame = down.overview()
    row = frame.set_index(["org_slug", "provider"]).loc[(ORG, "OPENAI")]
    assert row.status == "VALID" and row.cached_status is None
    assert frame.attrs["warnings"] and "STATUS_CACHE_READ_FAILED" in frame.attrs["warnings"][0]


def test_diagnose_passes_org_exists_and_fails_the_cache_step_with_its_code(down: IntegrationService) -> None:
    steps = {s.name: s for s in down.diagnose(ORG, "openai")}
    assert steps["org exists"].passed and steps["live validation"].passed
    assert steps["status cache agrees"].code == "STATUS_CACHE_READ_FAILED"


def test_a_disagreeing_cache_is_a_warning_naming_the_provider() -> None:
    svc = fake_service()
    svc.register_org(ORG)
    svc.setup(ORG, "openai", OPENAI_OK)
    assert svc.get_all(ORG).warnings == []
    svc.cache.set_status(ORG, Provider.OPENAI, Status.INVALID, None)
    (warning,) = svc.get_all(ORG).warnings
    assert "OPENAI" in warning and "reconcile" in warning


def test_existence_is_the_stores_registration_not_the_cache_row() -> None:
    svc = fake_service()
    svc.cache.create_org("cache-only")  # a cache row alone does not make an org
    with pytest.raises(IntegrationError) as err:
        svc.get_all("cache-only")
    assert err.value.code == "ORG_NOT_FOUND"
    svc.register_org("registered")
    svc.store.revoke_api_keys("registered", datetime.now().astimezone())
    assert other_service(svc).get_all("registered").org_slug == "registered", "revoked keys still register it"


def other_service(svc: IntegrationService) -> IntegrationService:
    """A second process on the same store and cache: nothing memoised."""
    return IntegrationService(svc.store, svc.cipher, svc.cache, svc.validators, attempts_per_minute=1000)
