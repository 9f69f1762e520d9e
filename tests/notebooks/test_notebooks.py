"""Both notebooks run top to bottom on demo data (plus a canary) with the venv's kernel; outputs leak nothing."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from integrations import connect
from integrations.demo import seed
from tests.keys import CANARY

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, parameters: dict[str, object]) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def outputs(nb: nbformat.NotebookNode) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("nb") / "data"
    svc = connect(data_dir=path)
    seed(svc)
    svc.setup("initech", "openai", CANARY, credential_name="canary")
    svc.setup("initech", "anthropic", "sk-ant-api03-CANARYrevoked" + "x" * 30, skip_validation=True)
    svc.validate("initech", "anthropic")
    return str(path)


def test_audit_notebook(data_dir: str) -> None:
    nb = execute("audit_org_integrations.ipynb", {"data_dir": data_dir, "stale_days": 30})
    text = outputs(nb)
    assert '"output_type": "error"' not in text
    assert "hooli" in text and "INSUFFICIENT_PERMISSIONS" in text and "local/v1" in text
    assert text.count("vegaEmbed") >= 2  # both charts rendered
    assert CANARY not in text and CANARY[8:] not in text and "CANARYrevoked" not in text


@pytest.mark.parametrize(("org", "provider", "expected"), [("acmecorp", "gcp", "pass"),
                                                          ("globex", "openai", "INVALID_CREDENTIAL"),
                                                          ("initech", "gcp", "NOT_CONFIGURED")])
def test_troubleshooting_walkthrough(data_dir: str, org: str, provider: str, expected: str) -> None:
    nb = execute("troubleshooting_walkthrough.ipynb", {"data_dir": data_dir, "org_slug": org, "provider": provider})
    text = outputs(nb)
    assert '"output_type": "error"' not in text and expected in text
    assert CANARY not in text and CANARY[8:] not in text
    assert "Validation failed for a valid credential" in text and "$KEY" in text
    assert ("api.openai.com/v1/models" if provider == "openai" else ":testIamPermissions") in text


def test_committed_notebooks_have_no_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
        assert not any(c.cell_type == "code" and "def " in c.source for c in nb.cells), f"{path.name} defines code"
