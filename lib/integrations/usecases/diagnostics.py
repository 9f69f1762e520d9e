"""Diagnose one org's integration with a provider: the troubleshooting checks in order. Changes nothing."""

from __future__ import annotations

from ..deps import Deps
from ..domain import Outcome, Provider
from ..errors import Code, IntegrationError
from ..providers.kinds import kind_of
from ..results import DiagnosticStep
from ..verdict import verdict
from . import orgs
from .checks import guarded
from .orgs import require


def _step(name: str, error: IntegrationError | None = None, detail: str = "") -> DiagnosticStep:
    if error is None:
        return DiagnosticStep(name=name, passed=True, detail=detail)
    return DiagnosticStep(name=name, passed=False, detail=error.message, code=error.code, fix=error.hint)


def diagnose(deps: Deps, org_slug: str, provider: Provider | str) -> list[DiagnosticStep]:
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
        org_slug = require(deps, org_slug)
        steps.append(_step(names[0], detail=org_slug))
        live = orgs.live_keys(deps, org_slug)
        if not live:
            raise IntegrationError(
                Code.ORG_API_KEY_INVALID,
                "The org has no live API key; the frontend cannot call "
                "the API. Issue one: `integrations org key rotate ORG`.",
            )
        steps.append(_step(names[1], detail=f"{len(live)} live key(s), newest {live[-1].key_id}"))
        record = deps.store.get_active(org_slug, provider)
        if record is None:
            raise IntegrationError(Code.NOT_CONFIGURED)
        kind = record.credential_kind or kind_of(provider, record.credential_hint)
        kind_label = kind.label if kind else "unknown kind"
        detail = f"{record.credential_hint} ({kind_label}), {record.validation_status.value}"
        steps.append(_step(names[2], detail=detail))
        parsed = deps.vault.open(record)
        steps.append(_step(names[3], detail=f"under {record.key_ref}"))
        metadata, validator = record.metadata, deps.validators[provider]
        result = guarded(lambda: validator.check(parsed, metadata), org_slug)
        if verdict(result, record.validation_status).outcome != Outcome.SUCCESS:
            raise IntegrationError(
                Code(result.error_code or Code.CHECK_FAILED), result.message, retryable=result.retryable
            )
        can = "; ".join(f"{c.name}: {c.status}" for c in result.capabilities)
        steps.append(_step(names[4], detail=f"{result.message} ({can})" if can else result.message))
        org = deps.cache.get_org(org_slug)
        if org is None:
            raise IntegrationError(
                Code.STATUS_CACHE_DRIFT, f"The status cache has no row for {org_slug}. Resync status once it has one."
            )
        cached = org.status_of(provider)
        if cached.status != record.validation_status:
            raise IntegrationError(
                Code.STATUS_CACHE_DRIFT,
                f"The cache says {cached.status.value}, the record says "
                f"{record.validation_status.value}. Resync status to repair it.",
            )
        steps.append(_step(names[5], detail=cached.status.value))
    except IntegrationError as exc:
        steps.append(_step(names[len(steps)], exc))
    steps += [DiagnosticStep(name=n, passed=None, detail="not run") for n in names[len(steps) :]]
    return steps
