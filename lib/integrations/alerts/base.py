"""The alerts port: what a run tells the people who must act, one signed digest per destination.

A run's notices (status flips, operator alarms, expiry reminders) are grouped into digests: one for each tenant
org with something to act on (sent to that org's webhook) and one for the operator. An AlertSink delivers a digest
and says what happened to it (`AlertDelivery`); it never raises. Adapters: webhook.py (HTTP, signed), fake.py (a
recording fake for tests). The contract both keep: tests/contract/test_alert_sink.py.

Signing (documented in README, "Alerts"): every post carries
`X-Integrations-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`, with the secret of
its destination: the operator's, or the org's own (`signing_secret`: HMAC of the master secret and the org's
slug, so one master secret in settings signs for every org and no org can forge another's alerts). The class of
what the digest holds is in `X-Integrations-Alert-Class` and in the body (`classes`, and each item's
`problem_class`). A payload holds masked hints, never a credential, a webhook path or a signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from ..domain import Provider, Status, utcnow
from ..errors import CATALOG
from ..verdict import ProblemClass

SIGNATURE_HEADER = "X-Integrations-Signature"
CLASS_HEADER = "X-Integrations-Alert-Class"
DESTINATION_HEADER = "X-Integrations-Alert-Destination"
SIGNATURE_TOLERANCE_S = 300  # a receiver refuses a signature older (or newer) than this: no replay of old posts
TEXT_LINES = 50  # the readable text lists this many items, then "and N more"; `items` lists them all

Kind = Literal["flip", "alarm", "expiry"]


class Notice(BaseModel):
    """One thing a digest tells: a status flip, an operator alarm (status kept) or an expiry reminder. Never holds
    the key: `credential_hint` is its mask."""

    org_slug: str
    provider: Provider
    before: Status
    after: Status
    error_code: str | None = None
    fix: str | None = None
    credential_hint: str = ""
    credential_name: str | None = None
    credential_id: str | None = None
    at: datetime = Field(default_factory=utcnow)
    kind: Kind = "flip"
    problem_class: ProblemClass | None = None  # None: a recovery (a flip to VALID), nobody needs to act
    message: str | None = None  # an alarm's or a reminder's sentence (written by us, never a provider's text)


class Destination(NamedTuple):
    """Where a digest goes: the operator, or one tenant org."""

    kind: Literal["operator", "tenant"]
    org_slug: str | None = None

    @property
    def label(self) -> str:
        return "operator" if self.kind == "operator" else f"tenant {self.org_slug}"


OPERATOR = Destination("operator")


def tenant(org_slug: str) -> Destination:
    return Destination("tenant", org_slug)


class Digest(BaseModel):
    """A run's notices for one destination: delivered as one message."""

    destination: Destination
    source: str
    run_id: str | None = None
    items: list[Notice]
    fallback: bool = False  # tenant notices sent to the operator because the org has no reachable webhook

    @property
    def classes(self) -> list[str]:
        found = {n.problem_class.value for n in self.items if n.problem_class is not None}
        return sorted(found) or ["dark"]  # recoveries only: informational


class Budget(NamedTuple):
    """How long a delivery may take: attempts, first back-off, per-attempt timeout, no attempt after budget_s."""

    attempts: int
    backoff_s: float
    timeout_s: float
    budget_s: float


class AlertDelivery(BaseModel):
    """What happened to a digest (or, with `deliveries`, to a run's digests). `failed`: due and did not arrive."""

    delivered: bool
    attempts: int = 0
    error: str | None = None
    flips: int = 0  # the notices it carried (the first version carried flips only)
    target: str = ""  # the webhook's scheme and host only: its path is a secret
    destination: str = ""  # "operator" or "tenant SLUG"
    deliveries: list[AlertDelivery] = Field(default_factory=list)  # a run's: one per destination

    @property
    def failed(self) -> bool:
        if self.deliveries:
            return any(d.failed for d in self.deliveries)
        return not self.delivered and self.attempts > 0

    def warning(self) -> str:
        """The report line for a failed delivery (catalog code first, then what to do)."""
        if self.deliveries:
            return " ".join(d.warning() for d in self.deliveries if d.failed)
        to = f"{self.destination} at {self.target}" if self.destination else self.target
        return (
            f"ALERT_DELIVERY_FAILED: the alert for {self.flips} status change(s) was not delivered to {to} "
            f"after {self.attempts} attempt(s) ({self.error}); {CATALOG['ALERT_DELIVERY_FAILED'].fixes[0]}"
        )

    @classmethod
    def of(cls, deliveries: list[AlertDelivery]) -> AlertDelivery:
        """A run's digests as one report entry."""
        failed = [d for d in deliveries if d.failed]
        return cls(
            delivered=not failed,
            attempts=sum(d.attempts for d in deliveries),
            error=failed[0].error if failed else None,
            flips=sum(d.flips for d in deliveries),
            target=", ".join(sorted({d.target for d in deliveries if d.target})),
            deliveries=deliveries,
        )


