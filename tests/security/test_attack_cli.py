"""Issue 15, Medium 3 and Low 13: tenant text reaches the operator's terminal literally; the CLI's small holes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from integrations import cli, connect
from integrations.cli import app
from typer.testing import CliRunner

from tests.keys import OPENAI_OK, service_account_json
from tests.security.attacks import replayed

runner = CliRunner()
ORG = "acmecorp"
ESCAPE = "\x1b]8;;https://evil.example/\x07click here\x1b]8;;\x07\x1b[2J"
MARKUP = "[link=https://evil.example/]Reset your password[/link] [blink]now[/blink]"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, so what is shown can be searched
    monkeypatch.setattr(cli.out._made(), "width", 400)  # the console may predate the variable
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "INTEGRATIONS_SANDBOX_OUTAGE"):
        monkeypatch.delenv(var, raising=False)
    assert run("init")[0] == 0  # every command but init (and demo) refuses a data dir that does not exist
    return tmp_path / "data"


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_tenant_text_is_printed_literally(data_dir: Path, tmp_path: Path) -> None:
    assert run("org", "create", ORG)[0] == 0
    key = json.loads(service_account_json("sa@acme-prod.iam.gserviceaccount.com", "acme-prod"))
    svc = connect(data_dir=data_dir)
    replayed()
    # what a tenant controls: a credential name with Rich markup (control codes are refused at the edge) ...
    svc.setup(ORG, "gcp", json.dumps(key), credential_name=MARKUP)
    code, shown = run("status", ORG)
    assert code == 0 and "[link=https://evil.example/]" in shown and "[blink]" in shown  # shown, not interpreted
    # ... and, from a row stored before the edge refused them, escape sequences in the name
    svc.store._conn().execute("UPDATE org_integrations SET credential_name = ?", (ESCAPE,))
    code, shown = run("status", ORG)
    assert code == 0 and "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b]8;;https://evil.example/\\x07click here" in shown


def test_control_codes_are_refused_at_the_edge(data_dir: Path, tmp_path: Path) -> None:
    run("org", "create", ORG)
    key_file = tmp_path / "key.txt"
    key_file.write_text(OPENAI_OK)
    replayed()
    code, shown = run("setup", ORG, "openai", "--credential-file", str(key_file), "--name", ESCAPE)
    assert code == 1 and "INVALID_INPUT" in shown and "\x1b" not in shown
    sa = json.loads(service_account_json("sa@acme-prod.iam.gserviceaccount.com", "acme-prod"))
    key_file.write_text(json.dumps(sa | {"client_email": f"{ESCAPE}@acme-prod.iam.gserviceaccount.com"}))
    code, shown = run("setup", ORG, "gcp", "--credential-file", str(key_file))
    assert code == 1 and "MALFORMED_CREDENTIAL" in shown and "\x1b" not in shown


def test_bad_files_and_metadata_are_refused_with_a_message(data_dir: Path, tmp_path: Path) -> None:
    run("org", "create", ORG)
    latin1 = tmp_path / "key.bin"
    latin1.write_bytes(b"sk-proj-\xe9\xff" + b"a" * 30)
    replayed()
    code, shown = run("setup", ORG, "openai", "--credential-file", str(latin1))
    assert code == 2 and "not UTF-8" in shown and "Traceback" not in shown
    good = tmp_path / "key.txt"
    good.write_text(OPENAI_OK)
    code, shown = run("setup", ORG, "openai", "--credential-file", str(good), "--metadata", '{"n": ' + "9" * 5000 + "}")
    # bad --metadata is INVALID_INPUT (exit 1), as a JSON value of the wrong shape is (review round 4, item 15)
    assert code == 1 and "INVALID_INPUT" in shown and "--metadata" in shown and "Traceback" not in shown


def test_org_keys_cannot_be_doubled_and_every_change_is_in_the_history(data_dir: Path) -> None:
    replayed()
    assert run("org", "create", ORG)[0] == 0
    code, shown = run("org", "create", ORG)
    assert code == 1 and "ORG_EXISTS" in shown and "org key rotate" in shown
    code, shown = run("org", "key", "revoke", "nosuchorg")
    assert code == 1 and "ORG_NOT_FOUND" in shown
    assert run("org", "key", "rotate", ORG)[0] == 0
    assert run("org", "key", "revoke", ORG)[0] == 0
    svc = connect(data_dir=data_dir)
    assert len(svc.store.api_keys(ORG)) == 2 and all(k.revoked_at for k in svc.store.api_keys(ORG))
    history = [e.message for e in svc.store.events(ORG) if e.action.value == "ORG_KEY"]
    assert [m.split(" ")[0] for m in reversed(history)] == ["Org", "Org", "1"]
    assert "issued" in history[-1] and "new key issued" in history[1] and "revoked" in history[0]


def test_the_data_dir_and_databases_are_private(data_dir: Path) -> None:
    replayed()
    assert run("init")[0] == 0
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("warehouse.sqlite", "status.sqlite", "local.keyring"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    os.chmod(data_dir / "warehouse.sqlite", 0o644)
    code, shown = run("status", ORG)
    assert code == 1 and "CONFIGURATION_ERROR" in shown and "chmod 600" in shown
    os.chmod(data_dir / "warehouse.sqlite", 0o600)
    os.chmod(data_dir, 0o755)  # noqa: S103 - the weakness under test
    code, shown = run("status", ORG)
    assert code == 1 and "chmod 700" in shown
