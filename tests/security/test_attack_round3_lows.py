"""Issue 28, Lows N10 and N13, and two left from round 2: provider text that cannot be encoded, the webhook's path
in httpx's log, the org key's characters in the audit actor, bidi overrides in names."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationService, Provider, Status
from integrations.api import create_app
from integrations.providers.openai_keys import OpenAIValidator

from tests.security.attacks import count_5xx, replayed
from tests.servers import Reply, Seen, serve

ORG = "acmecorp"
SURROGATE_KEY = "sk-proj-Surrogate0000000000000000000000000000000000"
GOOD_KEY = "sk-proj-Answered0000000000000000000000000000000000"


def provider_route(seen: Seen) -> Reply:
    """An OpenAI-compatible server: a lone surrogate (valid JSON: "\\ud800") in its message for one key."""
    if SURROGATE_KEY in seen.headers.get("authorization", ""):
        message = "Incorrect API key \ud800 provided\x1b[2J"
        return Reply(401, {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}})
    return Reply(200, {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]})


def test_a_lone_surrogate_from_a_provider_is_a_json_answer_and_never_stops_a_run(
    local_svc: IntegrationService,
) -> None:
    """N10: the message gave a plain-text 500 and aborted the bulk run for every org."""
    svc = local_svc
    svc.limiter.per_minute = 0
    keys = {ORG: svc.rotate_org_key(ORG)} | {org: svc.register_org(org) for org in ("globex", "initech")}
    replayed()
    with serve(provider_route) as (url, _seen):
        svc.validators[Provider.OPENAI] = OpenAIValidator(f"{url}/v1", timeout=5)
        client = TestClient(create_app(svc), raise_server_exceptions=False)
        r = client.post(
            f"/api/v1/integrations/{ORG}/openai/setup",
            headers={"X-API-Key": keys[ORG]},
            json={"credential": SURROGATE_KEY},
        )
        count_5xx(r.status_code)
        assert r.headers["content-type"] == "application/json" and r.status_code < 500, r.text
        assert r.json()["error"]["code"] == "INVALID_CREDENTIAL" and "\ufffd" in r.json()["error"]["message"]
        assert "\x1b" not in r.text
        svc.setup(ORG, "openai", SURROGATE_KEY, skip_validation=True)
        for org in ("globex", "initech"):
            svc.setup(org, "openai", GOOD_KEY, skip_validation=True)
        report = svc.revalidate_many(concurrency=4)
        r = client.post(f"/api/v1/integrations/{ORG}/openai/validate", headers={"X-API-Key": keys[ORG]})
        count_5xx(r.status_code)
        assert r.status_code == 200 and r.json()["error"]["code"] == "INVALID_CREDENTIAL"
    assert report.checked == 3 and report.outcomes.get("VALID") == 2, report
    assert [svc.get_one(o, "openai").status for o in ("globex", "initech")] == [Status.VALID] * 2
    failed = svc.get_one(ORG, "openai")
    assert failed.status == Status.INVALID and "\ufffd" in failed.error.message
    json.dumps(svc.events(ORG).to_dict(orient="records"), default=str).encode()  # the history is encodable


WEBHOOK_PATHS = {
    "upper-case scheme and host": ("HTTP://LOCALHOST:{port}", "/services/T0001/B0002/WEBHOOKSECRETxyz"),
    "dot segments": ("http://127.0.0.1:{port}", "/services/./T0001/../T0001/B0002/WEBHOOKSECRETxyz"),
    "characters httpx percent-encodes": ("http://127.0.0.1:{port}", "/services/T0001/B0002/WEBHOOKSECRETxyz|é ^"),
    "query string": ("http://127.0.0.1:{port}", "/services/T0001?token=WEBHOOKSECRETxyz"),
}


@pytest.mark.parametrize("form", list(WEBHOOK_PATHS))
def test_the_webhook_path_never_reaches_a_log_whatever_its_form(caplog: pytest.LogCaptureFixture, form: str) -> None:
    """N13: httpx logs its normal form of the URL at INFO; the redaction compared the configured text only."""
    from integrations.alerts import OPERATOR, Digest, Notice, budget, sink_from
    from integrations.settings import Settings

    caplog.set_level(logging.DEBUG)  # every logger: httpx's INFO line, httpcore's DEBUG lines
    replayed()
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        base, path = WEBHOOK_PATHS[form]
        webhook = base.format(port=url.rsplit(":", 1)[1]) + path
        settings = Settings(_env_file=None, alert_webhook_url=webhook, allow_http_endpoints=True)
        flip = Notice(org_slug=ORG, provider=Provider.OPENAI, before=Status.VALID, after=Status.INVALID)
        delivery = sink_from(settings).deliver(Digest(destination=OPERATOR, source="test", items=[flip]), budget())
    assert delivery.delivered and len(seen) == 1 and "WEBHOOKSECRET" in seen[0].path  # it did go there
    assert any(r.name == "httpx" for r in caplog.records)  # httpx did log the request ...
    assert "WEBHOOKSECRET" not in caplog.text and "T0001" not in caplog.text  # ... without its path
    assert "/services" not in caplog.text


def test_no_character_of_an_org_key_is_in_the_audit_trail(local_svc: IntegrationService) -> None:
    """Left from round 2: the REST actor (`api:<prefix>`) carried 4 characters of the org key's random part."""
    svc = local_svc
    svc.limiter.per_minute = 0
    key = svc.rotate_org_key(ORG)
    random_part = key.split("_api_", 1)[1]
    client = TestClient(create_app(svc))
    replayed()
    r = client.post(
        f"/api/v1/integrations/{ORG}/openai/setup",
        headers={"X-API-Key": key},
        json={"credential": GOOD_KEY, "skip_validation": True},
    )
    count_5xx(r.status_code)
    assert r.status_code == 200
    events = svc.store.events(ORG)
    actors = {e.actor for e in events}
    assert any(a.startswith("api:key_") for a in actors)  # named by the key's id, a fingerprint of its hash
    steps = svc.diagnose(ORG, "openai")
    shown = [*actors, *(e.message or "" for e in events), *(s.detail or "" for s in steps)]
    shown += [k.key_prefix for k in svc.store.api_keys(ORG)]
    assert all(random_part[:4] not in text for text in shown), shown


