"""deploy/ checked offline, as rendered for a realistic project (acme-prod, europe-west1, dataset in EU): YAML lint,
the jobs' commands, flags and env names are the CLI's and the settings', every Workflows expression names a variable
that exists, the waits cover the tasks' retries, no placeholder is left. The deploy steps themselves are rehearsed
in tests/deploy/ (no container engine or cloud here)."""

from __future__ import annotations

import importlib.util
import os
import re
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
IMAGE = "europe-west1-docker.pkg.dev/acme-prod/integrations/job:abc1234"
SUPABASE = "https://abcdefghijklmnop.supabase.co"


def _render_module() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_render", DEPLOY / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _render_module()
RENDERED: dict[str, str] = render.render("acme-prod", "europe-west1", "EU", SUPABASE, IMAGE)


def _load(name: str) -> Any:
    return yaml.safe_load(RENDERED[name])


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


def _steps() -> dict[str, Any]:
    return {k: v for step in _load("workflow.yaml")["main"]["steps"] for k, v in step.items()}


@pytest.mark.parametrize("name", [*JOBS, "workflow.yaml"])
def test_yamllint_passes_on_the_template_and_the_rendered_file(name: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(RENDERED[name])
    for path in (DEPLOY / name, tmp_path / name):
        done = subprocess.run(
            [sys.executable, "-m", "yamllint", "-c", str(DEPLOY / ".yamllint.yaml"), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("name", [*JOBS, "workflow.yaml"])
def test_no_placeholder_is_left_and_the_project_is_named_only_where_meant(name: str) -> None:
    text = RENDERED[name]
    assert not re.search(r"__[A-Z0-9_]+__", text)
    assert "PROJECT_ID" not in text.replace("GOOGLE_CLOUD_PROJECT_ID", "")  # the old sed turned it into acme-prod
    assert "REGION" not in text and "SUPABASE_REF" not in text
    assert "GOOGLE_CLOUD_acme-prod" not in text


def test_render_refuses_what_would_deploy_broken() -> None:
    with pytest.raises(render.RenderError, match="SUPABASE_URL"):
        render.render("acme-prod", "europe-west1", "EU", "https://SUPABASE_REF", IMAGE)  # no host a job could use
    with pytest.raises(render.RenderError, match="SUPABASE_URL"):
        render.render("acme-prod", "europe-west1", "EU", "http://abc.supabase.co", IMAGE)
    with pytest.raises(render.RenderError, match="project id"):
        render.render("PROJECT_ID", "europe-west1", "EU", SUPABASE, IMAGE)
    with pytest.raises(render.RenderError, match="no value for the placeholder __TYPO__"):
        render.substitute("value: __TYPO__", {"PROJECT_ID": "x"})


@pytest.mark.parametrize("name", JOBS)
def test_a_jobs_location_and_store_timeout_are_the_deployments(name: str) -> None:
    env = {e["name"]: e.get("value") for e in _container(_load(name))["env"]}
    assert env["INTEGRATIONS_BIGQUERY_LOCATION"] == "EU" and "US" not in RENDERED[name].split()
    assert env["INTEGRATIONS_GCP_PROJECT"] == "acme-prod"
    assert env["INTEGRATIONS_KMS_KEY"].startswith("projects/acme-prod/locations/europe-west1/keyRings/integrations/")
    assert float(env["INTEGRATIONS_STORE_TIMEOUT_S"]) >= 900  # a job's MERGE, not an interactive request's 30 s
    assert _container(_load(name))["image"] == IMAGE


def test_the_dockerfile_installs_only_the_locked_job_dependencies_on_a_pinned_base() -> None:
    commands = dockerfile.parse_file(str(DEPLOY / "Dockerfile"))
    by = {c.cmd: c for c in commands}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert by["ENTRYPOINT"].json and list(by["ENTRYPOINT"].value) == ["integrations"] and "integrations" in scripts
    assert by["USER"].value[0] not in ("root", "0")
    _parse(list(by["CMD"].value))
    for copy in (c for c in commands if c.cmd == "COPY"):
        assert all((ROOT / source).exists() for source in copy.value[:-1]), copy.value
    base = by["FROM"].value[0]
    assert re.fullmatch(r"python:3\.\d+-slim@sha256:[0-9a-f]{64}", base), base  # pinned by digest, not a tag
    assert tuple(map(int, base.split(":")[1].split("-")[0].split("."))) >= (3, 11)
    runs = [" ".join(c.value) for c in commands if c.cmd == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert "--require-hashes" in installs[0] and "-r requirements-job.txt" in installs[0]
    assert "--no-deps" in installs[1] and " . " in f"{installs[1]} " and "[" not in installs[1]  # no extra
    assert any("PINNED_ENV_B64" in r and "/etc/integrations/pinned-env.json" in r for r in runs)


def test_the_lock_pins_the_core_with_hashes_and_no_console_or_api() -> None:
    text = (DEPLOY / "requirements-job.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9._-]+)==([^\s\\]+)", text, re.MULTILINE))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert core <= set(pins), core - set(pins)
    optional = project["optional-dependencies"]
    extras = {re.split(r"[<>=\[ ]", d)[0].lower() for e in ("console", "api") for d in optional[e]}
    assert extras == {"streamlit", "altair", "fastapi", "uvicorn"} and not extras & set(pins)
    blocks = re.split(r"^(?=[a-z0-9._-]+==)", text, flags=re.MULTILINE)[1:]
    assert all("--hash=sha256:" in block for block in blocks) and len(blocks) == len(pins)
    assert "integrations[console,api]" in project["optional-dependencies"]["dev"]  # make install: everything


def test_the_job_runs_without_the_console_and_api_packages(tmp_path: Path) -> None:
    """What the image lacks cannot be imported: a local task run (init, demo data, one task, finalize) with
    streamlit, altair, fastapi and uvicorn blocked."""
    script = (
        "import sys\n"
        "for m in ('streamlit', 'altair', 'fastapi', 'uvicorn', 'starlette'): sys.modules[m] = None\n"
        "from integrations.cli import app\n"
        "for argv in (['init'], ['demo'], ['revalidate', '--task-count', '1', '--run-id', 'r1', '--json']):\n"
        "    try:\n"
        "        app(argv, standalone_mode=False)\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, (argv, exc.code)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTEGRATIONS_", "SUPABASE_"))}
    env.update(INTEGRATIONS_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT / "lib"))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"run_id": "r1"' in done.stdout


