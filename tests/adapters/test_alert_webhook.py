"""Status-flip alerts posted to a real HTTP receiver on loopback, from the real local profile (SQLite, keyring,
sandbox checks): one message per run, never a key or the webhook's path, retries bounded, a delivery failure
recorded as an event and in the report but never a failed run."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from integrations import IntegrationError, IntegrationService, Status, alerts, connect
from integrations.alerts import ATTEMPTS, OPERATOR, Digest, Notice, payload, slack_escape
from integrations.domain import Action, Outcome, Provider
from integrations.settings import Settings
from integrations.taskspec import RunReport, TaskSpec
from integrations.usecases import alerting

from tests.keys import openai_key
from tests.servers import Reply, Seen, refused_url, serve

KEY = "sk-proj-revokedALERTCANARYq7Xv9Lw3Pm8Rt5Yu2Io0AbCdEf"  # the sandbox answers 401: PENDING -> INVALID
SECRET_PATH = "/services/T0001/B0002/WEBHOOKSECRETxyz"
HOSTILE_NAME = "<!channel> <http://evil.example|click> *bold* & co"


def _connect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> IntegrationService:
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "INTEGRATIONS_SANDBOX_OUTAGE"):
        monkeypatch.delenv(var, raising=False)
    svc = connect(data_dir=tmp_path / "data", alert_webhook_url=url + SECRET_PATH, allow_http_endpoints=True)
    svc.register_org("acmecorp")
    svc.register_org("globex")
    svc.setup("acmecorp", "openai", KEY, credential_name=HOSTILE_NAME, skip_validation=True)
    svc.setup("globex", "openai", openai_key(), skip_validation=True)  # PENDING -> VALID
    return svc


def _everything(svc: IntegrationService, caplog: pytest.LogCaptureFixture, *more: object) -> str:
    events = [e.model_dump_json() for e in svc.store.events()]
    return "\n".join([*events, caplog.text, *(json.dumps(m, default=str) for m in more)])


def _assert_no_secret(text: str) -> None:
    assert KEY not in text and KEY[8:] not in text and KEY[-12:] not in text
    assert "WEBHOOKSECRET" not in text and SECRET_PATH not in text


def test_a_run_with_flips_posts_one_alert_with_the_structured_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        report = svc.revalidate_many(actor="nightly")
    assert len(seen) == 1 and seen[0].method == "POST" and seen[0].path == SECRET_PATH
    body = json.loads(seen[0].body)
    assert body["count"] == 2 and body["source"] == "revalidate" and body["mrkdwn"] is False
    flips = {f["org_slug"]: f for f in body["flips"]}
    hint = svc.get_one("acmecorp", "openai").credential_hint
    assert flips["acmecorp"] | {"at": None} == {
        "org_slug": "acmecorp",
        "provider": "OPENAI",
        "before": "PENDING",
        "after": "INVALID",
        "error_code": "INVALID_CREDENTIAL",
        "fix": flips["acmecorp"]["fix"],
        "credential_hint": hint,
        "credential_name": HOSTILE_NAME,  # structured data: as the tenant wrote it
        "credential_id": svc.get_one("acmecorp", "openai").credential_id,
        "at": None,
        "kind": "flip",
        "problem_class": "tenant_action",  # a revoked key: the tenant must act
        "message": None,
    }
    assert body["destination"] == "operator" and body["fallback"] is True, "no tenant webhook: the operator's"
    assert body["classes"] == ["tenant_action"] and seen[0].headers["x-integrations-alert-class"] == "tenant_action"
    assert flips["acmecorp"]["fix"] and hint and hint in body["text"]
    assert (flips["globex"]["before"], flips["globex"]["after"], flips["globex"]["error_code"]) == (
        "PENDING",
        "VALID",
        None,
    )
    assert "acmecorp · OpenAI: PENDING → INVALID [tenant_action] (INVALID_CREDENTIAL)" in body["text"]
    assert report.alert is not None and report.alert.delivered and report.alert.attempts == 1
    assert report.alert.target == url and not report.warnings
    _assert_no_secret(seen[0].body.decode() + _everything(svc, caplog, report.model_dump(mode="json")))


def test_tenant_text_is_not_slack_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        svc.validate("acmecorp", "openai")
        assert alerting.settle(30)  # a single re-validation's alert is delivered in the background
    text = json.loads(seen[0].body)["text"]
    assert "&lt;!channel&gt; &lt;http://evil.example|click&gt; *bold* &amp; co" in text
    assert "<!channel>" not in text and "<http" not in text and "& co" not in text
    assert slack_escape("a&b<c>d") == "a&amp;b&lt;c&gt;d"


def test_a_single_revalidation_that_flips_posts_one_alert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        result = svc.validate("acmecorp", "openai")
        assert alerting.settle(30) and len(seen) == 1 and not result.warnings
        svc.validate("acmecorp", "openai")  # INVALID again: not a flip
        svc.validate("globex", "openai")  # PENDING -> VALID
        assert alerting.settle(30)
    body = [json.loads(s.body) for s in seen]
    assert [(b["source"], b["count"], b["flips"][0]["org_slug"]) for b in body] == [
        ("validate", 1, "acmecorp"),
        ("validate", 1, "globex"),
    ]


def test_no_alert_when_nothing_flips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        svc.revalidate_many()
        assert len(seen) == 1
        report = svc.revalidate_many()  # same answers: no status changes
        assert report.checked == 2 and report.changed == 0 and report.alert is None and len(seen) == 1
    monkeypatch.setenv("INTEGRATIONS_SANDBOX_OUTAGE", "openai")  # inconclusive checks keep the status
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = connect(data_dir=tmp_path / "data", alert_webhook_url=url + SECRET_PATH, allow_http_endpoints=True)
        report = svc.revalidate_many()
    assert report.outcomes == {"INCONCLUSIVE": 2} and report.alert is None and seen == []


def _failed_run(svc: IntegrationService, caplog: pytest.LogCaptureFixture, expected_attempts: int) -> RunReport:
    report = svc.revalidate_many(actor="nightly")
    assert report.checked == 2 and report.changed == 2, "the run itself completed"
    assert svc.get_one("acmecorp", "openai").status == Status.INVALID
    assert report.alert is not None and not report.alert.delivered and report.alert.failed
    assert report.alert.attempts == expected_attempts
    assert [w.split(":")[0] for w in report.warnings] == ["ALERT_DELIVERY_FAILED"]
    events = [e for e in svc.store.events() if e.action == Action.ALERT]
    assert sorted(e.org_slug for e in events) == ["acmecorp", "globex"]
    assert {(e.outcome, e.error_code, e.actor) for e in events} == {
        (Outcome.FAILED, "ALERT_DELIVERY_FAILED", "nightly")
    }
    assert {(e.status_before, e.status_after) for e in events if e.org_slug == "acmecorp"} == {
        (Status.PENDING, Status.INVALID)
    }
    _assert_no_secret(_everything(svc, caplog, report.model_dump(mode="json")))
    changes = svc.run_changes()
    assert changes.attrs["undelivered"] == 2 and len(changes) == 2
    return report


def test_an_unreachable_webhook_leaves_the_run_successful_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = _connect(tmp_path, monkeypatch, refused_url())
    report = _failed_run(svc, caplog, ATTEMPTS)
    assert report.alert is not None and report.alert.error == "ConnectError"


def test_a_500ing_webhook_is_retried_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(lambda _: Reply(500, {"error": "boom"})) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        report = _failed_run(svc, caplog, ATTEMPTS)
        assert len(seen) == ATTEMPTS, "one post and ATTEMPTS - 1 retries, no more"
        assert len({s.body for s in seen}) == 1, "every attempt posts the same single message"
    assert report.alert is not None and report.alert.error == "HTTP 500"


def _flaky(replies: list[Reply]) -> Callable[[Seen], Reply]:
    return lambda _: replies.pop(0) if len(replies) > 1 else replies[0]


@pytest.mark.parametrize(
    "first", [Reply(503, {}), Reply(429, {}, headers={"retry-after": "1"})], ids=["503", "429-retry-after"]
)
def test_a_transient_refusal_is_retried_then_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: Reply
) -> None:
    with serve(_flaky([first, Reply(200, "ok")])) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        result = svc.validate("acmecorp", "openai")
        assert alerting.settle(30)
    assert len(seen) == 2 and not result.warnings
    assert not [e for e in svc.store.events() if e.action == Action.ALERT]


def test_a_4xx_is_not_retried_and_a_single_revalidations_failed_alert_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(lambda _: Reply(404, b"no_service")) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        result = svc.validate("acmecorp", "openai")
        assert alerting.settle(30)
    assert len(seen) == 1 and result.validation_status == Status.INVALID
    [event] = [e for e in svc.store.events() if e.action == Action.ALERT]
    assert (
        event.org_slug == "acmecorp" and event.provider == Provider.OPENAI and "HTTP 404 'no_service'" in event.message
    )
    assert event.error_code == "ALERT_DELIVERY_FAILED"
    _assert_no_secret(_everything(svc, caplog, result.model_dump(mode="json")))


def test_a_hanging_webhook_gets_two_short_attempts_at_most_from_a_single_revalidation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A single re-validation's alert (delivered in the background) gets at most INTERACTIVE_ATTEMPTS posts, none
    started after INTERACTIVE_TIMEOUT_S, not a run's 4 attempts within 30 s (~24 s on a hanging webhook); the
    failure is recorded as an event."""
    monkeypatch.setattr(alerts, "INTERACTIVE_TIMEOUT_S", 0.5)  # the hang outlasts it; the test stays short
    monkeypatch.setattr(alerts, "BACKOFF_S", 0.05)
    with serve(lambda _: Reply(200, "ok", hang_s=1.5)) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        result = svc.validate("acmecorp", "openai")
        assert alerting.settle(30)
        assert len(seen) == 1  # no retry starts once the budget (one attempt's timeout) is spent
    assert result.validation_status == Status.INVALID
    [event] = [e for e in svc.store.events() if e.action == Action.ALERT]
    # the second attempt, if any, starts past the hard deadline and never reaches the receiver (len(seen) == 1)
    assert re.search(r"after [12] attempt\(s\) \((Read|Connect)Timeout\)", event.message or "")
    _assert_no_secret(_everything(svc, caplog, result.model_dump(mode="json")))


