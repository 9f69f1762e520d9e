"""The re-validation engine: per-provider thread pools, their concurrency bound and rate, a 429 pausing only its
provider, and one assessment per record of the stream (usecases/checkpool.py)."""

from __future__ import annotations

import threading
import time

import pytest
from integrations import IntegrationService, Provider
from integrations.errors import IntegrationError
from integrations.usecases import checks
from integrations.usecases.checkpool import PoolLimits, retry_after_s, streamed

from tests.conftest import fake_service
from tests.keys import anthropic_key, openai_key


def populated(per_provider: int) -> IntegrationService:
    svc = fake_service()
    for i in range(per_provider):
        svc.register_org(f"org-{i:02d}")
        svc.setup(f"org-{i:02d}", "openai", openai_key(), skip_validation=True)
        svc.setup(f"org-{i:02d}", "anthropic", anthropic_key(), skip_validation=True)
    return svc


def test_each_provider_runs_at_most_its_concurrency_and_every_record_is_assessed_once() -> None:
    svc = populated(12)
    records = svc.store.list_credentials()
    in_flight = {p: 0 for p in Provider}
    peak = {p: 0 for p in Provider}
    lock = threading.Lock()

    def check(record):  # type: ignore[no-untyped-def]
        with lock:
            in_flight[record.provider] += 1
            peak[record.provider] = max(peak[record.provider], in_flight[record.provider])
        time.sleep(0.02)  # held long enough for the pool to fill
        with lock:
            in_flight[record.provider] -= 1
        return checks.assess(svc.deps, record)

    limits = PoolLimits(concurrency={Provider.OPENAI: 3, Provider.ANTHROPIC: 1})
    assessments = list(streamed(iter(records), check, limits, window=10))
    assert sorted(a.record.credential_id for a in assessments) == sorted(r.credential_id for r in records)
    assert peak[Provider.OPENAI] == 3 and peak[Provider.ANTHROPIC] == 1
    assert {a.result.error_code for a in assessments} == {None}
    assert svc.store.list_credentials() == records, "streamed applies nothing"


def test_an_exception_in_a_check_stops_the_run_and_reaches_the_caller() -> None:
    svc = populated(5)

    def check(record):  # type: ignore[no-untyped-def]
        raise IntegrationError("STORAGE_FAILED", "boom")

    with pytest.raises(IntegrationError, match="STORAGE_FAILED"):
        list(streamed(svc.store.list_credentials(), check, PoolLimits.uniform(2)))


@pytest.mark.parametrize(("header", "seconds"), [("2", 2.0), ("0.3", 0.3), ("3600", 60.0), ("soon", 1.0), (None, 1.0)])
def test_retry_after_is_honoured_within_a_cap(header: str | None, seconds: float) -> None:
    assert retry_after_s({} if header is None else {"retry-after": header}) == seconds


def test_an_unexpected_exception_is_that_credentials_check_failed_and_the_run_goes_on() -> None:
    svc = populated(4)
    validator = svc.validators[Provider.OPENAI]
    original = validator.check
    calls = {"n": 0}

    def sometimes_broken(credential, metadata=None):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug in an SDK")
        return original(credential, metadata)

    validator.check = sometimes_broken  # type: ignore[method-assign]
    report = svc.revalidate_many(concurrency=2)
    assert report.checked == 8 and report.errors == {"CHECK_FAILED": 1}
    assert report.outcomes == {"VALID": 7, "INCONCLUSIVE": 1}