@pytest.mark.parametrize("name", JOBS)
def test_a_jobs_arguments_are_the_clis(name: str) -> None:
    ctx = _parse(_container(_load(name))["args"])
    assert ctx.command.name in ("revalidate", "finalize") and ctx.params["as_json"] is True


def test_the_workflows_overrides_are_arguments_only_and_share_one_run_id() -> None:
    steps = _steps()
    calls = [steps["run_tasks"]["try"], steps["finalize"]["try"]]
    overrides = [call["args"]["body"]["overrides"] for call in calls]
    assert all(set(o) == {"containerOverrides"} for o in overrides)  # no taskCount, no timeout
    assert all(set(o["containerOverrides"][0]) == {"args"} for o in overrides)  # no env
    args = [o["containerOverrides"][0]["args"] for o in overrides]
    assert args[1] == "${finalize_args}"  # set in init; --force added once the tasks' execution ended failed
    init = {k: v for a in steps["init"]["assign"] for k, v in a.items()}
    forced = steps["run_tasks"]["except"]["steps"][1]["force_when_ended"]["switch"][0]["assign"][0]["finalize_args"]
    contexts = [_parse([a.replace("${run_id}", "nightly-1") for a in arg]) for arg in (args[0], init["finalize_args"])]
    assert [c.params["run_id"] for c in contexts] == ["nightly-1", "nightly-1"]
    assert contexts[0].params["finalize"] is False and contexts[1].command.name == "finalize"
    assert contexts[1].params["force"] is False and [a for a in forced if a != "--force"] == init["finalize_args"]
    assert _parse([a.replace("${run_id}", "nightly-1") for a in forced]).params["force"] is True


def test_finalize_is_forced_only_when_the_tasks_execution_ended_not_when_the_wait_timed_out() -> None:
    handler = _steps()["run_tasks"]["except"]
    condition = handler["steps"][1]["force_when_ended"]["switch"][0]["condition"]
    assert handler["as"] in condition and '"TimeoutError" in' in condition and condition.startswith("${not(")


# https://cloud.google.com/workflows/docs/reference/environment-variables
WORKFLOW_ENV = {
    "GOOGLE_CLOUD_PROJECT_ID",
    "GOOGLE_CLOUD_PROJECT_NUMBER",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_CLOUD_WORKFLOW_ID",
    "GOOGLE_CLOUD_WORKFLOW_REVISION_ID",
    "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID",
}


