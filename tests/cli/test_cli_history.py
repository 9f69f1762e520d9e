"""Review round 4, item 20: an operator reads an org's audit trail and a run's changes from the CLI, without
Python. `history` lists one integration's latest events (who did what); `runs` lists the runs and shows one run's
status changes, worst first, by default the last bulk or nightly run (a later single check does not replace it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from integrations import cli

from tests.cli.test_cli import as_json, env, run  # noqa: F401  (the fixture)
from tests.keys import OPENAI_OK, openai_key


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.out._made(), "width", 200)  # one row per line, so what is shown can be searched


def test_history_lists_who_did_what_with_labels_and_json_keeps_values(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    wide: None,
) -> None:
    assert run("org", "create", "acmecorp")[0] == 0
    key_file = tmp_path / "key.txt"
    key_file.write_text(OPENAI_OK)
    assert run("setup", "acmecorp", "openai", "--credential-file", str(key_file), "--actor", "ops@acme")[0] == 0
    assert run("validate", "acmecorp", "openai")[0] == 0
    code, shown = run("history", "acmecorp", "openai")
    assert code == 0 and "Setup" in shown and "Validate" in shown and "ops@acme" in shown
    assert "Not configured -> Valid" in shown and OPENAI_OK not in shown
    code, data = as_json("history", "acmecorp", "openai", "--limit", "1")
    assert code == 0 and [e["action"] for e in data["events"]] == ["VALIDATE"]  # newest first, values kept
    assert data["events"][0]["at"].endswith("Z")
    code, data = as_json("history", "nosuch", "openai")
    assert code == 1 and data["error"]["code"] == "ORG_NOT_FOUND"


def test_runs_show_the_last_bulk_run_until_another_and_any_earlier_one_by_id(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    wide: None,
) -> None:
    for slug in ("acmecorp", "globex"):
        assert run("org", "create", slug)[0] == 0
        key_file = tmp_path / f"{slug}.txt"
        key_file.write_text(openai_key())
        assert run("setup", slug, "openai", "--credential-file", str(key_file), "--skip-validation")[0] == 0
    code, first = as_json("revalidate")  # both PENDING -> VALID: two changes
    assert code == 0
    assert run("validate", "acmecorp", "openai")[0] == 0  # a single check after the run
    code, data = as_json("runs")
    assert code == 0 and data["run"]["run_id"] == first["run_id"] and data["run"]["kind"] == "bulk"
    assert sorted(c["org_slug"] for c in data["changes"]) == ["acmecorp", "globex"]
    assert {r["kind"] for r in data["runs"]} == {"bulk", "single"}
    code, shown = run("runs", first["run_id"])
    assert code == 0 and first["run_id"] in shown and "Pending" in shown and "Valid" in shown
    code, data = as_json("runs", "bulk-nosuchrun")
    assert code == 1 and data["error"]["code"] == "RUN_NOT_FOUND" and "integrations runs" in data["error"]["hint"]
