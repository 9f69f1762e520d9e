"""The console on a bad setting or a missing data dir: the catalog error and its fix on the page, no traceback, and
nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.conftest import app


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"INTEGRATIONS_PROFILE": "bogus"}, "INTEGRATIONS_PROFILE='bogus'"),
        ({"INTEGRATIONS_PROVIDER_TIMEOUT_S": "-5"}, "INTEGRATIONS_PROVIDER_TIMEOUT_S='-5'"),
        ({}, "Run `integrations init`"),  # the data dir does not exist
    ],
    ids=["bad profile", "negative timeout", "missing data dir"],
)
def test_the_console_shows_the_configuration_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    at = app()  # asserts no exception
    assert len(at.error) == 1 and "CONFIGURATION_ERROR" in at.error[0].value
    assert expected in at.error[0].value.replace("\\", "")
    assert not (tmp_path / "data").exists()
