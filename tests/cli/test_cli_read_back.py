"""Issue 27 (review 19): `get --json` and `status --json` carry the credential's id and its metadata (the text `get`
showed the id; the JSON did not), from the same read model as the REST answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from integrations.cli import app
from typer.testing import CliRunner

from tests.keys import OPENAI_OK


def test_get_and_status_json_read_back_the_credential_id_and_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "INTEGRATIONS_SANDBOX_OUTAGE"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def as_json(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert runner.invoke(app, ["init"]).exit_code == 0
    as_json("org", "create", "acmecorp")
    (tmp_path / "key.txt").write_text(OPENAI_OK)
    meta = {"environment": "production", "cost_center": 42}
    setup = as_json(
        "setup", "acmecorp", "openai", "--credential-file", str(tmp_path / "key.txt"), "--metadata", json.dumps(meta)
    )
    one = as_json("get", "acmecorp", "openai")
    assert (one["credential_id"], one["metadata"]) == (setup["credential_id"], meta)
    assert one["credential_hint"] == "sk-proj-...Yz99"  # every field kept
    status = as_json("status", "acmecorp")["integrations"]
    assert status["OPENAI"] == one and status["GCP"] == {"provider": "GCP", "status": "NOT_CONFIGURED"}
