"""Issue 26, data status beside credential status: the Admin keys' cost probe reads the newest non-empty bucket
(the sandbox serves buckets as old as the key's `ageNh` says), freshness.judge places it against the provider's
expected lag, and the credential's validation status never changes with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from integrations import IntegrationService, Provider, Status
from integrations.domain import DataObservation, DataStatus
from integrations.freshness import LAGS, current, judge
from integrations.verdict import failed

from tests.conftest import ORG
from tests.keys import admin_key

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
@pytest.mark.parametrize(
    ("marker", "want", "code"),
    [
        ("age3h", DataStatus.FRESH, None),
        ("age26h", DataStatus.STALE, "DATA_STALE"),
        ("age80h", DataStatus.STALLED, "DATA_STALLED"),
        ("nodata", DataStatus.PENDING_FIRST_DATA, None),
    ],
)
def test_the_newest_cost_bucket_sets_the_data_status(
    svc: IntegrationService, provider: str, marker: str, want: DataStatus, code: str | None
) -> None:
    setup = svc.setup(ORG, provider, admin_key(provider, marker))
    assert setup.validation_status == Status.VALID and setup.data_status == want  # valid whatever the data's age
    validated = svc.validate(ORG, provider)
    assert validated.success and validated.validation_status == Status.VALID and validated.data_status == want
    assert any(code in w for w in validated.warnings) if code else not validated.warnings
    shown = svc.get_one(ORG, provider)
    assert shown.status == Status.VALID and shown.data_status == want
    assert shown.last_success_at is not None
    if want == DataStatus.PENDING_FIRST_DATA:
        assert shown.data_through is None  # no data is no day, never $0
    else:
        hours = int(marker.removeprefix("age").removesuffix("h"))
        assert shown.data_through == (datetime.now(UTC) - timedelta(hours=hours + 24)).date()
    rest = svc.get_all(ORG).model_dump(mode="json")["integrations"][Provider.parse(provider).value]
    assert rest["data_status"] == want.value and "last_success_at" in rest


def test_inference_keys_have_no_data_status(svc: IntegrationService) -> None:
    from tests.keys import OPENAI_OK

    svc.setup(ORG, "openai", OPENAI_OK)
    assert svc.get_one(ORG, "openai").data_status is None
    assert "data_status" in svc.get_all(ORG).model_dump(mode="json")["integrations"]["OPENAI"]


def test_rate_limited_nights_keep_the_data_status_and_the_credential(
    svc: IntegrationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc.setup(ORG, "anthropic", admin_key("anthropic", "age3h"))
    before = svc.get_one(ORG, "anthropic")
    limited = failed("RATE_LIMITED", "Anthropic is rate-limiting this key (429).", retryable=True)
    monkeypatch.setattr(svc.deps.validators[Provider.ANTHROPIC], "check", lambda *a, **k: limited)
    for _night in range(3):
        result = svc.validate(ORG, "anthropic")
        assert result.validation_status == Status.VALID and result.data_status is None  # not read this time
    after = svc.get_one(ORG, "anthropic")
    assert (after.status, after.data_status, after.data_through, after.last_success_at) == (
        Status.VALID,
        DataStatus.FRESH,
        before.data_through,
        before.last_success_at,
    )


def test_judge_against_the_expected_lag() -> None:
    lag = LAGS[Provider.ANTHROPIC]
    seen = DataObservation(source="cost report", newest_at=NOW - timedelta(hours=3))
    assert judge(Provider.ANTHROPIC, seen, NOW).data_status == DataStatus.FRESH
    late = judge(Provider.ANTHROPIC, seen.model_copy(update={"newest_at": NOW - timedelta(hours=26)}), NOW)
    assert late.data_status == DataStatus.STALE and late.error_code == "DATA_STALE" and "26 h old" in late.message
    future = judge(Provider.OPENAI, seen.model_copy(update={"newest_at": NOW + timedelta(hours=5)}), NOW)
    assert future.data_status == DataStatus.FRESH and future.data_newest_at == NOW  # never after now
    assert lag.stale < lag.stalled


def test_data_that_stops_arriving_ages_rather_than_reading_as_pending(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", admin_key("openai", "age3h"))
    before = svc.store.get_active(ORG, Provider.OPENAI)
    empty = DataObservation(source="cost report")  # the window now holds nothing
    later = judge(Provider.OPENAI, empty, before.data_newest_at + timedelta(hours=30), before)
    assert later.data_status == DataStatus.STALE and later.data_through == before.data_through
    never = judge(Provider.GCP, DataObservation(source="export table", since=NOW - timedelta(hours=10)), NOW)
    assert never.data_status == DataStatus.PENDING_FIRST_DATA and never.error_code is None  # a new table
    gave_up = judge(Provider.GCP, DataObservation(source="export table", since=NOW - timedelta(days=6)), NOW)
    assert gave_up.data_status == DataStatus.STALLED


def test_a_stored_status_ages_when_read(svc: IntegrationService) -> None:
    svc.setup(ORG, "anthropic", admin_key("anthropic", "age3h"))
    row = svc.store.get_active(ORG, Provider.ANTHROPIC)
    assert current(row, datetime.now(UTC)) == DataStatus.FRESH
    assert current(row, datetime.now(UTC) + timedelta(hours=30)) == DataStatus.STALE  # not re-checked since