def _expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [e for k, v in node.items() for e in _expressions(k) + _expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    if isinstance(node, str):
        assert node.count("${") == len(re.findall(r"\$\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", node)), node
        return re.findall(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}", node)
    return []


def test_every_workflow_expression_names_a_variable_that_exists() -> None:
    flow = _load("workflow.yaml")
    defined = set(flow["main"]["params"])
    for step in flow["main"]["steps"]:
        for body in step.values():
            for assign in body.get("assign", []):
                defined |= set(assign)
            for handler in (body.get("except") or {},):
                defined |= {handler["as"]} if "as" in handler else set()
                for inner in handler.get("steps", []):
                    for inner_body in inner.values():
                        for assign in inner_body.get("assign", []):
                            defined |= set(assign)
    expressions = _expressions(flow)
    assert expressions
    for expression in expressions:
        text = re.sub(r'"[^"]*"', '""', expression)
        for name in re.findall(r'sys\.get_env\("([^"]+)"\)', expression):
            assert name in WORKFLOW_ENV, name
        names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", text)) - {"null", "or", "and", "not", "true", "in"}
        names -= {"sys", "text", "get_env", "map"}  # the standard library's modules and functions
        assert names <= defined, (expression, names - defined)


def test_the_workflow_waits_as_long_as_the_tasks_may_run_and_always_finalizes() -> None:
    steps = _steps()
    for step, name in (("run_tasks", "job.yaml"), ("finalize", "finalize-job.yaml")):
        execution = _load(name)["spec"]["template"]["spec"]
        task = execution["template"]["spec"]
        waves = -(-execution["taskCount"] // execution["parallelism"])
        wait = steps[step]["try"]["args"]["connector_params"]["timeout"]
        assert wait == waves * task["timeoutSeconds"] * (task["maxRetries"] + 1) + render.START_UP_S
        assert wait > 1800  # the connector's default, which the review found too short
        assert steps[step]["except"]["as"] == "e"  # an error is kept, not raised before finalize
    assert steps["run_tasks"]["try"]["args"]["connector_params"]["timeout"] == 15000
    assert steps["finalize"]["try"]["args"]["connector_params"]["timeout"] == 7800
    order = [next(iter(s)) for s in _load("workflow.yaml")["main"]["steps"]]
    assert order.index("finalize") == order.index("run_tasks") + 1 and order[-2:] == ["report", "done"]
    [raised] = steps["report"]["switch"]
    assert "tasks_error" in raised["condition"] and "finalize_error" in raised["condition"]
    assert raised["raise"] == {"run_id": "${run_id}", "tasks": "${tasks_error}", "finalize": "${finalize_error}"}


def _settings_from(env: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var in list(os.environ):
        if var.startswith(("INTEGRATIONS_", "SUPABASE_")):
            monkeypatch.delenv(var)
    secrets = {  # shaped like what Secret Manager holds
        "INTEGRATIONS_ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
        "INTEGRATIONS_ORG_ALERT_WEBHOOKS": '{"acmecorp": "https://hooks.example.com/acme/secret"}',
        "INTEGRATIONS_ALERT_SIGNING_SECRET": "0" * 64,
    }
    for e in env:
        monkeypatch.setenv(e["name"], e.get("value", secrets.get(e["name"], "a-secret-from-secret-manager")))
    return Settings(_env_file=None)


@pytest.mark.parametrize("name", JOBS)
def test_a_jobs_env_names_are_settings_and_make_a_gcp_profile(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _container(_load(name))["env"]
    known = {f"INTEGRATIONS_{field.upper()}" for field in Settings.model_fields}
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [])
        known |= {c for c in choices if isinstance(c, str)}
    assert {e["name"] for e in env} <= known
    settings = _settings_from(env, monkeypatch)
    assert settings.bigquery_location == "EU" and settings.store_timeout_s == 900
    assert [settings.backend(r) for r in ("store", "cipher", "validation")] == ["bigquery", "kms", "live"]
    assert settings.gcp_project == "acme-prod" and settings.kms_key
    for secret in (e for e in env if e["name"] in render.SECRET_ENV):
        assert "value" not in secret and secret["valueFrom"]["secretKeyRef"]["name"]  # from Secret Manager


def test_the_tasks_job_has_no_supabase_key_and_finalize_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = _settings_from(_container(_load("job.yaml"))["env"], monkeypatch)
    assert tasks.backend("status_cache") == "sqlite" and tasks.supabase_service_role_key is None
    assert not any(e["name"].startswith("SUPABASE_") for e in _container(_load("job.yaml"))["env"])
    final = _settings_from(_container(_load("finalize-job.yaml"))["env"], monkeypatch)
    assert final.backend("status_cache") == "supabase" and final.supabase_url == SUPABASE
    assert (
        _load("job.yaml")["spec"]["template"]["spec"]["template"]["spec"]["serviceAccountName"]
        != (_load("finalize-job.yaml")["spec"]["template"]["spec"]["template"]["spec"]["serviceAccountName"])
    )


def test_the_tasks_job_is_a_job_of_parallel_retried_tasks() -> None:
    spec = _load("job.yaml")["spec"]["template"]["spec"]
    assert spec["taskCount"] > 1 and spec["parallelism"] == spec["taskCount"]
    assert spec["template"]["spec"]["maxRetries"] >= 1 and spec["template"]["spec"]["timeoutSeconds"] <= 168 * 3600


@pytest.mark.parametrize("script", ["provision.sh", "iam.sh", "deploy.sh", "keyless_principals.sh"])
def test_the_gcloud_scripts_are_valid_bash_and_shellcheck_clean(script: str) -> None:
    subprocess.run(["bash", "-n", str(DEPLOY / script)], check=True)
    done = subprocess.run(["shellcheck", str(DEPLOY / script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_make_lint_runs_shellcheck_and_ci_installs_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile[makefile.index("\nlint:") : makefile.index("\n\n", makefile.index("\nlint:"))]
    assert "shellcheck deploy/*.sh" in lint
    assert "shellcheck" in (ROOT / ".ci" / "run").read_text()


def test_a_flag_the_cli_does_not_have_is_refused() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(["revalidate", "--task-indx", "0"])
