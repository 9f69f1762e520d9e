"""A provider registered from outside the package (tests/registry/example_provider.py, named in
INTEGRATIONS_PROVIDER_MODULES) is offered, without editing them, by the API's schema, the CLI, the console's Setup
page and the service (its status-cache columns follow from its name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "tests.registry.example_provider"

PROBE = """
import contextlib, io, json
from integrations import connect
from integrations.api import create_app
from integrations.cli import app
from integrations.demo import seed
from streamlit.testing.v1 import AppTest

found = {}
schema = create_app().openapi()
found["enum"] = schema["components"]["schemas"]["Provider"]["enum"]
found["fields"] = list(schema["components"]["schemas"]["IntegrationsByProvider"]["properties"])
found["path"] = [p.get("description", "") for p in schema["paths"]["/api/v1/integrations/{org_slug}/{provider}"]["get"]
                 ["parameters"] if p["name"] == "provider"]
for argv in (["providers"], ["setup", "--help"]):
    text = io.StringIO()
    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(text):
        app(argv)
    found[" ".join(argv)] = text.getvalue()

svc = connect()
seed(svc)
at = AppTest.from_file("app.py", default_timeout=60)
at.session_state["org"] = "initech"
at.run()
radio = at.radio(key="setup_provider")
found["console"] = list(radio.options)  # as shown: the labels
at.radio(key="setup_provider").set_value("EXAMPLE").run()
at.text_input(key="setup_credential").input("ex-" + "k" * 24)
at.button(key="setup_submit").click().run()
found["console_errors"] = [e.value for e in at.error] + [str(e) for e in at.exception]
one = svc.get_one("initech", "example")
found["stored"] = [one.status.value, one.provider.label, one.credential_hint]
found["all"] = list(svc.get_all("initech").model_dump(mode="json")["integrations"])
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def offered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = tmp_path_factory.mktemp("registry")
    env = os.environ | {"INTEGRATIONS_PROVIDER_MODULES": EXAMPLE, "INTEGRATIONS_DATA_DIR": str(data)}
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "INTEGRATIONS_SANDBOX_OUTAGE"):
        env.pop(var, None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_api_schema_offers_it(offered: dict) -> None:
    assert offered["enum"] == ["OPENAI", "ANTHROPIC", "GCP", "EXAMPLE"]
    assert offered["fields"] == ["OPENAI", "ANTHROPIC", "GCP", "EXAMPLE"]
    assert offered["path"] == ["The provider, in any case: openai, anthropic, gcp, example."]


def test_the_cli_offers_it(offered: dict) -> None:
    assert "example      Example Cloud" in offered["providers"].splitlines()
    assert "openai, anthropic, gcp, example" in " ".join(offered["setup --help"].split())


def test_the_console_offers_it_and_sets_it_up(offered: dict) -> None:
    assert offered["console"] == ["OpenAI", "Anthropic", "Google Cloud", "Example Cloud"]
    assert offered["console_errors"] == []
    assert offered["stored"] == ["VALID", "Example Cloud", "ex-...kkkk"]
    assert offered["all"] == ["OPENAI", "ANTHROPIC", "GCP", "EXAMPLE"]


def test_without_the_extension_point_it_is_not_offered() -> None:
    env = {k: v for k, v in os.environ.items() if k != "INTEGRATIONS_PROVIDER_MODULES"}
    code = "from integrations import Provider; print(','.join(Provider))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "OPENAI,ANTHROPIC,GCP"


def test_a_module_that_registers_nothing_is_refused() -> None:
    env = os.environ | {"INTEGRATIONS_PROVIDER_MODULES": "json"}
    code = "from integrations import Provider; list(Provider)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "json registers no provider" in done.stderr
