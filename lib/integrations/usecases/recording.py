"""Writing down what happened: events in the history, statuses pushed to the status cache."""

from __future__ import annotations

import logging
from datetime import datetime

from ..deps import Deps
from ..domain import Action, Event, Outcome, Provider, Status, make_event
from ..errors import Code, IntegrationError
from ..results import WarningInfo

log = logging.getLogger("integrations")
StatusUpdate = tuple[str, Provider, Status, datetime | None]


def record(deps: Deps, event: Event) -> None:
    """Append an event; a store failure is logged, never raised (the event is a record of an outcome, not it)."""
    try:
        deps.store.append_events([event])
    except IntegrationError as exc:
        log.error("could not append %s event for org=%s: %s", event.action.value, event.org_slug, exc.code)


def _sync_failed(update: StatusUpdate, actor: str, exc: IntegrationError) -> Event:
    """The SYNC failure event of one status the cache did not take."""
    org_slug, provider, status, _ = update
    return make_event(
        org_slug,
        provider,
        Action.SYNC,
        Outcome.FAILED,
        actor,
        status_after=status,
        error_code=Code.STATUS_SYNC_FAILED,
        message=exc.message,
    )


def sync(deps: Deps, updates: list[StatusUpdate], actor: str, checked: bool = False) -> list[WarningInfo]:
    """Push statuses to the cache; a failure is a warning and an event, repaired by reconcile. `checked`: the
    statuses are checks' results, each written only where the cache still shows the checked credential (a delete
    or a rotation that synced meanwhile is never overwritten)."""
    try:
        (deps.cache.set_checked if checked else deps.cache.set_many)(updates)
        return []
    except IntegrationError as exc:
        if len(updates) > 1:  # isolate the failing rows
            return [w for u in updates for w in sync(deps, [u], actor, checked)]
        org_slug, provider, _, _ = updates[0]
        log.warning("status sync failed org=%s provider=%s code=%s", org_slug, provider.value, exc.code)
        record(deps, _sync_failed(updates[0], actor, exc))
        message = f"the status cache was not updated for {org_slug} {provider.value} ({exc.message})"
        return [WarningInfo.of(Code.STATUS_SYNC_FAILED, f"{message}; run `integrations reconcile` to repair it.")]


def sync_batch(
    deps: Deps, updates: list[StatusUpdate], actor: str, run_id: str | None = None, checked: bool = False
) -> list[str]:
    """Push a batch of a run's statuses in one cache write (`checked`: each a compare-and-set, as `sync`). A
    failure is not retried row by row (a cache that is down would cost a request and an event write per row): its
    rows' SYNC failures are appended in one store write, and one warning says how to repair them."""
    try:
        (deps.cache.set_checked if checked else deps.cache.set_many)(updates)
        return []
    except IntegrationError as exc:
        log.warning("status sync failed for %d statuses code=%s", len(updates), exc.code)
        failures = [_sync_failed(update, actor, exc) for update in updates]
        try:
            deps.store.append_events(failures)
        except IntegrationError as err:
            log.error("could not append %d SYNC failure events: %s", len(failures), err.code)
        again = f"`integrations revalidate finalize --run-id {run_id}` again" if run_id else "the run again"
        return [
            f"STATUS_SYNC_FAILED: the status cache was not updated ({exc.message}); the store is correct. Run "
            f"{again} or `integrations reconcile` to sync it."
        ]
