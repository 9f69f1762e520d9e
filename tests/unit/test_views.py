"""The status page's attention queue and charts, and the audit log's column order, from the service's frames."""

from __future__ import annotations

import pandas as pd
from integrations import IntegrationService, Status
from integrations.domain import utcnow
from integrations.views import AGE_BUCKETS, EVENT_COLUMNS, attention_queue, status_mix, validation_ages

from tests.conftest import ORG
from tests.keys import admin_key, anthropic_key, openai_key, service_account_json


def board(svc: IntegrationService) -> pd.DataFrame:
    for slug in ("bad-org", "pending-org", "drift-org", "idle-org"):
        svc.register_org(slug)
    svc.setup(ORG, "openai", openai_key())
    svc.setup(ORG, "gcp", service_account_json("sa@p.iam.gserviceaccount.com"))
    svc.setup("bad-org", "openai", openai_key("revoked"), skip_validation=True)
    svc.validate("bad-org", "openai")
    svc.setup("pending-org", "anthropic", anthropic_key(), skip_validation=True)
    svc.setup("drift-org", "anthropic", anthropic_key())
    svc.cache.set_status("drift-org", "ANTHROPIC", Status.PENDING, None)  # type: ignore[arg-type]
    frame = svc.overview()
    gcp = (frame.org_slug == ORG) & (frame.provider == "GCP")
    return frame.assign(validation_age_days=frame.validation_age_days.mask(gcp, 45.0))  # validated 45 days ago


def test_queue_puts_what_needs_action_first(svc: IntegrationService) -> None:
    queue = attention_queue(board(svc), stale_days=30)
    rows = list(zip(queue.attention.astype(str), queue.org_slug, queue.provider, strict=True))
    assert rows == [
        ("INVALID", "bad-org", "OPENAI"),
        ("Drift", "drift-org", "ANTHROPIC"),
        ("PENDING", "pending-org", "ANTHROPIC"),
        ("Stale", ORG, "GCP"),
        ("OK", ORG, "OPENAI"),
    ]
    invalid = queue.iloc[0]
    assert invalid.error_code == "INVALID_CREDENTIAL" and "new key" in invalid.fix
    assert "reconcile" in queue.iloc[1].fix and "re-validate" in queue.iloc[2].fix
    assert list(queue.columns[:7]) == [
        "attention",
        "org_slug",
        "provider",
        "status",
        "data_status",
        "error_code",
        "fix",
    ]


def test_late_cost_data_is_queued_after_pending_and_before_stale_with_its_column(svc: IntegrationService) -> None:
    svc.register_org("late-org")
    svc.register_org("fresh-org")
    svc.setup("late-org", "anthropic", admin_key("anthropic", "age26h"))
    svc.setup("fresh-org", "anthropic", admin_key("anthropic", "age3h"))
    frame = board(svc)
    assert set(frame.data_status.dropna()) == {"STALE", "FRESH"}  # the overview's column
    queue = attention_queue(frame, stale_days=30)
    rows = list(zip(queue.attention.astype(str), queue.org_slug, queue.data_status, strict=True))
    # after INVALID and Drift (someone must act), before PENDING and Stale: a late export is transient (DATA_STALE)
    assert rows.index(("Data late", "late-org", "STALE")) == 2
    late = queue.iloc[2]
    assert late.problem_class == "transient"
    assert late.status == "VALID" and "cost data is late" in late.fix  # a warning, the credential stays VALID
    assert ("OK", "fresh-org", "FRESH") in rows


def test_the_queue_orders_by_who_must_act_and_shows_the_class_of_the_last_problem(svc: IntegrationService) -> None:
    svc.register_org("throttled-org")
    svc.setup("throttled-org", "openai", openai_key("ratelimited"), skip_validation=True)
    record = svc.store.get_active("throttled-org", "OPENAI")
    svc.store.rows[record.credential_id] = record.model_copy(
        update={
            "validation_status": Status.VALID,
            "validation_error_code": "RATE_LIMITED",
            "last_validated_at": utcnow(),
        }
    )  # VALID, its last check answered 429: the status is kept, the last error shown
    svc.cache.set_status("throttled-org", "OPENAI", Status.VALID, record.created_at)  # type: ignore[arg-type]
    queue = attention_queue(board(svc), stale_days=30, include_unconfigured=True)
    rows = list(zip(queue.problem_class, queue.attention.astype(str), queue.org_slug, strict=True))
    assert rows[:2] == [("tenant_action", "INVALID", "bad-org"), ("operator_action", "Drift", "drift-org")]
    assert rows[2] == ("transient", "OK", "throttled-org"), "a transient problem after those someone must act on"
    assert {r[0] for r in rows[3:]} <= {"", "dark"} and rows[-1][0] == "dark", "not configured last"
    group = {"tenant_action": 0, "operator_action": 0, "transient": 1, "": 2, "dark": 3}
    groups = [group[c] for c in queue.problem_class]
    assert groups == sorted(groups)


def test_not_configured_rows_only_on_request(svc: IntegrationService) -> None:
    frame = board(svc)
    everything = attention_queue(frame, include_unconfigured=True)
    assert len(everything) == len(frame) == 5 * 3
    assert set(everything.attention.astype(str).tail(10)) == {"Not configured"}


def test_age_buckets_include_never_validated(svc: IntegrationService) -> None:
    ages = validation_ages(board(svc))
    assert set(ages.age) == set(AGE_BUCKETS)
    counts = ages.groupby("age")["count"].sum()
    assert counts["never validated"] == 1 and counts["> 30 days"] == 1 and counts["< 1 day"] == 3
    assert counts.sum() == 5  # configured integrations only, each counted once


def test_status_mix_counts_configured_integrations(svc: IntegrationService) -> None:
    mix = status_mix(board(svc)).set_index(["provider", "status"])["count"]
    assert mix[("OPENAI", "VALID")] == 1 and mix[("OPENAI", "INVALID")] == 1 and mix[("ANTHROPIC", "PENDING")] == 1
    assert "NOT_CONFIGURED" not in set(mix.index.get_level_values("status"))


def test_events_read_when_who_what_first(svc: IntegrationService) -> None:
    from integrations.views import events_view

    board(svc)
    view = events_view(svc.events())
    assert list(view.columns) == EVENT_COLUMNS and len(view) == len(svc.events())
