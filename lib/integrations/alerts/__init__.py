"""Alerts that say who must act: a run's notices as one signed digest per destination, behind a port.

A notice is a status flip (VALID <-> INVALID, PENDING -> VALID or INVALID), an operator alarm (our key material,
storage or Google identity failed: the status is kept) or an expiry reminder (KEY_EXPIRING, once per mark). Each
carries its problem class (verdict.ProblemClass): tenant-action notices go to the org's webhook (or, when the org
has none, to the operator's, marked `fallback`), operator-action ones to the operator's; transient and dark
results are never alerted (they are recorded on the credential and in its events). A single re-validation's alert
is delivered off the request path (usecases/alerting.py). The port is base.py; adapters webhook.py and fake.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..domain import Action, Event, Provider, Status, utcnow
from ..errors import CATALOG
from ..settings import Settings
from ..verdict import ProblemClass, problem_class
from .base import OPERATOR, AlertDelivery, AlertSink, Budget, Digest, Notice, NullSink, payload, slack_escape, tenant
from .webhook import WebhookSink

__all__ = [
    "ATTEMPTS",
    "BACKOFF_S",
    "BUDGET_S",
    "INTERACTIVE_ATTEMPTS",
    "INTERACTIVE_TIMEOUT_S",
    "MAX_QUEUED",
    "OPERATOR",
    "TIMEOUT_S",
    "AlertDelivery",
    "AlertSink",
    "Budget",
    "Digest",
    "Notice",
    "NullSink",
    "WebhookSink",
    "budget",
    "notices",
    "payload",
    "sink_from",
    "slack_escape",
    "tenant",
]

ATTEMPTS = 4  # one post and up to three retries
BACKOFF_S = 0.5  # first wait; doubles each retry (0.5, 1, 2 s), a 429's Retry-After is honoured up to MAX_WAIT_S
BUDGET_S = 30.0  # no retry starts after this long: a run never waits on a webhook for more
TIMEOUT_S = 5.0  # per attempt
# a single re-validation's alert (delivered in the background): 2 attempts of 3 s at most, none started after 3 s
INTERACTIVE_ATTEMPTS, INTERACTIVE_TIMEOUT_S = 2, 3.0
MAX_QUEUED = 256  # single re-validations' alerts waiting for delivery; more are recorded as not delivered


def budget(interactive: bool = False) -> Budget:
    """A run's delivery budget, or a single re-validation's (no retry after one timeout). Read at call time."""
    if interactive:
        return Budget(INTERACTIVE_ATTEMPTS, BACKOFF_S, INTERACTIVE_TIMEOUT_S, INTERACTIVE_TIMEOUT_S)
    return Budget(ATTEMPTS, BACKOFF_S, TIMEOUT_S, BUDGET_S)


def sink_from(settings: Settings) -> AlertSink:
    """The webhook sink the settings describe (bootstrap wires it into Deps); NullSink when nothing is set."""
    orgs = settings.org_alert_webhook_urls()
    if settings.alert_webhook_url is None and not orgs and settings.alert_signing_secret is None:
        return NullSink()
    return WebhookSink(settings.alert_webhook_url, orgs, settings.alert_signing_secret)


def _notice(item: Any, at: datetime) -> Notice | None:
    retryable = False
    message: str | None = None
    code: str | None
    hint: str | None
    if isinstance(item, Event):  # a run's event: an alarm (VALIDATE, status kept) or a reminder (EXPIRY)
        if item.provider is None or item.status_after is None:
            return None
        org, provider, code, message = item.org_slug, item.provider, item.error_code, item.message
        before, after = item.status_before or item.status_after, item.status_after
        hint, name, credential_id = "", None, item.credential_id
        kind = "expiry" if item.action == Action.EXPIRY else "flip" if before != after else "alarm"
        at = item.at
    elif isinstance(item, Mapping):  # a bulk report's `changed` row
        before, after, code = Status(item["before"]), Status(item["after"]), item.get("error_code") or None
        org, provider = str(item["org_slug"]), Provider.parse(item["provider"])
        hint, name, credential_id = item.get("credential_hint"), item.get("credential_name"), item.get("credential_id")
        kind = "flip" if before != after else "alarm"
    else:  # a single check's Assessment: its .record, .after and .result
        record, after, code, retryable = item.record, item.after, item.result.error_code, item.result.retryable
        before, org, provider = record.validation_status, record.org_slug, record.provider
        hint, name, credential_id = record.credential_hint, record.credential_name, record.credential_id
        kind = "flip" if before != after else "alarm"
    found = problem_class(code, retryable)
    if kind == "flip":
        code = None if after == Status.VALID else code
        found = None if after == Status.VALID else found or ProblemClass.TENANT_ACTION
    elif kind == "alarm" and found != ProblemClass.OPERATOR_ACTION:
        return None  # a check that kept its status and is not ours to fix: transient, dark, or already known
    return Notice(
        org_slug=org,
        provider=provider,
        before=before,
        after=Status(after),
        error_code=code,
        fix=CATALOG[code].fixes[0] if code in CATALOG else None,
        credential_hint=hint or "",
        credential_name=name,
        credential_id=credential_id,
        at=at,
        kind=kind,  # type: ignore[arg-type]
        problem_class=found,
        message=message if kind != "flip" else None,
    )


def notices(items: Iterable[Any], at: datetime | None = None) -> list[Notice]:
    """What is worth telling among checked credentials: report rows (dicts with org_slug, provider, before, after,
    error_code, credential_hint...), Assessments or a run's events. Flips and reminders are kept; a result that
    kept its status is kept only when it is an operator's problem (an alarm)."""
    stamp = at or utcnow()
    return [n for n in (_notice(item, stamp) for item in items) if n is not None]
