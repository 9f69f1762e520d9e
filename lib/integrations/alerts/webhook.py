"""The webhook adapter of the alerts port: one signed JSON post per digest, the operator's webhook or the org's.

Delivery is retried with back-off (tenacity) on 429, 5xx and connection errors; no attempt starts after the
budget and every delivery ends by a hard total deadline (deadline_http.py: a receiver trickling its answer cannot
hold it). A failure is returned, never raised. The webhook URL is never logged: only its scheme and host (its path
is a secret), and neither the URL's path nor a signing secret is in a payload, an event or a report.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:  # httpx and tenacity load when an alert is sent, not with the service (a CLI answers at once)
    import httpx
    from tenacity import RetryCallState

from .base import AlertDelivery, Budget, Destination, Digest, body_of, headers_for, signing_secret, webhook_target

log = logging.getLogger("integrations")
MAX_WAIT_S = 10.0  # a 429's Retry-After is honoured up to this


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
        import httpx

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
        import httpx

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


def post(url: str, body: bytes, headers: dict[str, str], budget: Budget, result: AlertDelivery) -> AlertDelivery:
    """Post `body` to `url` within `budget`, counting attempts on `result` (returned, never raised): no attempt
    starts after `budget.budget_s`, and the whole delivery ends within `budget_s + timeout_s` whatever the
    receiver does (a hard deadline on every socket operation)."""
    import httpx
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_before_delay

    from .. import deadline_http

    result.target = webhook_target(url)

    def attempt(client: httpx.Client) -> httpx.Response:
        result.attempts += 1
        response = client.post(url, content=body, headers=headers)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Refused(response.status_code, response.headers.get("retry-after"))
        return response

    deadline = time.monotonic() + budget.budget_s + budget.timeout_s
    retrying = Retrying(
        retry=retry_if_exception_type((httpx.TransportError, _Refused)),
        stop=stop_after_attempt(budget.attempts) | stop_before_delay(budget.budget_s),
        wait=_wait(budget.backoff_s, deadline),
        reraise=True,
    )
    redact, httpx_log = _Redact(url, result.target), logging.getLogger("httpx")
    httpx_log.addFilter(redact)
    try:
        with deadline_http.client(deadline, budget.timeout_s) as client:
            response = retrying(attempt, client)
    except Exception as exc:  # noqa: BLE001 - an alert never fails the run that sent it
        result.error = str(exc) if isinstance(exc, _Refused) else type(exc).__name__  # httpx's may quote the URL
    else:
        if response.is_success:
            result.delivered = True
        else:  # a 4xx other than 429: the URL or the payload is wrong, a retry would not help
            reason = response.text[:60].strip().replace("\n", " ")
            result.error = f"HTTP {response.status_code}" + (f" {reason!r}" if reason.isprintable() and reason else "")
    finally:
        httpx_log.removeFilter(redact)
    if result.failed:
        log.warning(
            "alert to %s not delivered to %s after %d attempt(s): %s",
            result.destination or "operator",
            result.target,
            result.attempts,
            result.error,
        )
    return result


class WebhookSink:
    """Digests to webhooks: the operator's (INTEGRATIONS_ALERT_WEBHOOK_URL) and each org's
    (INTEGRATIONS_ORG_ALERT_WEBHOOKS), signed with the destination's secret derived from
    INTEGRATIONS_ALERT_SIGNING_SECRET. A tenant is reached only with a signing secret (its receiver must be able
    to tell our posts from anyone's); the operator's posts are signed when one is set."""

    def __init__(
        self,
        operator_url: SecretStr | None,
        org_urls: dict[str, SecretStr] | None = None,
        signing_master: SecretStr | None = None,
    ) -> None:
        self._operator = operator_url
        self._orgs = dict(org_urls or {})
        self._master = signing_master

    def _url(self, destination: Destination) -> SecretStr | None:
        if destination.kind == "operator":
            return self._operator
        return self._orgs.get(destination.org_slug or "") if self._master is not None else None

    def reaches(self, destination: Destination) -> bool:
        return self._url(destination) is not None

    def signing_secret(self, destination: Destination) -> str | None:
        if self._master is None:
            return None
        return signing_secret(self._master.get_secret_value().encode(), destination)

    def deliver(self, digest: Digest, budget: Budget) -> AlertDelivery:
        result = AlertDelivery(delivered=False, flips=len(digest.items), destination=digest.destination.label)
        url = self._url(digest.destination)
        if url is None or not digest.items:
            return result
        secret = self.signing_secret(digest.destination)
        body = body_of(digest)
        return post(url.get_secret_value(), body, headers_for(digest, body, secret), budget, result)
