"""`integrations demo --orgs N` on a fresh data dir: the named demo orgs too, every new org's API key in the one 0600
keys file (never printed), and a re-run creates nothing and starts no bulk run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from integrations.bootstrap import connect
from integrations.cli import app
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [v for v in os.environ if v.startswith("INTEGRATIONS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def _demo(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, ["demo", *args])
    return done.exit_code, done.output


def _validate_runs(data: Path) -> set[str]:
    events = connect(data_dir=data).events()
    return set(events[events.action == "VALIDATE"].run_id.dropna())


def test_demo_orgs_on_a_fresh_dir_has_the_named_orgs_and_every_key_in_the_keys_file(data: Path) -> None:
    code, output = _demo("--orgs", "5", "--json")
    assert code == 0, output
    made = json.loads(output)
    keys_file = data / "demo-org-keys.txt"
    assert made["orgs"] == 5 and made["keys_file"] == str(keys_file) and "acmecorp" in made["created"]
    assert "_api_" not in output  # the keys are in the file, never on the terminal
    assert keys_file.stat().st_mode & 0o777 == 0o600
    keys = dict(line.split("\t") for line in keys_file.read_text().splitlines())
    assert set(keys) == {"acmecorp", "globex", "initech", "umbrella", "hooli", "stark-industries"} | {
        f"org-{i:05d}" for i in range(5)
    }
    svc = connect(data_dir=data)
    assert svc.authenticate("org-00003", keys["org-00003"]).org_slug == "org-00003"  # the keys in the file work
    assert svc.authenticate("acmecorp", keys["acmecorp"]).org_slug == "acmecorp"
    code, text = _demo("--orgs", "6")
    assert code == 0 and "_api_" not in text and str(keys_file) in text.replace("\n", "")


def test_demo_orgs_again_creates_nothing_and_starts_no_run(data: Path) -> None:
    assert _demo("--orgs", "5")[0] == 0
    runs, keys = _validate_runs(data), (data / "demo-org-keys.txt").read_text()
    code, output = _demo("--orgs", "5", "--json")
    again = json.loads(output)
    assert code == 0 and again["orgs"] == 0 and again["checked"] == 0 and again["created"] == []
    assert _validate_runs(data) == runs  # "the last run" the console shows is still the first one
    assert (data / "demo-org-keys.txt").read_text() == keys
    code, text = _demo("--orgs", "5")
    assert code == 0 and "Demo orgs already present. 0 fleet org(s) created; 0 credential(s) checked." in text
