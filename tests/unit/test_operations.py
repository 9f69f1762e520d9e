"""Status sync failures, overview, reconcile, rewrap and bulk re-validation."""

from __future__ import annotations

from datetime import datetime

import pytest
from integrations import IntegrationError, IntegrationService, Provider, Status
from integrations.domain import Action, Outcome

from tests.conftest import ORG, fake_service
from tests.fakes import InMemoryStatusCache, swap
from tests.keys import ANTHROPIC_OK, OPENAI_OK, anthropic_key, openai_key, service_account_json


class DownCache(InMemoryStatusCache):
    """The status cache goes down after the orgs are registered."""

    down = False

    def set_status(self, org_slug: str, provider: Provider, status: Status, configured_at: datetime | None) -> None:
        if self.down:
            raise IntegrationError("STATUS_SYNC_FAILED", "Supabase unreachable (test).")
        super().set_status(org_slug, provider, status, configured_at)

    def set_checked(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        if self.down:  # a real cache is asked even when its compare-and-set would match nothing
            raise IntegrationError("STATUS_SYNC_FAILED", "Supabase unreachable (test).")
        super().set_checked(updates)


@pytest.fixture
def down_svc() -> IntegrationService:
    svc = fake_service()
    swap(svc, cache=DownCache())
    svc.register_org(ORG)
    svc.cache.down = True
    return svc


def test_sync_failure_succeeds_with_warning_and_event(down_svc: IntegrationService) -> None:
    result = down_svc.setup(ORG, "openai", OPENAI_OK, actor="ops")
    assert result.success and result.warnings and "reconcile" in result.warnings[0]
    assert down_svc.get_one(ORG, "openai").status == Status.VALID
    sync = [e for e in down_svc.store.events(ORG) if e.action == Action.SYNC]
    assert sync and sync[0].outcome == Outcome.FAILED and sync[0].error_code == "STATUS_SYNC_FAILED"
    frame = down_svc.overview()
    assert frame.loc[frame.provider == "OPENAI", "drift"].item()
    down_svc.cache.down = False
    report = down_svc.reconcile()
    assert [(d.org_slug, d.provider, d.cached_status, d.recorded_status) for d in report.drifts] == [
        (ORG, Provider.OPENAI, Status.NOT_CONFIGURED, Status.VALID)
    ]
    assert not down_svc.overview()["drift"].any()


def test_delete_and_validate_survive_a_sync_failure(down_svc: IntegrationService) -> None:
    down_svc.setup(ORG, "openai", OPENAI_OK)
    assert down_svc.validate(ORG, "openai").warnings
    assert down_svc.delete(ORG, "openai").warnings
    assert down_svc.get_one(ORG, "openai").status == Status.NOT_CONFIGURED


def test_overview_columns_and_drift(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK, credential_name="Prod")
    svc.cache.set_status(ORG, Provider.OPENAI, Status.PENDING, None)
    row = svc.overview().set_index("provider").loc["OPENAI"]
    assert (row.status, row.cached_status, bool(row.drift), row.credential_hint) == (
        "VALID",
        "PENDING",
        True,
        "sk-proj-...Yz99",
    )
    assert row.validation_age_days < 1


def test_reconcile_dry_run_changes_nothing_and_is_idempotent(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK)
    svc.setup(ORG, "anthropic", ANTHROPIC_OK)
    svc.cache.set_status(ORG, Provider.OPENAI, Status.INVALID, None)
    svc.cache.set_status(ORG, Provider.GCP, Status.VALID, None)
    preview = svc.reconcile(dry_run=True)
    assert {d.provider for d in preview.drifts} == {Provider.OPENAI, Provider.GCP} and preview.fixed == 0
    assert svc.cache.get_org(ORG).status_of(Provider.OPENAI).status == Status.INVALID
    assert svc.reconcile(actor="ops").fixed == 2
    assert svc.reconcile().drifts == []
    reconciled = [e for e in svc.store.events(ORG) if e.action == Action.RECONCILE]
    assert len(reconciled) == 2 and {e.actor for e in reconciled} == {"ops"}


def test_reconcile_recreates_a_missing_org_row(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK)
    del svc.cache.orgs[ORG]
    svc.reconcile()
    assert svc.cache.get_org(ORG).status_of(Provider.OPENAI).status == Status.VALID


def test_rewrap_moves_old_versions_forward(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", OPENAI_OK)
    svc.setup(ORG, "anthropic", ANTHROPIC_OK)
    new_ref = svc.cipher.rotate()
    svc.setup(ORG, "gcp", service_account_json("sa@p.iam.gserviceaccount.com"))
    report = svc.rewrap(actor="ops")
    assert (report.rewrapped, report.already_current, report.failed) == (2, 1, {})
    assert {r.key_ref for r in svc.store.list_credentials()} == {new_ref}
    assert all(svc.validate(ORG, p).success for p in Provider)
    assert svc.rewrap().rewrapped == 0


def test_revalidate_many_reports_outcomes_and_changes() -> None:
    svc = fake_service()
    for slug in ("a-org", "b-org", "c-org"):
        svc.register_org(slug)
    svc.setup("a-org", "openai", openai_key(), actor="t")
    svc.setup("b-org", "openai", openai_key("revoked"), skip_validation=True)
    svc.setup("c-org", "anthropic", anthropic_key(), skip_validation=True)
    svc.setup("c-org", "openai", openai_key("unreachable"), skip_validation=True)
    ticks: list[tuple[int, int]] = []
    report = svc.revalidate_many(concurrency=2, progress=lambda d, t: ticks.append((d, t)))
    assert report.checked == 4 and report.outcomes == {"VALID": 2, "INVALID": 1, "INCONCLUSIVE": 1}
    assert report.errors == {"INVALID_CREDENTIAL": 1, "NETWORK_ERROR": 1}
    assert sorted((c["org_slug"], c["after"]) for c in report.changes) == [("b-org", "INVALID"), ("c-org", "VALID")]
    assert sorted(ticks)[-1] == (4, 4) and len(ticks) == 4
    only = svc.revalidate_many(orgs=["a-org"], providers=["OPENAI"])
    assert only.checked == 1


class FlakyValidator:
    """Wraps a real validator: the first `fails` checks answer 429 with a short Retry-After."""

    def __init__(self, inner, fails: int, retry_after: str = "0.3") -> None:
        self.inner, self.fails, self.retry_after, self.calls = inner, fails, retry_after, 0
        self.provider = inner.provider
        self.started: list[float] = []

    def parse(self, credential, stored=False):
        return self.inner.parse(credential, stored)

    def run_scope(self):
        return self.inner.run_scope()

    def check(self, credential, metadata=None):
        import time

        from integrations.verdict import failed as failure

        self.started.append(time.monotonic())
        self.calls += 1
        if self.calls <= self.fails:
            return failure("RATE_LIMITED", "429", retryable=True, rate_limit={"retry-after": self.retry_after})
        return self.inner.check(credential, metadata)


def test_a_429_slows_only_that_provider() -> None:
    svc = fake_service()
    for i in range(6):
        slug = f"org-{i}"
        svc.register_org(slug)
        svc.setup(slug, "openai", openai_key(), skip_validation=True)
        svc.setup(slug, "anthropic", anthropic_key(), skip_validation=True)
    openai = FlakyValidator(svc.validators[Provider.OPENAI], fails=1)
    anthropic = FlakyValidator(svc.validators[Provider.ANTHROPIC], fails=0)
    svc.validators[Provider.OPENAI], svc.validators[Provider.ANTHROPIC] = openai, anthropic
    report = svc.revalidate_many(concurrency=2)
    assert report.outcomes == {"VALID": 12} and "RATE_LIMITED" not in report.errors
    assert set(report.backoff_s) == {"OPENAI"} and report.backoff_s["OPENAI"] >= 0.3
    throttled, window_end = openai.started[0], openai.started[0] + 0.3
    # no new OpenAI check starts during the back-off (one may slip in before the 429 is seen), Anthropic goes on
    assert sum(throttled < t < window_end for t in openai.started[1:]) <= 1
    assert len(openai.started) == 7  # six checks plus the retry of the throttled one
    assert any(throttled < t < window_end for t in anthropic.started) or max(anthropic.started) < throttled


def test_persistent_429_is_reported_inconclusive() -> None:
    svc = fake_service()
    svc.register_org(ORG)
    svc.setup(ORG, "openai", OPENAI_OK)
    svc.validators[Provider.OPENAI] = FlakyValidator(svc.validators[Provider.OPENAI], fails=10, retry_after="0.05")
    report = svc.revalidate_many(max_rate_limit_retries=1)
    assert report.outcomes == {"INCONCLUSIVE": 1} and report.errors == {"RATE_LIMITED": 1}
    assert svc.get_one(ORG, "openai").status == Status.VALID


def test_rate_per_provider_is_honoured() -> None:
    svc = fake_service()
    for i in range(20):
        svc.register_org(f"org-{i:02d}")
        svc.setup(f"org-{i:02d}", "openai", openai_key(), skip_validation=True)
    svc.setup("org-00", "anthropic", anthropic_key(), skip_validation=True)
    report = svc.revalidate_many(concurrency=8, rates={Provider.OPENAI: 10.0})
    # a burst of 10, then 10 more at 10/s: however fast or slow the checks, the run cannot end before 1 s
    # (a lower bound the token bucket guarantees, not a speed measurement)
    assert report.outcomes == {"VALID": 21} and report.duration_s >= 0.95
    assert "ANTHROPIC" not in report.backoff_s
    assert "OPENAI" not in svc.revalidate_many(concurrency=8).backoff_s
