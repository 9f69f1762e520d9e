"""A bad setting is CONFIGURATION_ERROR naming the variable, what it got (never for a secret) and what it must be, in
every command (text and --json), `integrations api` and the job entry point; and no command but `init` (and `demo`)
creates a store and keyring in a data dir that does not exist."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from integrations.cli import app
from typer.testing import CliRunner

from tests.keys import CANARY, OPENAI_OK
from tests.servers import cli_env

runner = CliRunner()

# every command that builds the service, with the arguments it needs to get that far
COMMANDS = [
    ["init"],
    ["demo"],
    ["demo", "--orgs", "2"],
    ["setup", "acmecorp", "openai", "--credential-stdin"],
    ["keyless", "acmecorp"],
    ["status", "acmecorp"],
    ["validate", "acmecorp", "openai"],
    ["test", "acmecorp", "openai", "--credential-stdin"],
    ["delete", "acmecorp", "openai"],
    ["get", "acmecorp", "openai"],
    ["diagnose", "acmecorp", "openai"],
    ["revalidate"],
    ["revalidate", "--task-index", "0", "--task-count", "1", "--run-id", "r1"],  # the nightly job's entry point
    ["revalidate", "finalize", "--run-id", "r1"],
    ["reconcile"],
    ["rewrap"],
    ["doctor"],
    ["org", "create", "acmecorp"],
    ["org", "key", "rotate", "acmecorp"],
    ["org", "key", "revoke", "acmecorp"],
    ["org", "alert-secret", "acmecorp"],
    ["key", "rotate"],
    ["key", "retire", "v1"],
    ["key", "list"],
]
# (variable, value, what the message names besides the variable)
BAD = [
    ("INTEGRATIONS_PROFILE", "bogus", "'local' or 'gcp'"),
    ("INTEGRATIONS_ATTEMPTS_PER_MINUTE", "abc", "integer"),
    ("INTEGRATIONS_SANDBOX_LATENCY_MS", "x", "integer"),
    ("INTEGRATIONS_PROVIDER_TIMEOUT_S", "-5", "greater than 0"),
    ("INTEGRATIONS_SANDBOX_OUTAGE", "azure", "openai, anthropic, gcp"),
]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir path that does not exist yet, and no inherited INTEGRATIONS_* setting."""
    for var in [v for v in os.environ if v.startswith("INTEGRATIONS_")]:
        monkeypatch.delenv(var)
    data = tmp_path / "data"
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)  # away from a developer's .env
    return data


def _run(args: list[str], as_json: bool) -> tuple[int, str]:
    done = runner.invoke(app, [*args, *(["--json"] if as_json else [])], input=OPENAI_OK)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.output


@pytest.mark.parametrize(("var", "value", "expected"), BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_bad_setting_is_a_configuration_error_naming_it_in_every_command(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], as_json: bool, var: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(var, value)
    code, output = _run(command, as_json)
    assert code == 1, output
    if as_json:
        error = json.loads(output)["error"]
        assert error["code"] == "CONFIGURATION_ERROR" and error["hint"], error
        output = error["message"]
    assert "CONFIGURATION_ERROR" in output or as_json
    flat = " ".join(output.split())
    assert var in flat and repr(value) in flat and expected in flat
    assert "Traceback" not in output and "validation error" not in output
    assert not fresh.exists()  # nothing created


def test_a_data_dir_that_is_a_file_is_named(fresh: Path) -> None:
    fresh.write_text("not a directory")
    for command in (["init"], ["status", "acmecorp"]):
        code, output = _run(command, as_json=True)
        error = json.loads(output)["error"]
        assert code == 1 and error["code"] == "CONFIGURATION_ERROR", output
        assert "INTEGRATIONS_DATA_DIR" in error["message"] and "not a directory" in error["message"]


def test_a_secret_setting_is_never_echoed(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEGRATIONS_ALERT_SIGNING_SECRET", CANARY[:20])  # too short: refused, never quoted
    monkeypatch.setenv("INTEGRATIONS_ATTEMPTS_PER_MINUTE", "abc")  # and another setting wrong at the same time
    for as_json in (False, True):
        code, output = _run(["status", "acmecorp"], as_json)
        assert code == 1 and "CONFIGURATION_ERROR" in output and CANARY[:20] not in output and CANARY[:8] not in output


def test_an_invalid_secret_setting_is_named_without_its_value(fresh: Path) -> None:
    from integrations.errors import IntegrationError
    from integrations.settings import Settings

    with pytest.raises(IntegrationError) as err:
        Settings(_env_file=None, alert_signing_secret=12345678901234567890123456789012345)  # not a string: invalid
    message = err.value.message
    assert "INTEGRATIONS_ALERT_SIGNING_SECRET" in message and "not shown" in message and "1234567890" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__  # pydantic's text (it quotes) not chained


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize(
    "command",
    [c for c in COMMANDS if c[0] not in ("init", "demo", "doctor")],
    ids=[" ".join(c) for c in COMMANDS if c[0] not in ("init", "demo", "doctor")],
)
def test_a_missing_data_dir_is_refused_with_run_init_and_nothing_is_created(
    fresh: Path, command: list[str], as_json: bool
) -> None:
    code, output = _run(command, as_json)
    assert code == 1, output
    flat = " ".join(output.split())
    assert "CONFIGURATION_ERROR" in flat and "Run `integrations init`" in flat and str(fresh) in flat
    assert not fresh.exists()


def test_init_creates_the_data_dir_then_commands_work(fresh: Path) -> None:
    assert _run(["init"], as_json=False)[0] == 0 and fresh.is_dir()
    code, output = _run(["org", "create", "acmecorp"], as_json=True)
    assert code == 0 and json.loads(output)["org_slug"] == "acmecorp"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"INTEGRATIONS_PROFILE": "Local"}, "INTEGRATIONS_PROFILE='Local'"),
        ({}, "Run `integrations init`"),  # the data dir does not exist
    ],
    ids=["bad setting", "missing data dir"],
)
def test_api_refuses_to_start_with_the_catalog_error_not_a_startup_traceback(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    done = subprocess.run(
        ["integrations", "api", "--port", "1"],  # never reached: the settings are read before the server starts
        env=cli_env(tmp_path / "data") | env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    flat = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1 and "CONFIGURATION_ERROR" in flat and expected in flat, flat
    assert "Traceback" not in flat and "Application startup failed" not in flat
    assert not (tmp_path / "data").exists()
