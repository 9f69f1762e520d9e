"""Each step of setup, rotate, validate and delete fails in turn: the system of record is unchanged or fully
changed, never half; the only allowed disagreement is status drift, which reconcile removes."""

from __future__ import annotations

import pytest
from integrations import IntegrationError, IntegrationService, Provider
from integrations.crypto.base import aad_for

from tests.fakes import swap
from tests.faults import Faulty
from tests.keys import OPENAI_OK, openai_key
from tests.security.conftest import record

ORG = "acmecorp"
PORTS = {"store": "STORAGE_FAILED", "cipher": "ENCRYPTION_FAILED", "cache": "STATUS_SYNC_FAILED"}
STEPS = [
    ("validator", "check"),
    ("cipher", "encrypt"),
    ("cipher", "decrypt"),
    ("cipher", "fingerprint"),
    ("store", "activate"),
    ("store", "record_validations"),
    ("store", "deactivate"),
    ("store", "append_events"),
    ("cache", "set_many"),
    ("cache", "set_checked"),
]


def snapshot(svc: IntegrationService) -> list[tuple]:
    rows = (
        svc.store._inner.list_credentials(active_only=False)
        if isinstance(svc.store, Faulty)
        else svc.store.list_credentials(active_only=False)
    )
    return sorted((r.credential_id, r.is_active, r.encrypted_credential, r.validation_status, r.key_ref) for r in rows)


def consistent(svc: IntegrationService) -> list[str]:
    """Invariants of the system of record; returns what is broken."""
    problems = []
    rows = svc.store.list_credentials(active_only=False)
    events = {e.credential_id for e in svc.store.events() if e.action.value == "SETUP" and e.credential_id}
    active = [r for r in rows if r.is_active]
    for p in Provider:
        if len([r for r in active if r.org_slug == ORG and r.provider == p]) > 1:
            problems.append(f"two active {p.value} rows")
    for r in rows:
        if not r.is_active and r.encrypted_credential is not None:
            problems.append(f"inactive {r.credential_id} keeps its ciphertext")
        if r.is_active:
            svc.cipher.decrypt(r.encrypted_credential, aad_for(r.org_slug, r.provider.value, r.credential_id))
        if r.credential_id not in events:
            problems.append(f"{r.credential_id} has no SETUP event")
    return problems


def operate(svc: IntegrationService, operation: str) -> None:
    if operation == "setup":
        svc.setup(ORG, "anthropic", "sk-ant-api03-" + "k" * 40)
    elif operation == "rotate":
        svc.setup(ORG, "openai", openai_key())
    elif operation == "validate":
        svc.validate(ORG, "openai")
    else:
        svc.delete(ORG, "openai")


@pytest.mark.parametrize("operation", ["setup", "rotate", "validate", "delete"])
@pytest.mark.parametrize(("port", "method"), STEPS)
def test_a_failing_step_never_leaves_half_a_change(
    local_svc: IntegrationService, operation: str, port: str, method: str
) -> None:
    svc = local_svc
    svc.setup(ORG, "openai", OPENAI_OK)
    before = snapshot(svc)
    if port == "validator":
        for p in Provider:
            svc.validators[p] = Faulty(svc.validators[p], "NETWORK_ERROR", {method})
        wrapper = None
    else:
        attr = {"store": "store", "cipher": "cipher", "cache": "cache"}[port]
        wrapper = Faulty(getattr(svc, attr), PORTS[port], {method})
        swap(svc, **{attr: wrapper})
    try:
        operate(svc, operation)
        outcome = "completed"
    except IntegrationError as exc:
        outcome = f"failed {exc.code}"
    injected = wrapper.injected if wrapper else sum(v.injected for v in svc.validators.values())
    for attr in ("store", "cipher", "cache"):
        if isinstance(getattr(svc, attr), Faulty):
            swap(svc, **{attr: getattr(svc, attr)._inner})
    after = snapshot(svc)
    record("faults injected", injected)
    record("fault scenarios run")
    problems = consistent(svc)
    if outcome.startswith("failed"):
        assert after == before or operation == "validate", f"{outcome} yet the record changed"
    half = bool(problems)
    record("partial states found", int(half))
    assert not problems, problems
    svc.reconcile()
    assert not svc.overview()["drift"].any(), "reconcile left drift"
