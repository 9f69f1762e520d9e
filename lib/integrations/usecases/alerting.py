"""A run's alerts: its notices (flips, operator alarms, expiry reminders) as one digest per destination, handed to
the alert sink in Deps (alerts/ port), and ALERT_DELIVERY_FAILED events for a digest that did not arrive.

Tenant-action notices go to their org's webhook, or to the operator's (marked `fallback`) when the org has none;
operator-action ones (our keyring or KMS, our storage, our Google identity, a provider's contract) go to the
operator's. Transient and dark results are never alerted: the verdict keeps the status, the credential keeps the
last error and the events record it. A single re-validation's alert is delivered off the request path."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from datetime import timedelta
from typing import Any

from .. import alerts
from ..alerts import OPERATOR, AlertDelivery, Digest, Notice, NullSink, tenant
from ..deps import Deps
from ..domain import Action, Event, Outcome, make_event, utcnow
from ..errors import Code, IntegrationError
from ..verdict import ProblemClass
from .orgs import require

log = logging.getLogger("integrations")
RUN_EVENTS_WINDOW = timedelta(days=1)  # a run's alarm and reminder events are read back from this far


def digests(deps: Deps, items: list[Notice], source: str, run_id: str | None = None) -> list[Digest]:
    """One digest per tenant org with notices its webhook can take, then one for the operator (its own notices,
    and tenants' that no tenant webhook can take, marked `fallback`). None for a destination not configured."""
    sink = deps.alerts
    by_org: dict[str, list[Notice]] = defaultdict(list)
    operator: list[Notice] = []
    for n in items:
        if n.problem_class != ProblemClass.OPERATOR_ACTION and sink.reaches(tenant(n.org_slug)):
            by_org[n.org_slug].append(n)
        else:
            operator.append(n)
    found = [Digest(destination=tenant(org), source=source, run_id=run_id, items=by_org[org]) for org in sorted(by_org)]
    if operator and sink.reaches(OPERATOR):
        fallback = any(n.problem_class != ProblemClass.OPERATOR_ACTION for n in operator)
        found.append(Digest(destination=OPERATOR, source=source, run_id=run_id, items=operator, fallback=fallback))
    return found


def run_events(deps: Deps, run_id: str) -> list[Event]:
    """The run's alarms (a check that kept its status because our side failed) and expiry reminders, as recorded."""
    wanted = []
    for e in deps.store.events(since=utcnow() - RUN_EVENTS_WINDOW):
        if e.run_id != run_id:
            continue
        if e.action == Action.EXPIRY or (e.action == Action.VALIDATE and e.status_before == e.status_after):
            wanted.append(e)
    return wanted


def failure_events(digest: Digest, delivery: AlertDelivery, actor: str) -> list[Event]:
    """One ALERT event per notice whose digest did not arrive, so each org's history says so."""
    to = f"{delivery.destination} at {delivery.target}" if delivery.destination else delivery.target
    return [
        make_event(
            n.org_slug,
            n.provider,
            Action.ALERT,
            Outcome.FAILED,
            actor,
            credential_id=n.credential_id,
            status_before=n.before,
            status_after=n.after,
            error_code=Code.ALERT_DELIVERY_FAILED,
            message=f"The alert of this {'status change' if n.kind == 'flip' else n.kind} was not delivered to {to} "
            f"after {delivery.attempts} attempt(s) ({delivery.error}).",
            run_id=digest.run_id,
        )
        for n in digest.items
    ]


def _deliver(
    deps: Deps,
    items: list[Notice],
    source: str,
    actor: str,
    run_id: str | None,
    interactive: bool,
    refused: str | None = None,
) -> AlertDelivery | None:
    deliveries: list[AlertDelivery] = []
    for digest in digests(deps, items, source, run_id):
        if refused is None:
            delivery = deps.alerts.deliver(digest, alerts.budget(interactive))
        else:  # not sent at all (the queue was full): recorded as any failed delivery is
            label = digest.destination.label
            delivery = AlertDelivery(
                delivered=False, attempts=1, error=refused, flips=len(digest.items), destination=label
            )
        if delivery.attempts == 0:
            continue
        deliveries.append(delivery)
        if delivery.failed:
            try:
                deps.store.append_events(failure_events(digest, delivery, actor))
            except IntegrationError as exc:
                log.error("could not record the alert delivery failure: %s", exc.code)
    if not deliveries:
        return None
    return deliveries[0] if len(deliveries) == 1 else AlertDelivery.of(deliveries)


def alert(
    deps: Deps,
    before_after: Iterable[Any],
    source: str,
    actor: str = "system",
    run_id: str | None = None,
    interactive: bool = False,
) -> AlertDelivery | None:
    """A run's alerts, end to end: its flips (report rows or Assessments), with the run's alarms and expiry
    reminders read back by `run_id`, as one digest per destination; ALERT_DELIVERY_FAILED events for one that did
    not arrive. None when nothing was due. `interactive`: a single re-validation's budget, not a run's."""
    if isinstance(deps.alerts, NullSink):
        return None
    items = list(before_after)
    if run_id is not None:
        items += run_events(deps, run_id)
    return _deliver(deps, alerts.notices(items), source, actor, run_id, interactive)


class _Background:
    """Single re-validations' alerts, delivered by one background thread in order (started on first use), so the
    API answers without waiting on the webhook; each delivery ends by its hard deadline, so the queue drains."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._queued: set[Future[AlertDelivery | None]] = set()

    def submit(self, deliver: Callable[[str | None], AlertDelivery | None]) -> Future[AlertDelivery | None]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="alert-delivery")
            full = len(self._queued) >= alerts.MAX_QUEUED
            refused = "too many alerts waiting for delivery" if full else None
            future = self._pool.submit(deliver, refused)
            self._queued.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[AlertDelivery | None]) -> None:
        with self._lock:
            self._queued.discard(future)

    def settle(self, timeout_s: float) -> bool:
        """Wait for the queued deliveries (at most `timeout_s`); whether none is left."""
        with self._lock:
            queued = set(self._queued)
        return not wait_all(queued, timeout=timeout_s).not_done


_background = _Background()


def alert_later(
    deps: Deps, checked: Iterable[Any], source: str, actor: str = "system"
) -> Future[AlertDelivery | None] | None:
    """A single re-validation's alert, delivered off the caller's thread (the notices are read now: a flip, an
    alarm, an expiry reminder event). A delivery that fails is recorded as `alert` records it. None when nothing is
    due."""
    items = alerts.notices(checked)
    if not items or not digests(deps, items, source):
        return None
    return _background.submit(lambda refused: _deliver(deps, items, source, actor, None, True, refused))


def settle(timeout_s: float = 30.0) -> bool:
    """Wait for single re-validations' alerts still being delivered (at most `timeout_s`; a process that exits
    waits for them too); whether none is left."""
    return _background.settle(timeout_s)


def signing_secret(deps: Deps, org_slug: str | None = None) -> str:
    """The secret an org's webhook (or, without an org, the operator's) verifies our posts with, to be shown once
    to its owner; CONFIGURATION_ERROR without INTEGRATIONS_ALERT_SIGNING_SECRET. Never logged."""
    destination = OPERATOR if org_slug is None else tenant(require(deps, org_slug))
    secret = deps.alerts.signing_secret(destination)
    if secret is None:
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
            "Alerts are not signed: set INTEGRATIONS_ALERT_SIGNING_SECRET (e.g. `openssl rand -hex 32`) and a "
            "webhook (INTEGRATIONS_ALERT_WEBHOOK_URL, INTEGRATIONS_ORG_ALERT_WEBHOOKS).",
        )
    return secret


def warnings(delivery: AlertDelivery | None) -> list[str]:
    """The result-level warning for a failed delivery, else none."""
    return [delivery.warning()] if delivery is not None and delivery.failed else []
