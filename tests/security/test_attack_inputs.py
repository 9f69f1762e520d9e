"""Issue 15, Low 7-12: hostile input is a 4xx in the documented shape; the scrubber removes every fragment; the
project id cannot steer a URL; only the providers' documented answers are VALID; no planted .env is read."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from integrations import Status, connect
from integrations.api import create_app
from integrations.errors import IntegrationError
from integrations.providers.gcp_service_account import GcpValidator
from integrations.providers.openai_keys import OpenAIValidator
from integrations.providers.scrub import scrub
from integrations.settings import Settings
from pydantic import SecretStr

from tests.conftest import fake_service
from tests.keys import OPENAI_OK, service_account_json
from tests.security.attacks import count_5xx, replayed
from tests.security.conftest import record_max
from tests.servers import Reply, Seen, serve

ORG = "acmecorp"
SETUP = f"/api/v1/integrations/{ORG}/gcp/setup"
ERROR_KEYS = {"code", "message", "retryable", "hint"}
HUGE = "9" * 5000
SA = json.loads(service_account_json("sa@acme-prod.iam.gserviceaccount.com", "acme-prod"))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def api() -> tuple[TestClient, dict[str, str]]:
    svc = fake_service(attempts_per_minute=0)
    return TestClient(create_app(svc)), {"X-API-Key": svc.register_org(ORG), "Content-Type": "application/json"}


HOSTILE_BODIES = {
    "huge int in metadata": '{"credential": "sk-proj-' + "a" * 30 + '", "metadata": {"n": ' + HUGE + "}}",
    "huge int in the key file": json.dumps({"credential": json.dumps(SA)[:-1] + ', "client_id": ' + HUGE + "}"}),
    "lone surrogate in the key file": json.dumps({"credential": json.dumps(SA | {"client_email": "a\ud800@x.com"})}),
    "lone surrogate in the name": json.dumps({"credential": json.dumps(SA), "credential_name": "prod \udfff"}),
    "lone surrogate in metadata": json.dumps({"credential": json.dumps(SA), "metadata": {"env": "\ud83d"}}),
    "control codes in the name": json.dumps({"credential": json.dumps(SA), "credential_name": "\x1b]8;;http://x\x07"}),
    "skip_validation as text": json.dumps({"credential": json.dumps(SA), "skip_validation": "yes"}),
    "skip_validation as a number": json.dumps({"credential": json.dumps(SA), "skip_validation": 1}),
}


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_hostile_input_is_a_4xx_in_the_documented_shape(api, case: str) -> None:
    client, headers = api
    replayed()
    r = client.post(SETUP, headers=headers, content=HOSTILE_BODIES[case].encode("utf-8", "surrogatepass"))
    count_5xx(r.status_code)
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    assert body["success"] is False and set(body["error"]) == ERROR_KEYS
    assert client.get(f"/api/v1/integrations/{ORG}", headers=headers).json()["providers_configured"] == []


def test_the_per_org_limit_holds_right_after_a_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTEGRATIONS_ATTEMPTS_PER_MINUTE", "3")
    api_key = connect(data_dir=tmp_path).register_org(ORG)
    client = TestClient(create_app())  # no lifespan run: the first requests race to build the service
    gate = threading.Barrier(12)
    replayed()

    def attempt(_: int) -> int:
        gate.wait()
        r = client.post(
            f"/api/v1/integrations/{ORG}/openai/setup",
            headers={"X-API-Key": api_key},
            json={"credential": OPENAI_OK, "skip_validation": True},
        )
        count_5xx(r.status_code)
        return r.status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(attempt, range(12)))
    assert sorted(codes) == [200] * 3 + [429] * 9


def test_the_scrubber_removes_every_fragment_and_stays_linear() -> None:
    key = "sk-proj-Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
    half1, half2 = key[8:26], key[26:]
    replayed()
    text = f"Key {half1}/{half2} rejected; also {key[10:19]} and {key[-4:]} for project acme-prod"
    cleaned = scrub(text, [key])
    assert half1 not in cleaned and half2 not in cleaned and key[10:19] not in cleaned
    assert all(key[i : i + 8] not in cleaned for i in range(len(key) - 7))
    assert cleaned.endswith("for project acme-prod")  # plain words stay readable
    secret = json.dumps(SA)  # a whole key file as the secret, and a chosen 16 KiB message
    hostile = ("aB3" * 6000)[:16384]
    started = __import__("time").thread_time()
    scrub(hostile, [secret, SA["private_key"]])
    record_max("scrubber CPU seconds for a hostile 16 KiB message", __import__("time").thread_time() - started)


@pytest.mark.parametrize("project", ["../../projects/victim", "a/b", "proj?x=1", "acme%2fprod", "ACME-PROD", "ab"])
def test_a_project_id_cannot_steer_the_bigquery_url(project: str) -> None:
    validator = GcpValidator("https://oauth2.googleapis.com/token", "https://bigquery.googleapis.com/bigquery/v2", 1)
    replayed()
    with pytest.raises(IntegrationError) as err:
        validator.parse(SecretStr(json.dumps(SA | {"project_id": project})))
    assert err.value.code == "MALFORMED_CREDENTIAL" and "project_id" in err.value.message


CRM_DISABLED = Reply(
    403,
    {
        "error": {
            "code": 403,
            "message": "Cloud Resource Manager API has not been used in project 123 before or it is disabled.",
            "status": "PERMISSION_DENIED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}],
        }
    },
)


def google_route(answer: Reply, where: str) -> object:
    def route(seen: Seen) -> Reply:
        if seen.path == "/token":
            return Reply(200, {"access_token": "ya29.local", "expires_in": 3599, "token_type": "Bearer"})
        if seen.path.startswith("/crm/"):
            return answer if where == "testIamPermissions" else CRM_DISABLED
        return answer

    return route


@pytest.mark.parametrize("where", ["testIamPermissions", "BigQuery fallback probe"])
@pytest.mark.parametrize(
    "answer",
    [Reply(200, PNG, {"content-type": "image/png"}), Reply(302, b"", {"location": "http://127.0.0.1:9/elsewhere"})],
    ids=["png", "redirect"],
)
def test_only_googles_documented_json_is_valid(answer: Reply, where: str) -> None:
    key = json.dumps(SA | {"project_id": "example.com:acme-prod"})
    replayed()
    with serve(google_route(answer, where)) as (url, seen):
        validator = GcpValidator(f"{url}/token", f"{url}/bigquery/v2", timeout=2, resource_manager_url=f"{url}/crm")
        result = validator.check(validator.parse(SecretStr(key)))
    assert result.status != Status.VALID and result.error_code == "PROVIDER_UNAVAILABLE" and result.retryable
    assert seen[1].path == "/crm/projects/example.com%3Aacme-prod:testIamPermissions"  # every segment quoted
    if where == "testIamPermissions":
        assert len(seen) == 2  # the redirect was not followed
    else:
        assert seen[2].path.startswith("/bigquery/v2/projects/example.com%3Aacme-prod/") and len(seen) == 3


@pytest.mark.parametrize("answer", ["png", "redirect"])
def test_only_the_providers_documented_model_list_is_valid(answer: str) -> None:
    replayed()
    with serve(lambda _: Reply(200, {"object": "list", "data": []})) as (elsewhere, followed):
        reply = (
            Reply(200, PNG, {"content-type": "image/png"})
            if answer == "png"
            else Reply(307, b"", {"location": f"{elsewhere}/v1/models"})
        )
        with serve(lambda _: reply) as (url, _seen):
            result = OpenAIValidator(f"{url}/v1", timeout=2).check(
                OpenAIValidator(f"{url}/v1", 2).parse(SecretStr(OPENAI_OK))
            )
    assert result.status != Status.VALID and result.error_code == "PROVIDER_UNAVAILABLE" and result.retryable
    assert followed == []  # the key never went to the redirect's target


def test_a_planted_env_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTEGRATIONS_ENV_FILE", raising=False)
    monkeypatch.delenv("INTEGRATIONS_OPENAI_BASE_URL", raising=False)
    (tmp_path / ".env").write_text("INTEGRATIONS_OPENAI_BASE_URL=https://collector.example/v1\n")
    monkeypatch.chdir(tmp_path)
    replayed()
    assert Settings().openai_base_url == "https://api.openai.com/v1"
    monkeypatch.setenv("INTEGRATIONS_ENV_FILE", str(tmp_path / ".env"))  # named explicitly: read
    assert Settings().openai_base_url == "https://collector.example/v1"


def test_live_endpoints_must_be_https_and_a_changed_one_is_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    replayed()
    with pytest.raises(IntegrationError) as err:
        Settings(_env_file=None, validation="live", anthropic_base_url="http://collector.example")
    assert err.value.code == "CONFIGURATION_ERROR" and "INTEGRATIONS_ANTHROPIC_BASE_URL" in err.value.message
    allowed = Settings(
        _env_file=None, validation="live", anthropic_base_url="http://127.0.0.1:9", allow_http_endpoints=True
    )
    assert allowed.anthropic_base_url == "http://127.0.0.1:9"
    with caplog.at_level(logging.WARNING, logger="integrations"):
        connect(Settings(_env_file=None, data_dir=tmp_path, openai_base_url="https://proxy.internal/v1"))
    assert "INTEGRATIONS_OPENAI_BASE_URL=https://proxy.internal/v1" in caplog.text
