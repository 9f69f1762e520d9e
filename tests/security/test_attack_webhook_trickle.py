"""Issue 28, N6: a webhook receiver that trickles its answer (a byte at a time, each well within the per-read
timeout) must not hold a delivery past its total deadline, nor a single re-validation at all.

Bounds are generous (seconds of slack over a deadline of ~2 s, against a trickle of 60 s): they prove the deadline,
they do not measure it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from integrations import Status, alerts, connect
from integrations.alerts import OPERATOR, Budget, Digest, Notice
from integrations.domain import Action, Provider
from integrations.settings import Settings
from integrations.usecases import alerting

from tests.keys import openai_key
from tests.security.conftest import record, record_max
from tests.servers import QuietHandler, running

TRICKLE_S = 60.0  # how long the receiver would hold a connection by trickling
SLACK_S = 5.0


@contextmanager
def trickling(every_s: float) -> Iterator[tuple[str, list[float]]]:
    """A receiver that reads the request, then sends its answer one byte every `every_s` for TRICKLE_S."""
    started: list[float] = []
    stop = threading.Event()

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            started.append(time.monotonic())
            answer = b"HTTP/1.1 200 OK\r\nx-pad: " + b"a" * 10_000  # headers that never end
            end = time.monotonic() + TRICKLE_S
            for byte in answer[: int(TRICKLE_S / every_s)]:
                if stop.is_set() or time.monotonic() > end:
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return
                stop.wait(every_s)

    with running(Handler) as url:
        try:
            yield url, started
        finally:
            stop.set()


def _flip() -> Notice:
    return Notice(org_slug="acmecorp", provider=Provider.OPENAI, before=Status.VALID, after=Status.INVALID)


def test_a_trickling_receiver_cannot_hold_a_delivery_past_its_total_deadline() -> None:
    with trickling(every_s=0.3) as (url, started):
        settings = Settings(_env_file=None, alert_webhook_url=f"{url}/hooks/SECRET", allow_http_endpoints=True)
        began = time.monotonic()
        digest = Digest(destination=OPERATOR, source="validate", items=[_flip()])
        delivery = alerts.sink_from(settings).deliver(digest, Budget(2, alerts.BACKOFF_S, 1.0, 1.0))
        took = time.monotonic() - began
    record_max("N6 seconds a trickling webhook held one delivery (deadline 2 s)", round(took, 1))
    assert took < 2.0 + SLACK_S, f"held {took:.1f} s by a receiver trickling for {TRICKLE_S:.0f} s"
    assert delivery.failed and delivery.error == "ReadTimeout" and len(started) == 1


def test_a_single_revalidation_does_not_wait_on_the_webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts, "INTERACTIVE_TIMEOUT_S", 1.0)
    with trickling(every_s=0.3) as (url, started):
        svc = connect(
            Settings(
                _env_file=None,
                data_dir=tmp_path / "data",
                attempts_per_minute=0,
                alert_webhook_url=f"{url}/hooks/SECRET",
                allow_http_endpoints=True,
            )
        )
        svc.register_org("acmecorp")
        svc.setup("acmecorp", "openai", openai_key("revoked"), skip_validation=True)  # PENDING -> INVALID: a flip
        began = time.monotonic()
        result = svc.validate("acmecorp", "openai")
        answered = time.monotonic() - began
        assert alerting.settle(2.0 + SLACK_S), "the background delivery ends by its deadline"
        delivered = time.monotonic() - began
    record_max("N6 seconds a single re-validation waited on a trickling webhook", round(answered, 1))
    assert answered < SLACK_S, "the answer does not wait for the alert"
    assert result.validation_status == Status.INVALID and not result.warnings
    assert delivered < 2.0 + 2 * SLACK_S and len(started) >= 1
    [event] = [e for e in svc.store.events() if e.action == Action.ALERT]
    assert event.error_code == "ALERT_DELIVERY_FAILED" and "ReadTimeout" in (event.message or "")
    assert "SECRET" not in json.dumps([e.model_dump(mode="json") for e in svc.store.events()])
    record("N6 deliveries past their deadline", 0)
