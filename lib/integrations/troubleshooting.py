"""Troubleshooting: the guided walkthroughs and `diagnose`, shared by the console and the notebooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from pydantic import BaseModel

from .domain import Provider, check_slug
from .errors import CATALOG, IntegrationError

if TYPE_CHECKING:
    from .service import IntegrationService


class Walkthrough(BaseModel):
    title: str
    symptom: str
    steps: list[str]
    codes: list[str]


WALKTHROUGHS = [
    Walkthrough(
        title="A key shows INVALID",
        symptom="The status page shows INVALID, or setup says the provider rejected it.",
        steps=[
            "Open Diagnose for the org and provider: it tells whether the stored key decrypts and what the "
            "provider answered now.",
            "INVALID_CREDENTIAL means the provider no longer accepts the key: it was revoked, deleted or belongs "
            "to another account. Create a new key in the provider's console.",
            "Set up the new key (Setup page, or Rotate): the old ciphertext is erased in the same transaction.",
            "If Diagnose says DECRYPTION_FAILED instead, the key cannot be read back: re-enter it the same way.",
        ],
        codes=["INVALID_CREDENTIAL", "DECRYPTION_FAILED", "MALFORMED_CREDENTIAL"],
    ),
    Walkthrough(
        title="Valid key, missing permission",
        symptom="INSUFFICIENT_PERMISSIONS, typically on Google Cloud.",
        steps=[
            "The key is genuine: do not replace it.",
            "Read the checklist in the error: each permission tested (token, datasets, jobs) is marked, the "
            "missing ones are named.",
            "For GCP grant roles/bigquery.dataViewer and roles/bigquery.jobUser to the service account on the "
            "project; for OpenAI give the restricted key the models read scope.",
            "Re-validate: the status returns to VALID without a new setup.",
        ],
        codes=["INSUFFICIENT_PERMISSIONS"],
    ),
    Walkthrough(
        title="The status looks wrong or stale",
        symptom="The frontend shows a status that the console disagrees with, or checks fail with network errors.",
        steps=[
            "The status page's drift column compares the status cache with the system of record.",
            "Resync status (or `integrations reconcile`) rebuilds the cache from the record; it is always safe.",
            "NETWORK_ERROR, PROVIDER_UNAVAILABLE and RATE_LIMITED never change a status: the check was "
            "inconclusive. Retry later; the provider's status page tells about outages.",
            "TOO_MANY_ATTEMPTS: wait a minute; the limit protects against testing stolen keys.",
        ],
        codes=["STATUS_SYNC_FAILED", "NETWORK_ERROR", "PROVIDER_UNAVAILABLE", "RATE_LIMITED", "TOO_MANY_ATTEMPTS"],
    ),
]


class DiagnosticStep(BaseModel):
    name: str
    passed: bool | None  # None: not run because an earlier step failed
    detail: str = ""
    code: str | None = None
    fix: str = ""


def _step(name: str, error: IntegrationError | None = None, detail: str = "") -> DiagnosticStep:
    if error is None:
        return DiagnosticStep(name=name, passed=True, detail=detail)
    return DiagnosticStep(name=name, passed=False, detail=error.message, code=error.code, fix=error.hint)


def diagnose(svc: IntegrationService, org_slug: str, provider: Provider | str) -> list[DiagnosticStep]:
    """Run the checks in order; stop at the first failure and mark the rest as not run. Changes nothing."""
    provider = Provider.parse(provider)
    names = [
        "org exists",
        "org API key issued",
        "integration configured",
        "ciphertext decrypts",
        "live validation",
        "status cache agrees",
    ]
    steps: list[DiagnosticStep] = []
    try:
        org = svc.cache.get_org(check_slug(org_slug))
        if org is None:
            raise IntegrationError("ORG_NOT_FOUND", f"No organization {org_slug!r} in the status cache.")
        steps.append(_step(names[0], detail=org.name or org_slug))
        live = [k for k in svc.store.api_keys(org_slug) if k.revoked_at is None]
        if not live:
            raise IntegrationError(
                "ORG_API_KEY_INVALID",
                "The org has no live API key; the frontend cannot call "
                "the API. Issue one: `integrations org key rotate ORG`.",
            )
        steps.append(_step(names[1], detail=f"{len(live)} live key(s), prefix {live[-1].key_prefix}…"))
        record = svc.store.get_active(org_slug, provider)
        if record is None:
            raise IntegrationError("NOT_CONFIGURED")
        steps.append(_step(names[2], detail=f"{record.credential_hint}, {record.validation_status.value}"))
        parsed = svc.open_stored(record)
        steps.append(_step(names[3], detail=f"under {record.key_ref}"))
        result = svc.validators[provider].check(parsed)
        if result.error_code:
            raise IntegrationError(result.error_code, result.message, retryable=result.retryable)
        steps.append(_step(names[4], detail=result.message))
        cached = org.status_of(provider)
        if cached.status != record.validation_status:
            raise IntegrationError(
                "STATUS_SYNC_FAILED",
                f"The cache says {cached.status.value}, the record says "
                f"{record.validation_status.value}. Resync status to repair it.",
            )
        steps.append(_step(names[5], detail=cached.status.value))
    except IntegrationError as exc:
        steps.append(_step(names[len(steps)], exc))
    steps += [DiagnosticStep(name=n, passed=None, detail="not run") for n in names[len(steps) :]]
    return steps


def search_catalog(query: str = "") -> list[dict[str, object]]:
    """Catalog entries whose code, title, message, causes or fixes mention `query` (case-insensitive)."""
    q = query.strip().lower()
    rows = []
    for e in CATALOG.values():
        text = " ".join([e.code, e.title, e.message, *e.causes, *e.fixes]).lower()
        if q in text:
            rows.append(
                {
                    "code": e.code,
                    "title": e.title,
                    "message": e.message,
                    "causes": list(e.causes),
                    "fixes": list(e.fixes),
                    "retryable": e.retryable,
                    "http_status": e.http_status,
                }
            )
    return rows


def diagnosis_frame(steps: list[DiagnosticStep]) -> pd.DataFrame:
    """The diagnosis as a table: one row per check with its result and fix."""
    icons = {True: "pass", False: "FAIL", None: "not run"}
    return pd.DataFrame(
        [
            {"check": s.name, "result": icons[s.passed], "detail": s.detail, "code": s.code or "", "fix": s.fix}
            for s in steps
        ]
    )


def step(steps: list[DiagnosticStep], name: str) -> pd.DataFrame:
    """One check of a diagnosis, for a walkthrough that explains them one at a time."""
    frame = diagnosis_frame(steps)
    return frame[frame.check == name].reset_index(drop=True)


def explain(steps: list[DiagnosticStep], org_slug: str, provider: Provider | str) -> str:
    """A diagnosis as plain text for people: the verdict, then for a failure its detail, causes and every fix."""
    label = Provider.parse(provider).label
    failed = next((s for s in steps if s.passed is False), None)
    passed = sum(s.passed is True for s in steps)
    if failed is None:
        return f"{org_slug} · {label}: all {passed} checks passed. Nothing to do."
    lines = [
        f"{org_slug} · {label}: {passed} of {len(steps)} checks passed; stopped at '{failed.name}'.",
        "",
        f"{failed.code}: {failed.detail}",
    ]
    entry = CATALOG.get(failed.code or "")
    if entry is not None:
        lines += ["", f"{entry.title}. Likely causes:", *(f"  - {c}" for c in entry.causes), "", "What to do:"]
        lines += [f"  {i}. {f}" for i, f in enumerate(entry.fixes, 1)]
        lines += ["", "This is temporary: retry later." if entry.retryable else "Then run the diagnosis again."]
    return "\n".join(lines)


def guide() -> str:
    """The troubleshooting walkthroughs as plain text."""
    parts = []
    for w in WALKTHROUGHS:
        steps = "\n".join(f"  {i}. {s}" for i, s in enumerate(w.steps, 1))
        parts.append(f"{w.title}\n  When: {w.symptom}\n{steps}\n  Codes: {', '.join(w.codes)}")
    return "\n\n".join(parts)
