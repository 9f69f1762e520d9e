"""N7: the workflow's identity may run the jobs with overrides (it passes the run id as an argument), and
run.jobs.runWithOverrides allows env overrides too. A job started with any env but the one it was deployed with
(pinned into its image by deploy/render.py) refuses to start, before it reads a credential. N17: SUPABASE_URL over
http is refused outside the local profile."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from integrations import pinned_env
from integrations.cli import app
from integrations.errors import IntegrationError
from integrations.settings import Settings
from typer.testing import CliRunner

from tests.runs.test_deploy import DEPLOY, IMAGE, RENDERED, SUPABASE, _container, _load, render

PIN = json.loads(RENDERED["pinned-env.json"])["jobs"]
SECRET = "a-secret-from-secret-manager"


def _env(job: str, **changes: str | None) -> dict[str, str]:
    env = {k: (SECRET if v is None else v) for k, v in PIN[job].items()}
    shaped = {  # the secrets that Settings validates, shaped like what Secret Manager holds
        "INTEGRATIONS_ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
        "INTEGRATIONS_ORG_ALERT_WEBHOOKS": '{"acmecorp": "https://hooks.example.com/acme/secret"}',
        "INTEGRATIONS_ALERT_SIGNING_SECRET": SECRET * 2,
    }
    env |= {k: v for k, v in shaped.items() if k in env}
    env |= {"CLOUD_RUN_JOB": job, "CLOUD_RUN_EXECUTION": f"{job}-x7k2p", "CLOUD_RUN_TASK_INDEX": "0", "HOME": "/app"}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


ALERT_SECRETS = {
    "INTEGRATIONS_ORG_ALERT_WEBHOOKS": "integrations-org-alert-webhooks",
    "INTEGRATIONS_ALERT_SIGNING_SECRET": "integrations-alert-signing-secret",
}


def test_finalize_takes_both_alert_secrets_from_secret_manager_and_the_tasks_neither() -> None:
    final, tasks = _container(_load("finalize-job.yaml"))["env"], _container(_load("job.yaml"))["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in final if "valueFrom" in e}
    for name, secret in ALERT_SECRETS.items():
        assert refs[name] == {"name": secret, "key": "latest"}
        assert not any(e["name"] == name and "value" in e for e in final)
        assert PIN["integrations-finalize"][name] is None  # pinned by name: an execution without it refuses
        assert name not in PIN["integrations-revalidate"]
    assert not set(ALERT_SECRETS) & {e["name"] for e in tasks}
    assert not set(ALERT_SECRETS.values()) & set(RENDERED["job.yaml"].split())


@pytest.mark.parametrize("name", sorted(ALERT_SECRETS))
def test_finalize_without_an_alert_secret_refuses_and_the_tasks_with_one_refuse(
    name: str, pinned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(IntegrationError) as caught:
        _start(_env("integrations-finalize", **{name: None}), monkeypatch)
    assert caught.value.code == "SETTINGS_OVERRIDDEN" and f"-{name}" in caught.value.message
    value = _env("integrations-finalize")[name]
    with pytest.raises(IntegrationError) as caught:
        _start(_env("integrations-revalidate", **{name: value}), monkeypatch)
    assert caught.value.code == "SETTINGS_OVERRIDDEN" and f"+{name}" in caught.value.message
    assert value not in caught.value.message  # names only


def test_a_template_setting_a_secret_by_value_is_not_rendered(tmp_path: Path) -> None:
    source = (DEPLOY / "finalize-job.yaml").read_text()
    literal = source.replace(
        """                - name: INTEGRATIONS_ALERT_SIGNING_SECRET""",
        """                - name: INTEGRATIONS_ALERT_SIGNING_SECRET
                  value: in-the-yaml-and-the-image-label-000000000
                - name: INTEGRATIONS_UNUSED""",
    )
    for name in ("job.yaml", "workflow.yaml"):
        (tmp_path / name).write_text((DEPLOY / name).read_text())
    (tmp_path / "finalize-job.yaml").write_text(literal)
    with pytest.raises(render.RenderError, match="INTEGRATIONS_ALERT_SIGNING_SECRET by value") as caught:
        render.render("acme-prod", "europe-west1", "EU", SUPABASE, IMAGE, templates=tmp_path)
    assert "in-the-yaml" not in str(caught.value)


@pytest.fixture
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pinned-env.json"
    path.write_text(RENDERED["pinned-env.json"])
    monkeypatch.setattr(pinned_env, "PIN_FILE", path)
    for var in list(os.environ):
        if pinned_env.guarded(var):
            monkeypatch.delenv(var)
    return path


def _start(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


@pytest.mark.parametrize("job", sorted(PIN))
def test_a_job_started_as_deployed_starts(job: str, pinned: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _start(_env(job), monkeypatch)
    assert settings.gcp_project == "acme-prod"


@pytest.mark.parametrize(
    ("job", "change", "shown"),
    [
        ("integrations-revalidate", {"INTEGRATIONS_OPENAI_BASE_URL": "https://collector.example"}, "+INTEGRATIONS_"),
        ("integrations-revalidate", {"INTEGRATIONS_KMS_KEY": "projects/x/locations/y/keyRings/z/cryptoKeys/k"}, "~"),
        ("integrations-revalidate", {"HTTPS_PROXY": "http://collector.example:3128"}, "+HTTPS_PROXY"),
        ("integrations-revalidate", {"GOOGLE_CLOUD_UNIVERSE_DOMAIN": "collector.example"}, "+GOOGLE_CLOUD_UNIV"),
        ("integrations-revalidate", {"SUPABASE_URL": "https://abcdefghijklmnop.supabase.co"}, "+SUPABASE_URL"),
        ("integrations-finalize", {"SUPABASE_URL": "https://collector.example"}, "~SUPABASE_URL"),
        ("integrations-finalize", {"INTEGRATIONS_ENV_FILE": "/proc/self/environ"}, "+INTEGRATIONS_ENV_FILE"),
        ("integrations-finalize", {"INTEGRATIONS_STORE_TIMEOUT_S": None}, "-INTEGRATIONS_STORE_TIMEOUT_S"),
    ],
)
def test_an_overridden_env_refuses_to_start(
    job: str, change: dict[str, Any], shown: str, pinned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(IntegrationError) as caught:
        _start(_env(job, **change), monkeypatch)
    assert caught.value.code == "SETTINGS_OVERRIDDEN" and shown in caught.value.message
    assert "collector.example" not in caught.value.message and SECRET not in caught.value.message  # names only


def test_the_cli_refuses_before_reading_anything(pinned: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = _env("integrations-revalidate", INTEGRATIONS_ANTHROPIC_BASE_URL="https://collector.example")
    env |= {"INTEGRATIONS_DATA_DIR": str(tmp_path / "data")}  # a pinned name changed too: refused all the same
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = CliRunner().invoke(app, ["revalidate", "--run-id", "nightly-1", "--json"])
    assert done.exit_code == 1
    assert json.loads(done.output)["error"]["code"] == "SETTINGS_OVERRIDDEN"
    assert not (tmp_path / "data").exists()


def test_without_a_pin_nothing_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinned_env, "PIN_FILE", tmp_path / "absent.json")
    monkeypatch.setenv("INTEGRATIONS_OPENAI_BASE_URL", "https://api.openai.com/v1")
    assert Settings(_env_file=None).openai_base_url == "https://api.openai.com/v1"


def test_an_unreadable_pin_refuses(pinned: Path) -> None:
    pinned.write_text("{")
    with pytest.raises(IntegrationError, match="rebuild the image"):
        pinned_env.check({})


@pytest.mark.parametrize(
    ("profile", "url", "refused"),
    [
        ("gcp", "http://abcdefghijklmnop.supabase.co", True),
        ("gcp", "https://abcdefghijklmnop.supabase.co", False),
        ("gcp", "http://127.0.0.1:54321", False),  # a local Supabase (`supabase start`) or a double
        ("local", "http://supabase.internal:8000", False),
    ],
)
def test_supabase_over_http_is_refused_outside_the_local_profile(
    profile: str, url: str, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in list(os.environ):
        if var.startswith(("INTEGRATIONS_", "SUPABASE_")):
            monkeypatch.delenv(var)
    if refused:
        with pytest.raises(IntegrationError, match="SUPABASE_URL must be an https URL") as caught:
            Settings(_env_file=None, profile=profile, supabase_url=url)
        assert caught.value.code == "CONFIGURATION_ERROR"
    else:
        assert Settings(_env_file=None, profile=profile, supabase_url=url).supabase_url == url
