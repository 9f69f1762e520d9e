"""Alerts when a stored credential's status flips: one Slack-compatible message per run to a webhook.

A flip is a status a re-validation changed (VALID <-> INVALID, PENDING -> VALID or INVALID). An inconclusive
check (timeout, provider 5xx, 429, CHECK_FAILED) and a decryption alarm keep the status, so they are not flips;
setup and delete are an operator's own actions, not flips. The message carries the credential's hint (the same
masked form the console shows), never the key, and the webhook URL is never logged: only its scheme and host.
Delivery is retried with back-off (tenacity) on 429, 5xx and connection errors; no attempt starts after the
budget and every delivery ends by a hard total deadline (deadline_http.py: a receiver trickling its answer cannot
hold it). A failure is returned (and recorded as ALERT_DELIVERY_FAILED events by `alert`), never raised. A single
re-validation's alert is delivered off the request path (`alert_later`), so the caller never waits on a webhook.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from .domain import Action, Event, Outcome, Provider, Status, StoredCredential, make_event, utcnow
from .errors import CATALOG, IntegrationError
from .settings import Settings

if TYPE_CHECKING:  # the store port pulls pandas: not for a process that only posts an alert or parses a command
    import httpx
    from tenacity import RetryCallState

    from . import deadline_http
    from .store.base import IntegrationStore
else:  # a delivery's HTTP client and retries load when an alert is sent, not with the models (the CLI starts at once)
    from .lazy_modules import LazyModule

    httpx, deadline_http = LazyModule("httpx"), LazyModule("integrations.deadline_http")

log = logging.getLogger("integrations")
ATTEMPTS = 4  # one post and up to three retries
BACKOFF_S = 0.5  # first wait; doubles each retry (0.5, 1, 2 s), a 429's Retry-After is honoured up to MAX_WAIT_S
MAX_WAIT_S = 10.0
BUDGET_S = 30.0  # no retry starts after this long: a run never waits on a webhook for more
TIMEOUT_S = 5.0  # per attempt
# a single re-validation's alert (delivered in the background): 2 attempts of 3 s at most, none started after 3 s
INTERACTIVE_ATTEMPTS, INTERACTIVE_TIMEOUT_S = 2, 3.0
MAX_QUEUED = 256  # single re-validations' alerts waiting for delivery; more are recorded as not delivered
TEXT_LINES = 50  # the readable text lists this many flips, then "and N more"; `flips` lists them all


class Flip(BaseModel):
    """One stored credential whose status a check changed. Never holds the key: `credential_hint` is its mask."""

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


class AlertDelivery(BaseModel):
    """What happened to a run's alert. `failed` means it was due and did not arrive: record and show it."""

    delivered: bool
    attempts: int = 0
    error: str | None = None
    flips: int = 0
    target: str = ""  # the webhook's scheme and host only: its path is a secret

    @property
    def failed(self) -> bool:
        return not self.delivered and self.attempts > 0

    def warning(self) -> str:
        """The report line for a failed delivery (catalog code first, then what to do)."""
        return (
            f"ALERT_DELIVERY_FAILED: the alert for {self.flips} status change(s) was not delivered to {self.target} "
            f"after {self.attempts} attempt(s) ({self.error}); {CATALOG['ALERT_DELIVERY_FAILED'].fixes[0]}"
        )


def _fix(code: str | None) -> str | None:
    return CATALOG[code].fixes[0] if code in CATALOG else None


def _flip(item: Any, at: datetime) -> Flip | None:
    if isinstance(item, Mapping):  # a bulk report's `changed` row
        before, after, code = Status(item["before"]), Status(item["after"]), item.get("error_code") or None
        org, provider = str(item["org_slug"]), Provider.parse(item["provider"])
        hint, name, credential_id = item.get("credential_hint"), item.get("credential_name"), item.get("credential_id")
    else:  # (record, after, error_code), or anything with .record, .after and .result (an Assessment)
        record, after, code = (
            (item.record, item.after, item.result.error_code) if hasattr(item, "record") else tuple(item)
        )
        assert isinstance(record, StoredCredential)
        before, org, provider = record.validation_status, record.org_slug, record.provider
        hint, name, credential_id = record.credential_hint, record.credential_name, record.credential_id
    if before == after:
        return None
    code = None if after == Status.VALID else code
    return Flip(
        org_slug=org,
        provider=provider,
        before=before,
        after=Status(after),
        error_code=code,
        fix=_fix(code),
        credential_hint=hint or "",
        credential_name=name,
        credential_id=credential_id,
        at=at,
    )


def flips(before_after: Iterable[Any], at: datetime | None = None) -> list[Flip]:
    """The status changes among checked credentials: report rows (dicts with org_slug, provider, before, after,
    error_code, credential_hint...), (record, after, error_code) tuples or Assessments; unchanged ones dropped."""
    stamp = at or utcnow()
    return [f for f in (_flip(item, stamp) for item in before_after) if f is not None]


