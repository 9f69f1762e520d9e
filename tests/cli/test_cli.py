"""The `integrations` command: human and JSON output, exit codes, credentials from file or stdin only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from integrations.cli import app
from typer.testing import CliRunner

from tests.keys import CANARY, OPENAI_OK, openai_key, service_account_json

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "INTEGRATIONS_SANDBOX_OUTAGE"):
        monkeypatch.delenv(var, raising=False)
    assert run("init")[0] == 0  # every command but init (and demo) refuses a data dir that does not exist
    return {**os.environ}


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.output


def as_json(*args: str, input: str | None = None) -> tuple[int, dict]:
    code, output = run(*args, "--json", input=input)
    return code, json.loads(output)


def test_full_lifecycle_in_json(env: dict[str, str], tmp_path: Path) -> None:
    code, created = as_json("org", "create", "acmecorp", "--name", "Acme Corp")
    assert code == 0 and created["org_slug"] == "acmecorp" and created["api_key"].startswith("acmecorp_api_")
    key_file = tmp_path / "key.txt"
    key_file.write_text(OPENAI_OK + "\n")
    code, setup = as_json(
        "setup",
        "acmecorp",
        "openai",
        "--credential-file",
        str(key_file),
        "--name",
        "Prod",
        "--metadata",
        '{"environment": "production"}',
    )
    assert code == 0 and setup["validation_status"] == "VALID" and setup["credential_id"].startswith("cred_")
    code, status = as_json("status", "acmecorp")
    assert status["integrations"]["OPENAI"]["credential_hint"] == "sk-proj-...Yz99"
    assert as_json("validate", "acmecorp", "OPENAI")[1]["validation_status"] == "VALID"
    code, rotated = as_json("setup", "acmecorp", "openai", "--credential-stdin", input=openai_key())
    assert code == 0 and "rotated" in rotated["message"]
    assert as_json("delete", "acmecorp", "openai")[1]["success"] is True
    code, missing = as_json("validate", "acmecorp", "openai")
    assert code == 1 and missing["error"]["code"] == "NOT_CONFIGURED"


def test_rejected_key_exits_1_with_the_fix(env: dict[str, str]) -> None:
    run("org", "create", "acmecorp")
    code, output = run("setup", "acmecorp", "openai", "--credential-stdin", input=openai_key("revoked"))
    assert code == 1 and "INVALID_CREDENTIAL" in output and "Fix:" in output


def test_usage_errors_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    assert run("setup", "acmecorp", "openai")[0] == 2
    assert run("setup", "acmecorp", "openai", "--credential-file", str(tmp_path / "nope"))[0] == 2
    assert run("setup", "acmecorp", "openai", "--credential", OPENAI_OK)[0] == 2  # never on the command line
    assert run("no-such-command")[0] == 2


def test_demo_is_idempotent_and_has_every_state(env: dict[str, str]) -> None:
    code, first = as_json("demo")
    assert code == 0 and len(first["created"]) >= 5
    assert as_json("demo")[1]["created"] == []
    code, drift = as_json("reconcile", "--dry-run")
    assert [(d["org_slug"], d["recorded_status"]) for d in drift["drifts"]] == [("hooli", "VALID")]
    statuses = set()
    for slug in first["created"]:
        statuses |= {i["status"] for i in as_json("status", slug)[1]["integrations"].values()}
    assert statuses == {"VALID", "INVALID", "PENDING", "NOT_CONFIGURED"}
    assert as_json("reconcile")[1]["fixed"] == 1


def test_org_keys_rotate_and_revoke(env: dict[str, str]) -> None:
    first = as_json("org", "create", "acmecorp")[1]["api_key"]
    second = as_json("org", "key", "rotate", "acmecorp")[1]["api_key"]
    assert first != second and second.startswith("acmecorp_api_")
    assert as_json("org", "key", "revoke", "acmecorp")[1]["revoked"] == 1


def test_org_alert_secret_is_the_one_that_signs_and_needs_a_master_secret(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.alerts.base import signing_secret, tenant

    run("org", "create", "acmecorp")
    code, output = run("org", "alert-secret", "acmecorp")
    assert code == 1 and "CONFIGURATION_ERROR" in output and "INTEGRATIONS_ALERT_SIGNING_SECRET" in output
    master = "cli-master-secret-0123456789abcdef0123"
    monkeypatch.setenv("INTEGRATIONS_ALERT_SIGNING_SECRET", master)
    shown = as_json("org", "alert-secret", "acmecorp")[1]
    assert shown["signing_secret"] == signing_secret(master.encode(), tenant("acmecorp")) and master not in str(shown)
    assert run("org", "alert-secret", "nosuch-org")[0] == 1  # ORG_NOT_FOUND
    assert as_json("org", "alert-secret")[1]["signing_secret"] != shown["signing_secret"]  # the operator's


def test_key_rotate_then_rewrap(env: dict[str, str]) -> None:
    run("org", "create", "acmecorp")
    run("setup", "acmecorp", "gcp", "--credential-stdin", input=service_account_json("sa@p.iam.gserviceaccount.com"))
    assert as_json("key", "rotate")[1]["current_key_ref"] == "local/v2"
    assert as_json("rewrap")[1]["rewrapped"] == 1
    assert as_json("revalidate")[1]["outcomes"] == {"VALID": 1}


def test_workers_is_gone(env: dict[str, str]) -> None:
    code, output = run("revalidate", "--workers", "4")
    assert code != 0 and "No such option: --workers" in output


def test_stdin_through_a_real_process_leaks_nothing(env: dict[str, str]) -> None:
    exe = [sys.executable, "-m", "integrations.cli"]
    subprocess.run([*exe, "org", "create", "acmecorp"], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [*exe, "setup", "acmecorp", "openai", "--credential-stdin", "--json"],
        env=env,
        input=CANARY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["validation_status"] == "VALID"
    assert CANARY not in done.stdout + done.stderr and CANARY[8:] not in done.stdout + done.stderr


def test_status_reads_the_store_while_the_status_cache_is_unreadable(env: dict[str, str], tmp_path: Path) -> None:
    assert run("org", "create", "acmecorp")[0] == 0
    key_file = tmp_path / "key.txt"
    key_file.write_text(OPENAI_OK)
    assert run("setup", "acmecorp", "openai", "--credential-file", str(key_file))[0] == 0
    data = tmp_path / "data"
    for leftover in data.glob("status.sqlite*"):
        leftover.unlink()
    (data / "status.sqlite").write_bytes(b"this is not a database file" * 200)  # the cache is broken
    (data / "status.sqlite").chmod(0o600)  # private, as the store's files must be
    code, status = as_json("status", "acmecorp")
    assert code == 0 and status["integrations"]["OPENAI"]["status"] == "VALID"
    assert status["warnings"][0].startswith("STATUS_CACHE_READ_FAILED")
    code, output = run("status", "acmecorp")
    assert code == 0 and "warning" in output and "STATUS_CACHE_READ_FAILED" in output
    code, missing = as_json("status", "ghost")
    assert code == 1 and missing["error"]["code"] == "ORG_NOT_FOUND"


def test_init_fails_on_a_status_cache_that_is_not_ready_while_other_commands_warn(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run("org", "create", "acmecorp")[0] == 0
    data = tmp_path / "data"
    for leftover in data.glob("status.sqlite*"):
        leftover.unlink()
    (data / "status.sqlite").write_bytes(b"this is not a database file" * 200)
    (data / "status.sqlite").chmod(0o600)
    code, failed = as_json("init")
    assert code == 1 and failed["error"]["code"] == "STATUS_SYNC_FAILED"
    assert as_json("status", "acmecorp")[0] == 0


def test_status_lists_configured_providers_and_kinds_and_setup_prints_capabilities(
    env: dict[str, str], tmp_path: Path
) -> None:
    from tests.keys import OPENAI_ADMIN

    as_json("org", "create", "acmecorp")
    key_file = tmp_path / "admin.txt"
    key_file.write_text(OPENAI_ADMIN)
    code, output = run("setup", "acmecorp", "openai", "--credential-file", str(key_file))
    assert code == 0 and "· Admin key" in output and "kind=" not in output and "cost data: passed" in output
    code, output = run("status", "acmecorp")
    assert code == 0 and "configured OpenAI; all valid: no" in output and "Admin key" in output
    assert "OpenAI cost data: Fresh, data through" in output  # the sandbox's newest cost bucket is an hour old
    assert "OpenAI key: never expires" in output  # said explicitly, as "unknown" is when it cannot be read
    code, data = as_json("status", "acmecorp")
    assert data["providers_configured"] == ["OPENAI"] and data["integrations"]["OPENAI"]["credential_kind"] == "ADMIN"
    code, validated = as_json("validate", "acmecorp", "openai")
    assert [c["status"] for c in validated["capabilities"]] == ["not available", "passed"]
    assert validated["warnings"] == [] and as_json("delete", "acmecorp", "openai")[1]["warnings"] == []


def test_demo_writes_the_org_keys_to_a_private_file_not_the_terminal(env: dict[str, str]) -> None:
    code, output = run("demo")
    keys_file = Path(env["INTEGRATIONS_DATA_DIR"]) / "demo-org-keys.txt"
    assert code == 0 and str(keys_file) in output.replace("\n", "") and "_api_" not in output
    assert keys_file.stat().st_mode & 0o777 == 0o600
    lines = dict(line.split("\t") for line in keys_file.read_text().splitlines())
    assert set(lines) >= {"acmecorp", "globex", "hooli"} and lines["acmecorp"].startswith("acmecorp_api_")
    assert run("demo")[1].strip() == "Demo orgs already present." and len(keys_file.read_text().splitlines()) == 6


def test_keyless_gcp_setup_from_the_cli(env: dict[str, str]) -> None:
    """No key file: --export-table; PENDING with what to do until the grant works, then VALID (sandboxed Google)."""
    assert as_json("org", "create", "cyberdyne")[0] == 0
    code, info = as_json("keyless", "cyberdyne")
    assert code == 0 and info["principal"].startswith("int-") and "bq add-iam-policy-binding" in info["commands"]
    waiting = "cyberdyne-notgranted.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
    code, pending = as_json("setup", "cyberdyne", "gcp", "--export-table", waiting)
    assert code == 0 and pending["validation_status"] == "PENDING" and pending["credential_kind"] == "KEYLESS"
    assert pending["error"]["code"] == "GCP_KEYLESS_NOT_GRANTED" and info["principal"] in pending["error"]["message"]
    granted = "cyberdyne-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
    code, text = run("setup", "cyberdyne", "gcp", "--export-table", granted)
    assert code == 0 and "status VALID" in text and "· Keyless (no key file)" in text
    code, impersonated = as_json(
        "setup",
        "cyberdyne",
        "gcp",
        "--export-table",
        granted,
        "--customer-sa",
        "notokencreator@cyber-a1.iam.gserviceaccount.com",
    )
    assert (
        impersonated["validation_status"] == "PENDING" and impersonated["error"]["code"] == "GCP_TOKEN_CREATOR_MISSING"
    )
    code, text = run("setup", "cyberdyne", "gcp", "--export-table", "not a table")
    assert code != 0 and "INVALID_INPUT" in text and "Traceback" not in text
    code, text = run("setup", "cyberdyne", "openai", "--export-table", granted)
    assert code != 0 and "--export-table is for gcp" in text


def test_get_one_and_diagnose_with_codes_and_fixes(env: dict[str, str]) -> None:
    """Issue 27: no get-one and no diagnose command; validate printed no code or fix."""
    assert run("demo")[0] == 0
    code, output = run("get", "globex", "openai")
    assert code == 0 and "INVALID_CREDENTIAL" in output and "fix" in output and "sk-proj-..." in output
    assert as_json("get", "globex", "openai")[1]["status"] == "INVALID"
    code, output = run("diagnose", "umbrella", "gcp")
    assert code == 1 and "FAIL" in output and "INSUFFICIENT_PERMISSIONS" in output and "Grant" in output
    code, steps = as_json("diagnose", "acmecorp", "openai")
    assert code == 0 and all(s["passed"] is not False for s in steps)
    code, output = run("validate", "globex", "openai")
    assert code == 1 and "INVALID_CREDENTIAL" in output and "Fix:" in output


def test_revalidate_prints_its_report_as_tables_after_the_bar(env: dict[str, str]) -> None:
    assert run("demo")[0] == 0
    result = CliRunner().invoke(app, ["revalidate"])
    assert result.exit_code == 0
    assert "checked" in result.stdout and "status changes" in result.stdout and "{" not in result.stdout


def test_text_output_says_labels_and_json_keeps_the_values(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 27 (raw enum names): an operator reads "API key", "Not configured", "Google Cloud"; --json keeps
    API, NOT_CONFIGURED, GCP for scripts."""
    from tests.keys import anthropic_key

    monkeypatch.setenv("COLUMNS", "200")  # the status table's cells on one line each

    as_json("org", "create", "acmecorp")
    key_file = tmp_path / "key.txt"
    key_file.write_text(anthropic_key())
    code, output = run("setup", "acmecorp", "anthropic", "--credential-file", str(key_file))
    assert code == 0 and "· API key" in output and "kind=API" not in output
    code, output = run("status", "acmecorp")
    assert code == 0 and "Not configured" in output and "Google Cloud" in output and "API key" in output
    assert "NOT_CONFIGURED" not in output and "ANTHROPIC" not in output
    code, output = run("get", "acmecorp", "gcp")
    assert code == 0 and "Not configured" in output and "NOT_CONFIGURED" not in output
    code, output = run("validate", "acmecorp", "anthropic")
    assert code == 0 and output.startswith("Valid: ")
    code, data = as_json("status", "acmecorp")
    assert data["integrations"]["GCP"]["status"] == "NOT_CONFIGURED"
    assert data["integrations"]["ANTHROPIC"]["credential_kind"] == "API"
