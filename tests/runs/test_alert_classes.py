"""Issue 26, alerts that say who must act, on the real local profile (SQLite, keyring, sandbox checks) with real
HTTP receivers on loopback: the operator's webhook and one tenant's. Three nightly 429s flip nothing and alert
nobody (the last error stays on the credential); one 401 flips to INVALID with exactly one signed tenant alert;
our key material failing is one operator alert and no tenant change; an expiry mark reaches the tenant once."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from integrations import IntegrationService, Provider, Status, connect
from integrations.alerts.base import CLASS_HEADER, SIGNATURE_HEADER, signing_secret, tenant, verify
from integrations.domain import Action, Outcome, make_event, utcnow
from integrations.settings import Settings
from integrations.store.base import ValidationUpdate
from integrations.usecases import alerting

from tests.fakes import swap
from tests.faults import Faulty
from tests.keys import admin_key, openai_key
from tests.servers import Reply, Seen, serve

MASTER = "m" * 24 + "ALERTMASTERSECRET0123456789"
OPS_PATH, TENANT_PATH = "/ops/OPSWEBHOOKSECRET", "/tenant/TENANTWEBHOOKSECRET"


def _service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ops: str, acme: str) -> IntegrationService:
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "INTEGRATIONS_SANDBOX_OUTAGE"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        attempts_per_minute=0,
        alert_webhook_url=ops + OPS_PATH,
        org_alert_webhooks=json.dumps({"acmecorp": acme + TENANT_PATH}),
        alert_signing_secret=MASTER,
        allow_http_endpoints=True,
    )
    svc = connect(settings)
    svc.register_org("acmecorp")
    svc.register_org("globex")
    svc.setup("globex", "openai", openai_key())  # a healthy neighbour: VALID, never alerted
    return svc


def _as_valid(svc: IntegrationService, org: str, key: str) -> str:
    """Store `key` as a credential that was VALID until tonight (what a key revoked or throttled since looks like)."""
    setup = svc.setup(org, "openai", key, skip_validation=True)
    event = make_event(org, Provider.OPENAI, Action.VALIDATE, Outcome.SUCCESS, "test", status_after=Status.VALID)
    svc.store.record_validations(
        [ValidationUpdate(setup.credential_id, Status.VALID, None, None, utcnow(), "test", event)]
    )
    return setup.credential_id


def _nightly(svc: IntegrationService):
    return svc.revalidate_many(actor="nightly", max_rate_limit_retries=0)


def _everything(svc: IntegrationService, *posts: list[Seen]) -> str:
    events = [e.model_dump_json() for e in svc.store.events()]
    return "\n".join([*events, *(p.body.decode() + json.dumps(p.headers) for seen in posts for p in seen)])


def test_three_nightly_429s_flip_nothing_alert_nobody_and_leave_the_last_error_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(lambda _: Reply(200, "ok")) as (ops, to_ops), serve(lambda _: Reply(200, "ok")) as (acme, to_acme):
        svc = _service(tmp_path, monkeypatch, ops, acme)
        credential_id = _as_valid(svc, "acmecorp", openai_key("ratelimited"))
        reports = [_nightly(svc) for _ in range(3)]
    assert [r.alert for r in reports] == [None, None, None] and [r.changes for r in reports] == [[], [], []]
    assert to_ops == [] and to_acme == [], "a transient failure alerts nobody"
    record = svc.store.get_active("acmecorp", Provider.OPENAI)
    assert record is not None and record.validation_status == Status.VALID, "never a flip"
    assert record.validation_error_code == "RATE_LIMITED", "the last error stays visible on the credential"
    checks = [e for e in svc.store.events("acmecorp") if e.action == Action.VALIDATE and e.run_id]
    assert [(e.outcome, e.error_code) for e in checks] == [(Outcome.INCONCLUSIVE, "RATE_LIMITED")] * 3, "recorded"
    assert all(e.credential_id == credential_id for e in checks)


def test_one_401_flips_to_invalid_with_exactly_one_signed_tenant_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(lambda _: Reply(200, "ok")) as (ops, to_ops), serve(lambda _: Reply(200, "ok")) as (acme, to_acme):
        svc = _service(tmp_path, monkeypatch, ops, acme)
        key = openai_key("revoked")
        _as_valid(svc, "acmecorp", key)
        report = _nightly(svc)
        assert _nightly(svc).alert is None, "the next night: already INVALID, nothing new to say"
    assert svc.store.get_active("acmecorp", Provider.OPENAI).validation_status == Status.INVALID
    assert to_ops == [], "the tenant's webhook took it: nothing for the operator"
    [post] = to_acme
    assert post.path == TENANT_PATH and report.alert is not None and report.alert.delivered
    secret = signing_secret(MASTER.encode(), tenant("acmecorp"))
    assert secret == svc.alert_signing_secret("acmecorp"), "the secret the org is shown is the one that signs"
    assert verify(secret, post.headers[SIGNATURE_HEADER.lower()], post.body), "a valid HMAC over timestamp+body"
    assert not verify(
        signing_secret(MASTER.encode(), tenant("globex")), post.headers["x-integrations-signature"], post.body
    )
    assert not verify(secret, post.headers[SIGNATURE_HEADER.lower()], post.body + b" "), "the body is covered"
    body = json.loads(post.body)
    assert (body["destination"], body["org_slug"], body["classes"]) == ("tenant", "acmecorp", ["tenant_action"])
    assert post.headers[CLASS_HEADER.lower()] == "tenant_action"
    [flip] = body["flips"]
    assert (flip["before"], flip["after"], flip["error_code"], flip["problem_class"]) == (
        "VALID",
        "INVALID",
        "INVALID_CREDENTIAL",
        "tenant_action",
    )
    text = _everything(svc, to_acme, to_ops)
    assert key not in text and key[-12:] not in text and MASTER not in text and secret not in text
    assert "WEBHOOKSECRET" not in "\n".join(e.model_dump_json() for e in svc.store.events())


def test_our_key_material_failing_is_one_operator_alert_and_no_tenant_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(lambda _: Reply(200, "ok")) as (ops, to_ops), serve(lambda _: Reply(200, "ok")) as (acme, to_acme):
        svc = _service(tmp_path, monkeypatch, ops, acme)
        svc.setup("acmecorp", "openai", openai_key())
        svc.setup("acmecorp", "anthropic", admin_key("anthropic"))
        before = {(r.org_slug, r.provider): r.validation_status for r in svc.store.list_credentials()}
        swap(svc, cipher=Faulty(svc.cipher, "KMS_KEY_VERSION_UNAVAILABLE", {"decrypt"}))  # our KMS fails every decrypt
        report = _nightly(svc)
    assert to_acme == [], "no tenant hears of our failure"
    assert {(r.org_slug, r.provider): r.validation_status for r in svc.store.list_credentials()} == before
    [post] = to_ops
    body = json.loads(post.body)
    assert (body["destination"], body["classes"], body["flips"], body["fallback"]) == (
        "operator",
        ["operator_action"],
        [],
        False,
    )
    assert {(i["org_slug"], i["kind"], i["error_code"]) for i in body["items"]} == {
        ("acmecorp", "alarm", "KMS_KEY_VERSION_UNAVAILABLE"),
        ("globex", "alarm", "KMS_KEY_VERSION_UNAVAILABLE"),
    } and len(body["items"]) == 3
    assert verify(svc.alert_signing_secret(), post.headers["x-integrations-signature"], post.body)
    assert report.alert is not None and report.alert.delivered and report.changes == []


def test_an_expiry_mark_reaches_the_tenant_digest_once_over_two_nights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(lambda _: Reply(200, "ok")) as (ops, to_ops), serve(lambda _: Reply(200, "ok")) as (acme, to_acme):
        svc = _service(tmp_path, monkeypatch, ops, acme)
        svc.setup("acmecorp", "openai", admin_key("openai", "exp6d"))
        first, second = _nightly(svc), _nightly(svc)
    assert to_ops == [] and first.alert is not None and second.alert is None
    [post] = to_acme
    body = json.loads(post.body)
    [item] = body["items"]
    assert (item["kind"], item["error_code"], item["problem_class"]) == ("expiry", "KEY_EXPIRING", "tenant_action")
    assert "(7-day mark)" in item["message"] and body["flips"] == []
    assert verify(svc.alert_signing_secret("acmecorp"), post.headers["x-integrations-signature"], post.body)


def test_a_tenant_without_a_webhook_falls_back_to_the_operator_and_transient_results_stay_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(lambda _: Reply(200, "ok")) as (ops, to_ops), serve(lambda _: Reply(200, "ok")) as (acme, to_acme):
        svc = _service(tmp_path, monkeypatch, ops, acme)
        svc.register_org("initech")
        _as_valid(svc, "initech", openai_key("revoked"))  # no webhook for initech
        _as_valid(svc, "acmecorp", openai_key("outage"))  # a 5xx: transient
        _nightly(svc)
    assert to_acme == []
    [post] = to_ops
    body = json.loads(post.body)
    assert body["fallback"] is True and [(f["org_slug"], f["after"]) for f in body["flips"]] == [("initech", "INVALID")]


def test_single_revalidations_route_the_same_way_and_nothing_secret_reaches_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(lambda _: Reply(200, "ok")) as (ops, to_ops), serve(lambda _: Reply(200, "ok")) as (acme, to_acme):
        svc = _service(tmp_path, monkeypatch, ops, acme)
        key = openai_key("revoked")
        _as_valid(svc, "acmecorp", key)
        svc.setup("acmecorp", "anthropic", admin_key("anthropic"))
        assert svc.validate("acmecorp", "openai").validation_status == Status.INVALID
        assert alerting.settle(30)
        swap(svc, cipher=Faulty(svc.cipher, "DECRYPTION_FAILED", {"decrypt"}))  # our keyring cannot open the row
        assert svc.validate("acmecorp", "anthropic").validation_status == Status.VALID  # an alarm: status kept
        assert alerting.settle(30)
    [tenant_post] = to_acme
    [ops_post] = to_ops
    assert json.loads(tenant_post.body)["flips"][0]["error_code"] == "INVALID_CREDENTIAL"
    assert [i["kind"] for i in json.loads(ops_post.body)["items"]] == ["alarm"]
    assert verify(svc.alert_signing_secret(), ops_post.headers["x-integrations-signature"], ops_post.body)
    logged = caplog.text
    assert "WEBHOOKSECRET" not in logged and MASTER not in logged and key not in logged
    assert svc.alert_signing_secret("acmecorp") not in logged and svc.alert_signing_secret() not in logged
