"""Issue 27, the reviewer's walk of the CLI: each defect reproduced (it failed on the code before the fix)."""

from __future__ import annotations

import pytest

from tests.cli.test_cli import as_json, env, run  # noqa: F401  (env: the fixture)


def test_revalidate_refuses_an_unknown_or_invalid_org_and_runs_nothing(env: dict[str, str]) -> None:  # noqa: F811
    """#2: `revalidate --org nosuchorg` was `0 checked`, exit 0; `--org globex --org nosuch` checked globex."""
    from integrations import connect

    assert run("demo")[0] == 0
    before = len(connect().events("globex"))
    code, output = run("revalidate", "--org", "nosuchorg")
    assert code == 1 and "ORG_NOT_FOUND" in output and "checked" not in output
    code, body = as_json("revalidate", "--org", "[red]X")
    assert code == 1 and body["error"]["code"] == "INVALID_ORG_SLUG"
    code, body = as_json("revalidate", "--org", "globex", "--org", "nosuch")
    assert code == 1 and body["error"]["code"] == "ORG_NOT_FOUND" and "nosuch" in body["error"]["message"]
    assert len(connect().events("globex")) == before  # nothing was run
    code, body = as_json("revalidate", "--org", "globex")
    assert code == 0 and body["checked"] >= 1


def test_an_inconclusive_validate_leads_with_inconclusive_and_the_kept_status(
    env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#6: it printed `VALID: Inconclusive: OpenAI could not be reached ...`, the old status first."""
    assert run("demo")[0] == 0
    monkeypatch.setenv("INTEGRATIONS_SANDBOX_OUTAGE", "openai")
    code, output = run("validate", "stark-industries", "openai")
    assert code == 1
    assert output.startswith("Inconclusive (status unchanged: Valid): OpenAI could not be reached"), output
    assert "NETWORK_ERROR" in output and "integrations diagnose stark-industries openai" in output
    code, body = as_json("validate", "stark-industries", "openai")
    assert code == 1 and body["validation_status"] == "VALID" and body["error"]["code"] == "NETWORK_ERROR"
