"""Issue 15, High 1-2: CPU exhaustion by key size, and non-RSA keys that broke everyone's bulk run."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from integrations import IntegrationService, Provider, Status
from integrations.api import create_app
from integrations.providers import gcp_service_account
from integrations.providers.base import ParsedCredential, Validator
from pydantic import SecretStr

from tests.conftest import fake_service
from tests.keys import openai_key
from tests.security.attacks import count_5xx, huge_rsa_pem, key_file_with, non_rsa_pems, pem, replayed
from tests.security.conftest import record_max

ORG = "acmecorp"
SETUP = f"/api/v1/integrations/{ORG}/gcp/setup"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the private-key loads of the GCP format check (the costly part)."""
    calls: list[int] = []
    for name in ("load_pem_private_key", "load_der_private_key"):  # the format check loads the DER it bounded
        real = getattr(gcp_service_account, name)

        def counted(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            calls.append(1)
            return _real(*args, **kwargs)

        monkeypatch.setattr(gcp_service_account, name, counted)
    return calls


def cpu_of(work: Any) -> tuple[float, Any]:
    started = time.thread_time()
    try:
        outcome = work()
    except Exception as exc:  # noqa: BLE001 - the outcome is asserted by the caller
        outcome = exc
    return time.thread_time() - started, outcome


def test_an_oversized_rsa_key_is_refused_before_it_is_loaded(loads: list[int]) -> None:
    svc = fake_service(attempts_per_minute=0)
    svc.register_org(ORG)
    attack = key_file_with(huge_rsa_pem())
    assert 12_000 < len(attack.encode()) < 16 * 1024  # under the size cap, as in the report
    replayed()
    cpu, outcome = cpu_of(lambda: svc.setup(ORG, "gcp", attack, skip_validation=True))
    assert getattr(outcome, "code", None) == "MALFORMED_CREDENTIAL" and "15636 bits" in outcome.message
    assert loads == []  # refused from the DER length fields: the key was never built
    record_max("CPU seconds for the worst-case key", cpu)
    # the largest key still accepted (4096 bits) is loaded and validated once
    largest = key_file_with(pem(rsa.generate_private_key(65537, 4096)))
    cpu, outcome = cpu_of(lambda: svc.setup(ORG, "gcp", largest, skip_validation=True))
    assert outcome.validation_status == Status.PENDING and loads == [1]
    record_max("CPU seconds for the worst-case key", cpu)


def test_format_checks_count_against_the_per_org_limit_even_when_skipping_validation() -> None:
    svc = fake_service(attempts_per_minute=2)
    key = svc.register_org(ORG)
    client = TestClient(create_app(svc))
    replayed()
    codes = []
    for _ in range(3):
        r = client.post(
            SETUP,
            headers={"X-API-Key": key},
            json={"credential": key_file_with(huge_rsa_pem()), "skip_validation": True},
        )
        count_5xx(r.status_code)
        codes.append((r.status_code, r.json()["error"]["code"]))
    assert codes == [(422, "MALFORMED_CREDENTIAL")] * 2 + [(429, "TOO_MANY_ATTEMPTS")]


class Blocking(Validator):
    """A GCP validator whose format check holds until released: a CPU-heavy check in flight."""

    provider = Provider.GCP

    def __init__(self, inner: Validator) -> None:
        self.inner, self.entered, self.release = inner, threading.Event(), threading.Event()

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        self.entered.set()
        assert self.release.wait(60)
        return self.inner.parse(credential, stored)

    def check(self, credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> Any:
        return self.inner.check(credential, metadata)


def test_a_heavy_check_in_flight_never_blocks_the_server() -> None:
    svc = fake_service(attempts_per_minute=0)
    key = svc.register_org(ORG)
    blocking = Blocking(svc.validators[Provider.GCP])
    svc.validators[Provider.GCP] = blocking
    order: list[str] = []
    replayed()
    with TestClient(create_app(svc)) as client:

        def setup() -> None:
            r = client.post(
                SETUP,
                headers={"X-API-Key": key},
                json={"credential": key_file_with(pem(rsa.generate_private_key(65537, 2048)))},
            )
            count_5xx(r.status_code)
            order.append(f"setup {r.status_code}")

        def health() -> None:
            r = client.get("/healthz")
            order.append(f"healthz {r.status_code}")

        heavy = threading.Thread(target=setup)
        heavy.start()
        assert blocking.entered.wait(30)
        probe = threading.Thread(target=health)
        probe.start()
        probe.join(30)  # a bound for a hung server, not a timing
        finished_while_blocked = not probe.is_alive() and heavy.is_alive()
        blocking.release.set()
        heavy.join(30)
        probe.join(30)
    assert finished_while_blocked and order == ["healthz 200", "setup 200"]


@pytest.mark.parametrize("kind", list(non_rsa_pems()))
def test_non_rsa_keys_are_refused_at_the_format_check(kind: str) -> None:
    svc = fake_service(attempts_per_minute=0)
    key = svc.register_org(ORG)
    client = TestClient(create_app(svc))
    replayed()
    for skip in (False, True):
        credential = key_file_with(non_rsa_pems()[kind])
        r = client.post(SETUP, headers={"X-API-Key": key}, json={"credential": credential, "skip_validation": skip})
        count_5xx(r.status_code)
        assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_CREDENTIAL", r.text
        assert "RSA" in r.json()["error"]["message"]
    assert svc.store.list_credentials(active_only=False) == []


def store_unchecked(svc: IntegrationService, org: str, credential: str) -> None:
    """A GCP key stored before this fix: the format check of that time let it through."""
    validator = svc.validators[Provider.GCP]
    parse = validator.parse
    validator.parse = lambda c, stored=False: ParsedCredential(  # type: ignore[method-assign]
        provider=Provider.GCP, secret=c, hint="legacy"
    )
    try:
        svc.setup(org, "gcp", credential, skip_validation=True)
    finally:
        validator.parse = parse  # type: ignore[method-assign]


def test_one_tenants_bad_key_never_breaks_anyone_elses_run(local_svc: IntegrationService) -> None:
    svc = local_svc
    svc.limiter.per_minute = 0
    for org in ("globex", "initech"):
        svc.register_org(org)
        svc.setup(org, "openai", openai_key(), skip_validation=True)
    store_unchecked(svc, ORG, key_file_with(non_rsa_pems()["EC"]))
    store_unchecked(svc, "globex", key_file_with(pem(rsa.generate_private_key(65537, 2048))))
    svc.validators[Provider.GCP].check = _explode  # type: ignore[method-assign]  # a defect in one check
    replayed()
    report = svc.revalidate_many(concurrency=4)
    assert report.checked == 4 and sum(report.outcomes.values()) == 4  # the run went on
    assert svc.get_one("globex", "openai").status == Status.VALID
    assert svc.get_one("initech", "openai").status == Status.VALID
    ec = svc.get_one(ORG, "gcp")
    assert ec.status == Status.INVALID and ec.error.code == "MALFORMED_CREDENTIAL"  # its own catalog error
    broken = svc.get_one("globex", "gcp")
    assert broken.status == Status.PENDING and broken.error.code == "CHECK_FAILED"
    client = TestClient(create_app(svc))
    api_key = svc.rotate_org_key(ORG)
    r = client.post(f"/api/v1/integrations/{ORG}/gcp/validate", headers={"X-API-Key": api_key})
    count_5xx(r.status_code)
    assert r.status_code == 200 and r.json()["error"]["code"] == "MALFORMED_CREDENTIAL"
    credential = key_file_with(pem(rsa.generate_private_key(65537, 2048)))  # a setup whose check breaks
    r = client.post(
        f"/api/v1/integrations/{ORG}/gcp/setup", headers={"X-API-Key": api_key}, json={"credential": credential}
    )
    count_5xx(r.status_code)
    assert r.status_code == 422 and r.json()["error"]["code"] == "CHECK_FAILED"
    assert svc.get_one(ORG, "gcp").status == Status.INVALID  # nothing stored: the EC row is still there


def _explode(credential: ParsedCredential) -> Any:
    raise TypeError("a check that cannot handle this key")
