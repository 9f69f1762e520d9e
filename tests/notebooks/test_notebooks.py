"""Both notebooks run top to bottom on demo data (plus a canary) with the venv's kernel; outputs leak nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from integrations import connect
from integrations.demo import seed
from nbclient import NotebookClient

from tests.keys import CANARY, admin_key

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


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
    svc.setup("umbrella", "anthropic", admin_key("anthropic", "age30h-exp6d"), credential_name="late costs")
    return str(path)


def test_audit_notebook(data_dir: str) -> None:
    nb = execute("audit_org_integrations.ipynb", {"data_dir": data_dir, "stale_days": 30})
    text = outputs(nb)
    assert '"output_type": "error"' not in text
    assert "hooli" in text and "INSUFFICIENT_PERMISSIONS" in text and "local/v1" in text
    assert "GCP_DOMAIN_RESTRICTED_SHARING" in text and "GCP_EXPORT_WRONG_LOCATION" in text  # keyless integrations
    assert "tenant_action" in text  # who must act on each problem (audit.who_must_act)
    assert text.count("image/svg+xml") >= 2 and "vegaEmbed" not in text  # both charts, as inline SVG
    assert CANARY not in text and CANARY[8:] not in text and "CANARYrevoked" not in text
    assert "PENDING_FIRST_DATA" in text and "DATA_STALE:" in text  # issue 26: the freshness table, late sources
    assert "umbrella" in text and "expires 20" in text  # and the keys expiring soon
    flips = json.dumps(nb.cells[-1].outputs)  # 9. status flips over the window: the revoked key's PENDING -> INVALID
    assert "initech" in flips and "INVALID_CREDENTIAL" in flips and "Create a new key" in flips


@pytest.mark.parametrize(("org", "provider", "expected"), [("acmecorp", "gcp", "pass"),
                                                          ("globex", "openai", "INVALID_CREDENTIAL"),
                                                          ("initech", "gcp", "NOT_CONFIGURED")])
def test_troubleshooting_walkthrough(data_dir: str, org: str, provider: str, expected: str) -> None:
    nb = execute("troubleshooting_walkthrough.ipynb", {"data_dir": data_dir, "org_slug": org, "provider": provider})
    text = outputs(nb)
    assert '"output_type": "error"' not in text and expected in text
    assert CANARY not in text and CANARY[8:] not in text
    assert "Validation failed for a valid credential" in text and "$KEY" in text
    assert "bq add-iam-policy-binding" in text and "GCP_KEY_CREATION_DISABLED" in text  # keyless: commands, blockers
    assert "GCP_DOMAIN_RESTRICTED_SHARING" in text and "stark-industries" in text
    assert ("api.openai.com/v1/models" if provider == "openai" else ":testIamPermissions") in text
    summary = nb.cells[-1].outputs[0]
    assert summary.output_type == "stream" and summary.text.startswith(f"{org} · ")  # text, not a Python repr
    if expected != "pass":
        assert "What to do:" in summary.text and "…" not in summary.text and "..." not in summary.text


def test_committed_notebooks_have_no_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
        assert not any(c.cell_type == "code" and "def " in c.source for c in nb.cells), f"{path.name} defines code"


@pytest.fixture
def jupyter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """As Jupyter runs them: no INTEGRATIONS_* in the environment, the kernel in notebooks/."""
    for var in [v for v in os.environ if v.startswith("INTEGRATIONS_")]:
        monkeypatch.delenv(var)


def run_as_jupyter_does(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def test_notebooks_find_the_projects_data_with_no_environment(jupyter_env: None) -> None:
    """`make run` created ROOT/.data with the demo orgs; opened from notebooks/, both notebooks read it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATIONS_")}
    demo = [sys.executable, "-m", "integrations.cli", "demo"]  # what `make run` does: idempotent
    subprocess.run(demo, cwd=ROOT, env=env, check=True, capture_output=True)
    audit_text = outputs(run_as_jupyter_does("audit_org_integrations.ipynb"))
    assert '"output_type": "error"' not in audit_text
    assert "globex" in audit_text and "umbrella" in audit_text and "hooli" in audit_text  # the demo orgs
    walk = run_as_jupyter_does("troubleshooting_walkthrough.ipynb")
    assert '"output_type": "error"' not in outputs(walk)
    assert walk.cells[-1].outputs[0].text.startswith("acmecorp · OpenAI: all 6 checks passed")


def test_the_audit_notebook_answers_an_empty_store(tmp_path: Path) -> None:
    connect(data_dir=tmp_path / "empty")
    text = outputs(execute("audit_org_integrations.ipynb", {"data_dir": str(tmp_path / "empty")}))
    assert '"output_type": "error"' not in text and text.count("image/svg+xml") >= 2


def test_exported_html_draws_its_charts_without_the_network(data_dir: str, tmp_path: Path) -> None:
    """The charts are inline SVG: an HTML export shows them with no script fetched from anywhere."""
    from nbconvert import HTMLExporter

    nb = execute("audit_org_integrations.ipynb", {"data_dir": data_dir})
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert html.count('src="data:image/svg+xml;base64,') >= 2  # each chart is an image inside the file
    assert "vegaEmbed" not in html and "cdn.jsdelivr.net/npm/vega" not in html