def slack_escape(text: str) -> str:
    """Slack's escaping for message text: &, < and > (so tenant text is never a link, mention or markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _line(flip: Flip) -> str:
    parts = [f"• {flip.org_slug} · {flip.provider.label}: {flip.before.value} → {flip.after.value}"]
    if flip.error_code:
        parts.append(f" ({flip.error_code})")
    if flip.credential_hint:
        parts.append(f", credential {flip.credential_hint}")
    if flip.credential_name:
        parts.append(f" “{flip.credential_name}”")
    if flip.fix:
        parts.append(f". Fix: {flip.fix}")
    return slack_escape("".join(parts))


def payload(changes: list[Flip], source: str, run_id: str | None = None) -> dict[str, Any]:
    """The webhook body: Slack's `text` (plain, escaped, `mrkdwn` off) and the structured `flips`."""
    run = f", run {run_id}" if run_id else ""
    head = f"Integrations: {len(changes)} credential status change(s) after {source}{run}"
    lines = [_line(f) for f in changes[:TEXT_LINES]]
    if len(changes) > TEXT_LINES:
        lines.append(f"… and {len(changes) - TEXT_LINES} more (see `flips`)")
    return {
        "text": "\n".join([slack_escape(head), *lines]),
        "mrkdwn": False,
        "source": source,
        "run_id": run_id,
        "count": len(changes),
        "flips": [f.model_dump(mode="json") for f in changes],
    }


def webhook_target(url: str) -> str:
    """scheme://host[:port] of a webhook URL: what logs, events and reports may show of it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


class _Refused(Exception):
    """A retryable answer from the webhook (429 or 5xx)."""

    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.retry_after = retry_after


def _wait(backoff_s: float, deadline: float) -> Any:
    from tenacity.wait import wait_exponential

    exponential = wait_exponential(multiplier=backoff_s, max=MAX_WAIT_S)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        said = getattr(error, "retry_after", None)
        asked = float(said) if isinstance(said, str) and said.strip().isdigit() else 0.0
        wanted = max(float(exponential(state)), min(asked, MAX_WAIT_S))
        return max(0.0, min(wanted, deadline - time.monotonic()))  # never sleep past the delivery's deadline

    return wait


class _Redact(logging.Filter):
    """httpx logs every request's URL at INFO: show the webhook's scheme and host there, never its path. httpx logs
    its own normal form of the URL (host lower-cased, default port dropped, dot segments removed, characters
    percent-encoded), not the configured text: every URL argument to the webhook's host is redacted, whatever its
    form, and so is any text argument that holds the configured URL or the normalised one."""

    def __init__(self, url: str, target: str) -> None:
        super().__init__()
        self.target = target
        self.host: str | None = None
        try:
            normal = httpx.URL(url)
            self.host = normal.host
            self.forms = {url, str(normal)}
        except (httpx.InvalidURL, TypeError, ValueError):
            self.forms = {url}

    def _redacted(self, arg: object) -> object:
        if isinstance(arg, httpx.URL):
            return self.target if self.host is None or arg.host == self.host else arg
        if isinstance(arg, str) and any(form in arg for form in self.forms):
            return self.target
        return arg

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._redacted(a) for a in record.args)
        if isinstance(record.msg, str) and any(form in record.msg for form in self.forms):
            record.msg, record.args = f"(a request to {self.target})", ()
        return True


def _describe(exc: BaseException) -> str:
    # the type only for transport errors: httpx's messages may quote the URL
    return str(exc) if isinstance(exc, _Refused) else type(exc).__name__


def notify(
    changes: list[Flip],
    settings: Settings | None,
    source: str,
    run_id: str | None = None,
    *,
    attempts: int = ATTEMPTS,
    backoff_s: float = BACKOFF_S,
    timeout_s: float = TIMEOUT_S,
    budget_s: float = BUDGET_S,
) -> AlertDelivery:
    """Post one message for a run's flips to INTEGRATIONS_ALERT_WEBHOOK_URL. Nothing is sent (attempts=0) when
    there is no flip or no webhook. No attempt starts after `budget_s`, and the whole delivery ends within
    `budget_s + timeout_s` whatever the receiver does (a hard deadline on every socket operation). Never raises: a
    delivery that fails is returned with `failed` true."""
    secret = settings.alert_webhook_url if settings is not None else None
    if not changes or secret is None:
        return AlertDelivery(delivered=False, flips=len(changes))
    url = secret.get_secret_value()
    result = AlertDelivery(delivered=False, flips=len(changes), target=webhook_target(url))
    body = payload(changes, source, run_id)

    def post(client: httpx.Client) -> httpx.Response:
        result.attempts += 1
        response = client.post(url, json=body)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Refused(response.status_code, response.headers.get("retry-after"))
        return response

    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_before_delay

    deadline = time.monotonic() + budget_s + timeout_s
    retrying = Retrying(
        retry=retry_if_exception_type((httpx.TransportError, _Refused)),
        stop=stop_after_attempt(attempts) | stop_before_delay(budget_s),
        wait=_wait(backoff_s, deadline),
        reraise=True,
    )
    redact, httpx_log = _Redact(url, result.target), logging.getLogger("httpx")
    httpx_log.addFilter(redact)
    try:
        with deadline_http.client(deadline, timeout_s) as client:
            response = retrying(post, client)
    except Exception as exc:  # noqa: BLE001 - an alert never fails the run that sent it
        result.error = _describe(exc)
    else:
        if response.is_success:
            result.delivered = True
        else:  # a 4xx other than 429: the URL or the payload is wrong, a retry would not help
            reason = response.text[:60].strip().replace("\n", " ")
            result.error = f"HTTP {response.status_code}" + (f" {reason!r}" if reason.isprintable() and reason else "")
    finally:
        httpx_log.removeFilter(redact)
    if result.failed:
        log.warning("alert not delivered to %s after %d attempt(s): %s", result.target, result.attempts, result.error)
    return result


def failure_events(changes: list[Flip], delivery: AlertDelivery, actor: str, run_id: str | None = None) -> list[Event]:
    """One ALERT event per flip whose alert did not arrive, so each org's history says so."""
    return [
        make_event(
            f.org_slug,
            f.provider,
            Action.ALERT,
            Outcome.FAILED,
            actor,
            credential_id=f.credential_id,
            status_before=f.before,
            status_after=f.after,
            error_code="ALERT_DELIVERY_FAILED",
            message=f"The alert of this status change was not delivered to {delivery.target} after "
            f"{delivery.attempts} attempt(s) ({delivery.error}).",
            run_id=run_id,
        )
        for f in changes
    ]