@runtime_checkable
class AlertSink(Protocol):
    """Delivers digests. `reaches`: whether a destination is configured (a tenant's digest goes to the operator
    when its org cannot be reached). `deliver` never raises and never starts an attempt after the budget."""

    def reaches(self, destination: Destination) -> bool: ...

    def deliver(self, digest: Digest, budget: Budget) -> AlertDelivery: ...

    def signing_secret(self, destination: Destination) -> str | None:
        """The secret the destination verifies posts with (shown once to its owner), None when posts are unsigned."""
        ...


class NullSink:
    """No destination configured: nothing is due, nothing is sent."""

    def reaches(self, destination: Destination) -> bool:
        return False

    def deliver(self, digest: Digest, budget: Budget) -> AlertDelivery:
        return AlertDelivery(delivered=False, flips=len(digest.items), destination=digest.destination.label)

    def signing_secret(self, destination: Destination) -> str | None:
        return None


# --- the message ----------------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's escaping for message text: &, < and > (so tenant text is never a link, mention or markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _line(n: Notice) -> str:
    who = f" [{n.problem_class.value}]" if n.problem_class else ""
    if n.kind == "flip":
        parts = [f"• {n.org_slug} · {n.provider.label}: {n.before.value} → {n.after.value}{who}"]
    else:
        parts = [f"• {n.org_slug} · {n.provider.label}: {n.kind} ({n.after.value}){who}"]
    if n.error_code:
        parts.append(f" ({n.error_code})")
    if n.credential_hint:
        parts.append(f", credential {n.credential_hint}")
    if n.credential_name:
        parts.append(f" “{n.credential_name}”")
    if n.kind != "flip" and n.message:
        parts.append(f". {n.message}")
    if n.fix:
        parts.append(f". Fix: {n.fix}")
    return slack_escape("".join(parts))


def payload(digest: Digest) -> dict[str, Any]:
    """The webhook body: Slack's `text` (plain, escaped, `mrkdwn` off), the structured `items` (and `flips`, the
    status changes among them), the destination and the classes it carries."""
    items, run_id = digest.items, digest.run_id
    flips = [n for n in items if n.kind == "flip"]
    head = f"Integrations for {digest.destination.label}: {len(flips)} credential status change(s)"
    if len(items) > len(flips):
        head += f", {len(items) - len(flips)} other notice(s)"
    head += f" after {digest.source}" + (f", run {run_id}" if run_id else "")
    lines = [_line(n) for n in items[:TEXT_LINES]]
    if len(items) > TEXT_LINES:
        lines.append(f"… and {len(items) - TEXT_LINES} more (see `items`)")
    return {
        "text": "\n".join([slack_escape(head), *lines]),
        "mrkdwn": False,
        "source": digest.source,
        "run_id": run_id,
        "destination": digest.destination.kind,
        "org_slug": digest.destination.org_slug,
        "fallback": digest.fallback,
        "classes": digest.classes,
        "count": len(items),
        "flips": [n.model_dump(mode="json") for n in flips],
        "items": [n.model_dump(mode="json") for n in items],
    }


def body_of(digest: Digest) -> bytes:
    """The exact bytes posted (and signed) for a digest."""
    return json.dumps(payload(digest), separators=(",", ":")).encode()


def webhook_target(url: str) -> str:
    """scheme://host[:port] of a webhook URL: what logs, events and reports may show of it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


# --- signing --------------------------------------------------------------------------------------------------


def signing_secret(master: bytes, destination: Destination) -> str:
    """The secret a destination verifies with: HMAC-SHA256(master, "operator") or (master, "org:<slug>"), hex.
    Shown once to its owner (`integrations alerts secret`), never logged or posted."""
    label = "operator" if destination.kind == "operator" else f"org:{destination.org_slug}"
    return hmac.new(master, f"integrations-alerts:{label}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """A receiver's check of a signature header (what a tenant's endpoint does): the right MAC, within
    SIGNATURE_TOLERANCE_S of now."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > SIGNATURE_TOLERANCE_S:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={fields.get('v1', '')}")


def headers_for(digest: Digest, body: bytes, secret: str | None, now: float | None = None) -> dict[str, str]:
    """The headers of a digest's post: the class and destination always, the signature when a secret is set."""
    headers = {
        "content-type": "application/json",
        CLASS_HEADER: ",".join(digest.classes),
        DESTINATION_HEADER: digest.destination.kind,
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, int(time.time() if now is None else now), body)
    return headers
