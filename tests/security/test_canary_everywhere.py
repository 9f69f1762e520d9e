"""Canary credentials set up through every entry point (library, CLI via stdin, API, console form), then looked
for as text, base64 and fragments in every surface. Found nowhere."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationError, connect
from integrations.api import create_app
from integrations.demo import seed

from tests.console.conftest import app, rendered
from tests.notebooks.test_notebooks import execute, outputs
from tests.security.conftest import record

CANARIES = {
    "library": "sk-proj-CANARYlib7Xv9Lw3Pm8Rt5Yu2Io0AbCdEf",
    "cli": "sk-ant-api03-CANARYcli7Xv9Lw3Pm8Rt5Yu2Io0AbCdEf",
    "api": "sk-proj-CANARYapi7Xv9Lw3Pm8Rt5Yu2Io0AbCdEf",
    "console": "sk-svcacct-CANARYcon7Xv9Lw3Pm8Rt5Yu2Io0AbCdEf",
}
REJECTED = "sk-proj-CANARYrevoked9Lw3Pm8Rt5Yu2Io0AbCdEf"


def needles() -> list[str]:
    out = []
    for secret in [*CANARIES.values(), REJECTED]:
        body = secret.split("CANARY", 1)[1]
        out += [
            secret,
            "CANARY" + body[:12],
            body[-12:],
            base64.b64encode(secret.encode()).decode(),
            base64.urlsafe_b64encode(secret.encode()).decode(),
        ]
    return out


def test_canaries_are_found_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, including the SDKs' and httpx's
    data = tmp_path / "data"
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(data))
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION"):
        monkeypatch.delenv(var, raising=False)
    svc = connect()
    keys = seed(svc)
    surfaces: dict[str, str] = {}

    # library
    result = svc.setup("initech", "openai", CANARIES["library"], actor="lib")
    surfaces["library results (repr, str, json)"] = repr(result) + str(result) + result.model_dump_json()
    errors = []
    for bad in (REJECTED, CANARIES["library"] + " extra"):
        try:
            svc.setup("initech", "openai", bad)
        except IntegrationError as exc:
            errors.append(str(exc) + repr(exc) + "".join(traceback.format_exception(exc)) + str(exc.details))
    surfaces["exception messages and tracebacks"] = "\n".join(errors)

    # CLI through stdin, in a real process
    env = {**os.environ, "INTEGRATIONS_DATA_DIR": str(data)}
    done = subprocess.run(
        [sys.executable, "-m", "integrations.cli", "setup", "initech", "anthropic", "--credential-stdin", "--json"],
        input=CANARIES["cli"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    surfaces["CLI stdout and stderr"] = done.stdout + done.stderr

    # API
    client = TestClient(create_app(svc))
    headers = {"X-API-Key": keys["umbrella"]}
    responses = [
        client.post(
            "/api/v1/integrations/umbrella/openai/setup", headers=headers, json={"credential": CANARIES["api"]}
        ),
        client.post("/api/v1/integrations/umbrella/openai/setup", headers=headers, json={"credential": REJECTED}),
        client.post(
            "/api/v1/integrations/umbrella/openai/setup", headers=headers, json={"credential": [CANARIES["api"]]}
        ),
        client.get("/api/v1/integrations/umbrella", headers=headers),
        client.post("/api/v1/integrations/umbrella/openai/validate", headers=headers),
    ]
    assert responses[0].status_code == 200
    surfaces["API responses"] = "\n".join(r.text + str(r.headers) for r in responses)

    # console form
    at = app(org="stark-industries")
    at.text_input(key="setup_credential").input(CANARIES["console"])
    at.button(key="setup_submit").click().run()
    assert "rotated" in at.success[0].value
    surfaces["console elements and session state"] = rendered(at)

    # everything at rest and derived
    surfaces["models (repr of every stored row)"] = "\n".join(
        repr(r) for r in svc.store.list_credentials(active_only=False)
    )
    surfaces["event rows"] = svc.events().to_csv()
    surfaces["status cache rows"] = repr(svc.cache.all_orgs())
    surfaces["overview"] = svc.overview().to_csv()
    nb = outputs(execute("audit_org_integrations.ipynb", {"data_dir": str(data)}))
    nb += outputs(
        execute(
            "troubleshooting_walkthrough.ipynb", {"data_dir": str(data), "org_slug": "initech", "provider": "openai"}
        )
    )
    surfaces["notebook outputs"] = nb
    surfaces["captured logs (DEBUG, every logger)"] = caplog.text
    files = [p for p in data.rglob("*") if p.is_file()]
    surfaces[f"raw bytes of {len(files)} data files"] = "\n".join(p.read_bytes().decode("latin-1") for p in files)

    hits = {name: [n for n in needles() if n in text] for name, text in surfaces.items()}
    for name, text in surfaces.items():
        assert text, f"nothing captured for {name}: the search would prove nothing"
    record("canary surfaces searched", len(surfaces))
    record("canary entry points", len(CANARIES))
    record("canary hits", sum(len(h) for h in hits.values()))
    assert {name: h for name, h in hits.items() if h} == {}
    hints = [r.credential_hint for r in svc.store.list_credentials()]
    assert sum(h.endswith("...CdEf") for h in hints) == 4  # all four canaries really were stored
