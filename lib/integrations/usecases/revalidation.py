"""Bulk re-validation from the console, the CLI or a notebook: a run (runs.py) of one task over the chosen
credentials, which stages its results as it goes and finalizes itself (one apply, one sync, one alert), then
reconciles the status cache. The nightly job runs the same tasks and finalize, split over many processes."""

from __future__ import annotations

import time
import uuid

from ..deps import Deps
from ..domain import Provider, StoredCredential, check_slug
from ..errors import Code, IntegrationError
from ..taskspec import RunReport, TaskSpec
from .checkpool import Progress
from .maintenance import reconcile
from .orgs import registered, require
from .runs import finalize_run, revalidate_task

Target = str | tuple[str, Provider | str]  # a credential id, or an (org_slug, provider) pair


def bulk_run_id() -> str:
    """A console, CLI or notebook run's id: `bulk-` tells its kind in the history (changes.run_kind)."""
    return f"bulk-{uuid.uuid4().hex[:16]}"


def select(active: list[StoredCredential], targets: list[Target]) -> tuple[list[StoredCredential], list[str]]:
    """The active credentials named by `targets` (each once, in target order) and the targets naming none."""
    by_id = {r.credential_id: r for r in active}
    by_pair = {(r.org_slug, r.provider): r for r in active}
    chosen: dict[str, StoredCredential] = {}
    missing: list[str] = []
    for target in targets:
        if isinstance(target, str):
            record, label = by_id.get(target), target
        elif isinstance(target, tuple | list) and len(target) == 2 and isinstance(target[0], str):
            org, provider = check_slug(target[0]), Provider.parse(target[1])
            record, label = by_pair.get((org, provider)), f"{org}/{provider.value}"
        else:
            raise IntegrationError(
                Code.INVALID_INPUT,
                "A target is a credential id or an (org_slug, provider) pair, e.g. ('acme', 'openai').",
            )
        if record is None:
            missing.append(label)
        else:
            chosen.setdefault(record.credential_id, record)
    return list(chosen.values()), missing


def chosen(
    deps: Deps, orgs: list[str] | None, providers: list[Provider | str] | None, targets: list[Target] | None
) -> tuple[list[StoredCredential] | None, list[str]]:
    """The credentials a run checks (targets, or orgs x providers; None: every active one, streamed from the
    store as a nightly task reads its share) and the targets naming none."""
    if targets is not None:
        if orgs is not None or providers:
            raise IntegrationError(Code.INVALID_INPUT, "Give either targets or orgs/providers, not both.")
        return select(deps.store.list_credentials(), targets)
    only = known_orgs(deps, orgs) if orgs is not None else None
    if only is None and not providers:
        return None, []
    wanted = {Provider.parse(p) for p in providers} if providers else set(Provider)
    records = deps.store.list_credentials()
    return [r for r in records if r.provider in wanted and (only is None or r.org_slug in only)], []


def known_orgs(deps: Deps, orgs: list[str]) -> set[str]:
    """The named orgs, each checked before anything runs (INVALID_ORG_SLUG, ORG_NOT_FOUND): a mistyped org is an
    error, not a run of 0. Many orgs (the demo fleet) are looked up in one store query."""
    slugs = [check_slug(org) for org in orgs]
    unknown = set(slugs) - deps.known_orgs
    if len(unknown) > 1:
        deps.known_orgs.update(unknown & set(registered(deps)))
    for slug in slugs:  # in the order given: the first unknown one raises ORG_NOT_FOUND with how to register it
        require(deps, slug)
    return set(slugs)


def revalidate_many(
    deps: Deps,
    orgs: list[str] | None = None,
    providers: list[Provider | str] | None = None,
    concurrency: int = 16,
    progress: Progress | None = None,
    actor: str = "system",
    rates: dict[Provider, float] | None = None,
    max_rate_limit_retries: int = 2,
    targets: list[Target] | None = None,
    run_id: str | None = None,
) -> RunReport:
    """Re-check many stored credentials as a run of one task that finalizes itself: `concurrency` checks at a time
    per provider, an optional rate per provider (checks/s), and a 429 backs off that provider only, then the check
    is retried. `run_id` (a `bulk-` id) names the run up front, so a caller can show it as in progress; one is made
    otherwise. Its events carry the run id; finalizing it again changes nothing."""
    started = time.monotonic()
    run_id = run_id or bulk_run_id()
    records, missing = chosen(deps, orgs, providers, targets)
    task = revalidate_task(
        deps, TaskSpec(run_id=run_id), concurrency, rates, actor, progress, records, max_rate_limit_retries
    )
    report = finalize_run(deps, run_id, actor)
    report.missing, report.backoff_s = missing, task.backoff_s
    report.warnings = task.warnings + report.warnings
    # writers in other processes (the API server, other tasks) may have synced out of order: repair it, within the
    # orgs the run chose (a run of one org does not change, nor report, another org's cache)
    within = set(orgs) if orgs is not None else ({r.org_slug for r in records or []} if targets is not None else None)
    try:
        report.drift_fixed = reconcile(deps, actor=actor, within=within).fixed
    except IntegrationError as exc:
        report.warnings.append(f"{exc.code}: reconcile after the run failed ({exc.message}); run it again.")
    report.duration_s = time.monotonic() - started
    return report
