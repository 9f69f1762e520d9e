"""`integrations demo --orgs N`: the fleet for trying the console at scale (its speed is measured by the console
benchmark, not here): one to three providers per org, mostly VALID, the marked orgs INVALID, idempotent. The orgs
and credentials are written in batches (register_orgs); the data set is the one the one-by-one calls build."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from integrations import IntegrationService
from integrations.bootstrap import connect
from integrations.demo import DEMO_ACTOR, FLEET_MARKERS, anthropic_key, openai_key, seed_fleet, service_account_json
from integrations.domain import Provider
from integrations.errors import IntegrationError

FLEET = 90  # the three markers: org-00007 revoked, org-00047 noperms, org-00087 unreachable


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


def _one_by_one(svc: IntegrationService, orgs: int) -> None:
    """The fleet as seed_fleet built it before register_orgs: register_org and setup per org and credential."""
    gcp = service_account_json("fleet@demo-project.iam.gserviceaccount.com")
    for i in range(orgs):
        slug = f"org-{i:05d}"
        svc.register_org(slug, actor=DEMO_ACTOR)
        marker = FLEET_MARKERS[i // 40 % len(FLEET_MARKERS)] if i % 40 == 7 else ""
        keys = {Provider.OPENAI: openai_key(marker), Provider.ANTHROPIC: anthropic_key(), Provider.GCP: gcp}
        for provider in list(Provider)[: 1 + i % 3]:
            svc.setup(slug, provider, keys[provider], skip_validation=True, actor=DEMO_ACTOR)
    svc.revalidate_many(orgs=[f"org-{i:05d}" for i in range(orgs)], concurrency=8, actor=DEMO_ACTOR)


def _shape(svc: IntegrationService) -> dict[str, Any]:
    """What the status page, the audit log and the notebooks read of the fleet, without what is random (keys,
    ids, times): statuses, credential kinds, and every org's history in order (a run's checks in any order)."""
    frame = svc.overview()
    fleet = frame[frame.org_slug.str.startswith("org-")]
    kinds = {(r.org_slug, r.provider.value): r.credential_kind for r in svc.credentials()}
    events = svc.events().iloc[::-1]  # oldest first
    events = events[events.org_slug.str.startswith("org-")]
    history: dict[str, list[tuple[Any, ...]]] = {}
    for row in events.itertuples():
        message = re.sub(r"key_[0-9a-f]{16}", "key_ID", str(row.message))
        run = str(row.run_id)[:5] if isinstance(row.run_id, str) else None
        fields = (row.action, row.provider, row.outcome, row.status_before, row.status_after, row.error_code)
        history.setdefault(row.org_slug, []).append((*fields, message, row.actor, run))
    phases = {org: [e[0] for e in rows] for org, rows in history.items()}  # ORG_KEY, then SETUPs, then VALIDATEs
    return {
        "statuses": Counter(zip(fleet.provider, fleet.status, strict=True)),
        "per_org": sorted(zip(fleet.org_slug, fleet.provider, fleet.status, strict=True)),
        "kinds": {k: v for k, v in kinds.items() if k[0].startswith("org-")},
        "history": {org: sorted(rows, key=str) for org, rows in history.items()},
        "phases": {org: [p for i, p in enumerate(seq) if i == 0 or seq[i - 1] != p] for org, seq in phases.items()},
        "runs": events[events.action == "VALIDATE"].run_id.nunique(),
    }


def test_the_batched_fleet_is_the_data_set_the_one_by_one_calls_build(
    local_svc: IntegrationService, tmp_path: Path
) -> None:
    made = seed_fleet(local_svc, FLEET)
    reference = connect(data_dir=tmp_path / "one-by-one")
    _one_by_one(reference, FLEET)
    fast, slow = _shape(local_svc), _shape(reference)
    assert fast == slow
    configured = sum(n for (_, status), n in fast["statuses"].items() if status != "NOT_CONFIGURED")
    assert made["orgs"] == FLEET and made["checked"] == configured
    assert {status for _, status in fast["statuses"]} == {"VALID", "INVALID", "PENDING", "NOT_CONFIGURED"}
    assert all(seq == ["ORG_KEY", "SETUP", "VALIDATE"] for seq in fast["phases"].values())
    assert fast["runs"] == 1  # one bulk run, as the status page's "changes since the last run" reads it
    assert local_svc.reconcile(dry_run=True).drifts == []  # the status cache agrees with the store
    assert local_svc.undecryptable() == []  # every credential was really encrypted, under its own row's data


def test_register_orgs_stores_encrypted_pending_credentials_and_usable_org_keys(
    local_svc: IntegrationService,
) -> None:
    shared = anthropic_key()
    keys = local_svc.register_orgs(
        {"bulk-a": {"openai": openai_key(), Provider.ANTHROPIC: shared}, "bulk-b": {"anthropic": shared}, "bulk-c": {}},
        actor="loader",
    )
    assert sorted(keys) == ["bulk-a", "bulk-b", "bulk-c"]
    assert [local_svc.authenticate(org, key).org_slug for org, key in keys.items()] == list(keys)
    got = local_svc.get_all("bulk-a")
    statuses = {p.value: i.status.value for p, i in got.integrations.items()}
    assert statuses == {"OPENAI": "PENDING", "ANTHROPIC": "PENDING", "GCP": "NOT_CONFIGURED"}
    assert got.warning_details == [] and local_svc.reconcile(dry_run=True).drifts == []
    records = [r for r in local_svc.credentials() if r.org_slug.startswith("bulk-")]
    assert len({r.encrypted_credential for r in records}) == 3  # the shared key sealed once per row
    assert local_svc.undecryptable() == []
    assert local_svc.validate("bulk-b", "anthropic").validation_status.value == "VALID"  # it opens and checks


@pytest.mark.parametrize(
    ("plan", "code"),
    [
        ({"acmecorp": {}, "bulk-new": {}}, "ORG_EXISTS"),  # acmecorp is registered by the fixture
        ({"bulk-new": {}, "bulk-bad": {"openai": "not-a-key"}}, "MALFORMED_CREDENTIAL"),
        ({"bulk-new": {"anthropic": "  "}}, "MALFORMED_CREDENTIAL"),
        ({"Bad Slug!": {}}, "INVALID_ORG_SLUG"),
    ],
)
def test_register_orgs_checks_everything_before_writing_anything(
    local_svc: IntegrationService, plan: dict[str, dict[str, str]], code: str
) -> None:
    before = (local_svc.orgs(), len(local_svc.events()))
    with pytest.raises(IntegrationError) as err:
        local_svc.register_orgs(plan)
    assert err.value.code == code and "not-a-key" not in err.value.message
    if code == "MALFORMED_CREDENTIAL":  # which org and provider, never the key
        assert err.value.message.startswith(("bulk-bad OPENAI: ", "bulk-new ANTHROPIC: ")), err.value.message
    assert (local_svc.orgs(), len(local_svc.events())) == before


def test_a_second_fleet_seed_starts_no_run_and_a_larger_one_checks_only_the_new_orgs(
    local_svc: IntegrationService, tmp_path: Path
) -> None:
    def runs() -> set[str]:
        events = local_svc.events()
        return set(events[events.action == "VALIDATE"].run_id.dropna())

    seed_fleet(local_svc, 5, keys_dir=tmp_path)
    first = runs()
    keys = (tmp_path / "demo-org-keys.txt").read_text()
    assert (tmp_path / "demo-org-keys.txt").stat().st_mode & 0o777 == 0o600
    assert [line.split("\t")[0] for line in keys.splitlines()] == [f"org-{i:05d}" for i in range(5)]
    assert seed_fleet(local_svc, 5, keys_dir=tmp_path) == {"orgs": 0, "checked": 0, "changed": 0}
    assert runs() == first and (tmp_path / "demo-org-keys.txt").read_text() == keys  # nothing new: no run, no key
    more = seed_fleet(local_svc, 7, keys_dir=tmp_path)
    assert more["orgs"] == 2 and more["checked"] == (1 + 5 % 3) + (1 + 6 % 3)  # only org-00005 and org-00006
    assert len(runs() - first) == 1 and len((tmp_path / "demo-org-keys.txt").read_text().splitlines()) == 7