BIDI = ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"]


@pytest.mark.parametrize("control", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_bidi_controls_in_names_are_refused_at_input(local_svc: IntegrationService, control: str) -> None:
    """Left from round 2: "invoice\\u202eexe.pdf" was stored and shown as "invoicefdp.exe"."""
    from integrations import IntegrationError

    svc = local_svc
    svc.limiter.per_minute = 0
    key = svc.rotate_org_key(ORG)
    client = TestClient(create_app(svc))
    replayed()
    hostile = f"prod{control}yek-nepo"
    for body in (
        {"credential": GOOD_KEY, "credential_name": hostile, "skip_validation": True},
        {"credential": GOOD_KEY, "metadata": {hostile: "x"}, "skip_validation": True},
    ):
        r = client.post(f"/api/v1/integrations/{ORG}/openai/setup", headers={"X-API-Key": key}, json=body)
        count_5xx(r.status_code)
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_INPUT", r.text
        assert "bidirectional" in r.json()["error"]["message"] and control not in r.text
    with pytest.raises(IntegrationError) as caught:
        svc.register_org("bidi-org", name=f"Acme {control}Corp")
    assert caught.value.code == "INVALID_INPUT" and "U+202E" in caught.value.message
    with pytest.raises(IntegrationError):
        svc.setup(ORG, "openai", GOOD_KEY, credential_name=hostile, skip_validation=True)
    assert svc.store.list_credentials(active_only=False) == [] and svc.store.api_keys("bidi-org") == []
    assert svc.setup(ORG, "openai", GOOD_KEY, credential_name="prod (عربي) key", skip_validation=True).success
