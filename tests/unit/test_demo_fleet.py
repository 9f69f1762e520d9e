"""`integrations demo --orgs N`: the fleet for trying the console at scale (its speed is measured by the console
benchmark, not here): one to three providers per org, mostly VALID, the marked orgs INVALID, idempotent."""

from __future__ import annotations

from integrations import IntegrationService
from integrations.demo import seed_fleet


def test_the_fleet_has_its_mix_of_statuses_and_a_second_run_creates_nothing(local_svc: IntegrationService) -> None:
    made = seed_fleet(local_svc, 48)
    assert made["orgs"] == 48 and made["checked"] == sum(1 + i % 3 for i in range(48))
    frame = local_svc.overview()
    fleet = frame[frame.org_slug.str.startswith("org-")]
    configured = fleet[fleet.status != "NOT_CONFIGURED"]
    assert len(configured) == made["checked"]
    statuses = dict(zip(zip(configured.org_slug, configured.provider, strict=True), configured.status, strict=True))
    assert statuses[("org-00007", "OPENAI")] == "INVALID"  # the "revoked" marker
    assert (configured.status == "VALID").sum() >= len(configured) - 2
    again = seed_fleet(local_svc, 48)
    assert again["orgs"] == 0