def alert(
    store: IntegrationStore,
    settings: Settings | None,
    before_after: Iterable[Any],
    source: str,
    actor: str = "system",
    run_id: str | None = None,
    interactive: bool = False,
) -> AlertDelivery | None:
    """A run's alert, end to end: its flips, one message, and ALERT_DELIVERY_FAILED events when it did not arrive.
    None when nothing was due (no webhook configured, or no status flipped). `interactive`: a single
    re-validation's alert, so INTERACTIVE_ATTEMPTS of INTERACTIVE_TIMEOUT_S at most, not a run's budget."""
    return _deliver(store, settings, flips(before_after), source, actor, run_id, interactive)


def _deliver(
    store: IntegrationStore,
    settings: Settings | None,
    changes: list[Flip],
    source: str,
    actor: str,
    run_id: str | None,
    interactive: bool,
    refused: str | None = None,
) -> AlertDelivery | None:
    quick = (INTERACTIVE_ATTEMPTS, INTERACTIVE_TIMEOUT_S, INTERACTIVE_TIMEOUT_S)  # no retry after one timeout
    attempts, timeout_s, budget_s = quick if interactive else (ATTEMPTS, TIMEOUT_S, BUDGET_S)
    if refused is None:
        delivery = notify(changes, settings, source, run_id, attempts=attempts, timeout_s=timeout_s, budget_s=budget_s)
    else:  # not sent at all (the queue was full): recorded as any failed delivery is
        target = (
            webhook_target(settings.alert_webhook_url.get_secret_value())
            if settings and settings.alert_webhook_url
            else ""
        )
        delivery = AlertDelivery(delivered=False, attempts=1, error=refused, flips=len(changes), target=target)
    if delivery.attempts == 0:
        return None
    if delivery.failed:
        try:
            store.append_events(failure_events(changes, delivery, actor, run_id))
        except IntegrationError as exc:
            log.error("could not record the alert delivery failure: %s", exc.code)
    return delivery


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
            full = len(self._queued) >= MAX_QUEUED
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
    store: IntegrationStore,
    settings: Settings | None,
    before_after: Iterable[Any],
    source: str,
    actor: str = "system",
) -> Future[AlertDelivery | None] | None:
    """A single re-validation's alert, delivered off the caller's thread (the flips are read now). A delivery that
    fails is recorded as ALERT_DELIVERY_FAILED events, as `alert` does. None when nothing is due."""
    changes = flips(before_after)
    if not changes or settings is None or settings.alert_webhook_url is None:
        return None
    return _background.submit(lambda refused: _deliver(store, settings, changes, source, actor, None, True, refused))


def settle(timeout_s: float = 30.0) -> bool:
    """Wait for single re-validations' alerts still being delivered (at most `timeout_s`; a process that exits
    waits for them too); whether none is left."""
    return _background.settle(timeout_s)


def warnings(delivery: AlertDelivery | None) -> list[str]:
    """The result-level warning for a failed delivery, else none."""
    return [delivery.warning()] if delivery is not None and delivery.failed else []
