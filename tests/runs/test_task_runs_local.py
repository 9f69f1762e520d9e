"""Task runs on the local profile, as a job runs them: task processes of the real CLI, then finalize."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from integrations import connect
from integrations.cli import app
from integrations.domain import Action
from typer.testing import CliRunner

from tests.keys import CANARY

EXE = [sys.executable, "-m", "integrations.cli"]
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var in (
        "INTEGRATIONS_PROFILE",
        "INTEGRATIONS_VALIDATION",
        "INTEGRATIONS_SANDBOX_OUTAGE",
        "CLOUD_RUN_TASK_INDEX",
        "CLOUD_RUN_TASK_COUNT",
        "CLOUD_RUN_EXECUTION",
        "INTEGRATIONS_SANDBOX_LATENCY_MS",
    ):
        monkeypatch.delenv(var, raising=False)
    for args in (["init"], ["demo"], ["org", "create", "canary-org"]):
        assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, ["setup", "canary-org", "openai", "--credential-stdin"], input=CANARY).exit_code == 0
    return {**os.environ}


def _cli(env: dict[str, str], *args: str) -> dict:
    """The command in this process (the task processes of a run are real processes in the first test)."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _validations(env: dict[str, str]) -> list[str]:
    svc = connect(data_dir=Path(env["INTEGRATIONS_DATA_DIR"]))
    return [e.credential_id for e in svc.store.events() if e.action == Action.VALIDATE]


def test_two_task_processes_and_finalize_check_every_credential_exactly_once(env: dict[str, str]) -> None:
    before = _validations(env)
    active = {r.credential_id for r in connect(data_dir=Path(env["INTEGRATIONS_DATA_DIR"])).store.list_credentials()}
    # task 0 from flags, task 1 from Cloud Run's variables, at the same time
    tasks = [
        subprocess.Popen(
            [*EXE, "revalidate", "--task-index", "0", "--task-count", "2", "--run-id", "n1", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [*EXE, "revalidate", "--json"],
            stdout=subprocess.PIPE,
            text=True,
            env=env | {"CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "2", "CLOUD_RUN_EXECUTION": "n1"},
        ),
    ]
    reports = [json.loads(t.communicate()[0]) for t in tasks]
    assert [t.returncode for t in tasks] == [0, 0]
    assert [r["task_index"] for r in reports] == [0, 1] and "finalized" not in reports[0]
    assert sum(r["checked"] for r in reports) == len(active) and all(r["checked"] for r in reports)
    assert _validations(env) == before, "tasks stage; only finalize writes"

    run = _cli(env, "revalidate", "finalize", "--run-id", "n1")
    assert run["checked"] == run["applied"] == len(active)
    assert run["by_task"] == {"0": reports[0]["checked"], "1": reports[1]["checked"]}
    added = _validations(env)[: len(active)]
    assert sorted(added) == sorted(active) and len(_validations(env)) == len(before) + len(active)
    events = connect(data_dir=Path(env["INTEGRATIONS_DATA_DIR"])).store.events()
    assert sorted(e.credential_id for e in events if e.run_id == "n1") == sorted(active)  # the run's checks name it
    staged = (
        sqlite3.connect(Path(env["INTEGRATIONS_DATA_DIR"]) / "warehouse.sqlite")
        .execute("SELECT * FROM revalidation_results")
        .fetchall()
    )
    assert len(staged) == len(active) and CANARY not in repr(staged) and CANARY[8:30] not in repr(staged)


def test_a_retried_task_checks_nothing_twice_and_a_second_finalize_adds_nothing(env: dict[str, str]) -> None:
    first = _cli(env, "revalidate", "--task-index", "0", "--task-count", "2", "--run-id", "n2")
    retried = _cli(env, "revalidate", "--task-index", "0", "--task-count", "2", "--run-id", "n2")
    assert first["checked"] > 0 and retried["checked"] == 0 and retried["already_staged"] == first["checked"]
    _cli(env, "revalidate", "--task-index", "1", "--task-count", "2", "--run-id", "n2")
    once = _cli(env, "revalidate", "finalize", "--run-id", "n2")
    events = _validations(env)
    twice = _cli(env, "revalidate", "finalize", "--run-id", "n2")
    assert _validations(env) == events and twice["applied"] == 0 and twice["checked"] == once["checked"]


def test_a_single_task_finalizes_itself(env: dict[str, str]) -> None:
    report = _cli(env, "revalidate", "--task-count", "1")
    assert report["run_id"].startswith("run-") and report["finalized"]["checked"] == report["checked"] > 0


@pytest.mark.parametrize(
    ("args", "variables", "says"),
    [
        (["--task-index", "2", "--task-count", "2", "--run-id", "r"], {}, "must be 0 to 1"),
        (["--task-index", "-1", "--task-count", "2", "--run-id", "r"], {}, "must be 0 to 1"),
        ([], {"CLOUD_RUN_TASK_INDEX": "one", "CLOUD_RUN_TASK_COUNT": "2"}, "not an integer"),
        ([], {"CLOUD_RUN_TASK_COUNT": "0"}, "must be 1 to"),
        (["--task-index", "0", "--task-count", "2"], {}, "same --run-id"),
    ],
)
def test_bad_task_settings_are_a_catalog_error_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], variables: dict[str, str], says: str
) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for name in ("CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "CLOUD_RUN_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    assert runner.invoke(app, ["init"]).exit_code == 0  # an installation: a missing data dir is refused first
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["revalidate", *args, "--json"])
    error = json.loads(result.output)["error"]
    assert result.exit_code == 1 and error["code"] == "TASK_SETTINGS_INVALID" and says in error["message"]
    assert "--run-id" in error["hint"]


def test_finalize_of_a_run_whose_tasks_still_run_is_refused_with_its_fix_unless_forced(env: dict[str, str]) -> None:
    _cli(env, "revalidate", "--task-index", "0", "--task-count", "2", "--run-id", "n9")
    result = runner.invoke(app, ["revalidate", "finalize", "--run-id", "n9", "--json"])
    error = json.loads(result.output)["error"]
    assert result.exit_code == 1 and error["code"] == "RUN_TASKS_RUNNING" and "1 of 2" in error["message"]
    assert "--force" in error["message"] and error["retryable"]
    assert _cli(env, "revalidate", "finalize", "--run-id", "n9", "--force")["applied"] > 0