@pytest.mark.parametrize("url", ["http://hooks.example.com/x/SECRET1", "ftp://hooks.example.com/SECRET1", "SECRET1"])
def test_the_webhook_must_be_https(url: str) -> None:
    with pytest.raises(IntegrationError) as caught:
        Settings(_env_file=None, alert_webhook_url=url)
    assert caught.value.code == "CONFIGURATION_ERROR" and "SECRET1" not in str(caught.value)
    assert Settings(_env_file=None, alert_webhook_url="https://hooks.slack.com/services/x").alert_webhook_url
    assert "hooks.example" not in repr(Settings(_env_file=None, alert_webhook_url="https://hooks.example.com/s"))


def test_the_text_lists_a_bounded_number_of_flips_and_the_structured_list_all() -> None:
    flips = [
        Notice(org_slug=f"org-{i:03d}", provider=Provider.GCP, before=Status.VALID, after=Status.INVALID)
        for i in range(120)
    ]
    body = payload(Digest(destination=OPERATOR, source="revalidate", run_id="exec-1", items=flips))
    assert len(body["flips"]) == 120 and body["text"].count("\n") == 51 and "and 70 more" in body["text"]
    assert body["run_id"] == "exec-1" and "run exec-1" in body["text"]


def test_a_task_run_alerts_once_at_finalize_and_a_second_finalize_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Tasks stage and post nothing; finalize applies the run and posts its flips as one message, with the run id;
    finalizing the same run again applies nothing and posts nothing."""
    caplog.set_level(logging.DEBUG)
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _connect(tmp_path, monkeypatch, url)
        tasks = [svc.revalidate_task(TaskSpec(run_id="exec-7", index=i, count=2), actor="job") for i in (0, 1)]
        assert seen == [] and sum(t.checked for t in tasks) == 2
        run = svc.finalize_run("exec-7", actor="job")
        again = svc.finalize_run("exec-7", actor="job")
    assert len(seen) == 1 and seen[0].path == SECRET_PATH
    body = json.loads(seen[0].body)
    assert body["run_id"] == "exec-7" and body["count"] == 2
    assert {(f["org_slug"], f["before"], f["after"]) for f in body["flips"]} == {
        ("acmecorp", "PENDING", "INVALID"),
        ("globex", "PENDING", "VALID"),
    }
    assert run.alert is not None and run.alert.delivered and again.applied == 0 and again.alert is None
    _assert_no_secret(_everything(svc, caplog, body, run.model_dump(mode="json")))
