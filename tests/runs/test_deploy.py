"""deploy/ checked offline: YAML and Dockerfile lint, and the jobs' commands, flags and env names are the CLI's and
the settings' (no container engine or cloud here)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import typer
import yaml
from integrations.cli import app
from integrations.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROOT = DEPLOY.parent
JOBS = ("job.yaml", "finalize-job.yaml")


def _load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def _container(job: dict[str, Any]) -> dict[str, Any]:
    [container] = job["spec"]["template"]["spec"]["template"]["spec"]["containers"]
    return container


def _parse(args: list[str]) -> Any:
    """Parse `integrations ARGS` as the CLI would, down to the leaf command (typer's click context); an unknown
    flag or command raises the CLI's usage error."""
    command: Any = typer.main.get_command(app)
    ctx: Any = None
    while True:
        ctx = command.make_context(command.name or "integrations", list(args), parent=ctx)
        rest = [*getattr(ctx, "protected_args", getattr(ctx, "_protected_args", [])), *ctx.args]
        if not hasattr(command, "get_command") or not rest:
            return ctx
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r}"
        command, args = sub, rest[1:]


@pytest.mark.parametrize("name", [*JOBS, "workflow.yaml"])
def test_yamllint_passes(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "yamllint", "-c", str(DEPLOY / ".yamllint.yaml"), str(DEPLOY / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_the_dockerfile_parses_and_runs_the_cli_as_a_non_root_user() -> None:
    commands = dockerfile.parse_file(str(DEPLOY / "Dockerfile"))
    by = {c.cmd: c for c in commands}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert by["ENTRYPOINT"].json and list(by["ENTRYPOINT"].value) == ["integrations"] and "integrations" in scripts
    assert by["USER"].value[0] not in ("root", "0")
    _parse(list(by["CMD"].value))
    for copy in (c for c in commands if c.cmd == "COPY"):
        assert all((ROOT / source).exists() for source in copy.value[:-1]), copy.value
    python = by["FROM"].value[0].split(":")[1].split("-")[0]
    assert tuple(map(int, python.split("."))) >= (3, 11)


@pytest.mark.parametrize("name", JOBS)
def test_a_jobs_arguments_are_the_clis(name: str) -> None:
    ctx = _parse(_container(_load(name))["args"])
    assert ctx.command.name in ("revalidate", "finalize") and ctx.params["as_json"] is True


def test_the_workflows_overrides_are_the_clis_and_share_one_run_id() -> None:
    steps = {k: v for step in _load("workflow.yaml")["main"]["steps"] for k, v in step.items()}
    tasks = steps["run_tasks"]["try"]["args"]["body"]["overrides"]["containerOverrides"][0]["args"]
    final = steps["finalize"]["args"]["body"]["overrides"]["containerOverrides"][0]["args"]
    contexts = [_parse([a.replace("${run_id}", "nightly-1") for a in args]) for args in (tasks, final)]
    assert [c.params["run_id"] for c in contexts] == ["nightly-1", "nightly-1"]
    assert contexts[0].params["finalize"] is False and contexts[1].command.name == "finalize"


@pytest.mark.parametrize("name", JOBS)
def test_a_jobs_env_names_are_settings_and_make_a_gcp_profile(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _container(_load(name))["env"]
    known = {f"INTEGRATIONS_{field.upper()}" for field in Settings.model_fields}
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [])
        known |= {c for c in choices if isinstance(c, str)}
    assert {e["name"] for e in env} <= known
    for var in list(os.environ):
        if var.startswith(("INTEGRATIONS_", "SUPABASE_")):
            monkeypatch.delenv(var)
    secrets = {"INTEGRATIONS_ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret"}  # shaped like one
    for e in env:
        monkeypatch.setenv(e["name"], e.get("value", secrets.get(e["name"], "a-secret-from-secret-manager")))
    settings = Settings(_env_file=None)
    assert [settings.backend(r) for r in ("store", "cipher", "status_cache", "validation")] == [
        "bigquery",
        "kms",
        "supabase",
        "live",
    ]
    assert settings.gcp_project and settings.kms_key and settings.supabase_url and settings.supabase_service_role_key
    for secret in (e for e in env if e["name"] in ("SUPABASE_SERVICE_ROLE_KEY", "INTEGRATIONS_ALERT_WEBHOOK_URL")):
        assert "value" not in secret and secret["valueFrom"]["secretKeyRef"]["name"]  # from Secret Manager


def test_the_tasks_job_is_a_job_of_parallel_retried_tasks() -> None:
    spec = _load("job.yaml")["spec"]["template"]["spec"]
    assert spec["taskCount"] > 1 and spec["parallelism"] == spec["taskCount"]
    assert spec["template"]["spec"]["maxRetries"] >= 1 and spec["template"]["spec"]["timeoutSeconds"] <= 168 * 3600


@pytest.mark.parametrize("script", ["deploy.sh", "iam.sh", "keyless_principals.sh"])
def test_the_gcloud_scripts_are_valid_bash(script: str) -> None:
    subprocess.run(["bash", "-n", str(DEPLOY / script)], check=True)


def test_a_flag_the_cli_does_not_have_is_refused() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(["revalidate", "--task-indx", "0"])
