"""Review (round 4) Medium 4: an SDK's debug switch must not print the key. ANTHROPIC_LOG=debug made the Anthropic
SDK log each request's options, its Authorization header with the whole key, to stderr; a root logger at DEBUG
(a host application's choice) did the same. Both run the real SDK, in the process an operator runs."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from integrations import IntegrationService

from tests.conftest import ORG
from tests.keys import ANTHROPIC_OK, OPENAI_OK, service_account_json
from tests.servers import cli_env


@pytest.mark.parametrize("provider,key", [("anthropic", ANTHROPIC_OK), ("openai", OPENAI_OK)])
def test_the_sdks_debug_switch_prints_no_key(tmp_path: Path, provider: str, key: str) -> None:
    env = cli_env(tmp_path / "data") | {"ANTHROPIC_LOG": "debug", "OPENAI_LOG": "debug"}
    subprocess.run(["integrations", "init"], env=env, check=True, capture_output=True)
    subprocess.run(["integrations", "org", "create", "newco"], env=env, check=True, capture_output=True)
    ran = subprocess.run(
        ["integrations", "test", "newco", provider, "--credential-stdin"],
        env=env,
        input=key,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr  # the check ran through the SDK (the sandbox's server)
    assert key not in ran.stdout + ran.stderr and key[-20:] not in ran.stdout + ran.stderr


def test_a_root_logger_at_debug_logs_no_key(local_svc: IntegrationService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger without its own level logs at DEBUG now
    assert local_svc.setup(ORG, "anthropic", ANTHROPIC_OK).success
    assert local_svc.validate(ORG, "anthropic").success
    assert caplog.records, "the check logged (at INFO)"
    assert ANTHROPIC_OK not in caplog.text and ANTHROPIC_OK[-20:] not in caplog.text


def test_a_root_logger_at_debug_logs_no_google_token_request(
    local_svc: IntegrationService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """google-auth logs its token requests and answers at DEBUG when asked (GOOGLE_SDK_PYTHON_LOGGING_SCOPE): the
    signed assertion (a JWT, "eyJ...") that buys an access token, and the token. Neither is logged."""
    monkeypatch.setenv("GOOGLE_SDK_PYTHON_LOGGING_SCOPE", "google")
    caplog.set_level(logging.DEBUG)
    key_file = service_account_json("sa@acme-prod.iam.gserviceaccount.com", "acme-prod")
    assert local_svc.setup(ORG, "gcp", key_file).success
    assert "eyJ" not in caplog.text and "ya29." not in caplog.text
