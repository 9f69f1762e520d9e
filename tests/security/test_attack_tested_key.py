"""Issue 27: a key tested without saving, and a new org API key, leave no trace: not in the log, the events, the
answer (beyond the hint / the one-time return), nor any file of the real local profile (SQLite, keyring)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from integrations import IntegrationError, IntegrationService

from tests.conftest import ORG
from tests.security.conftest import record

TESTED = "sk-proj-CANARYtest7Xv9Lw3Pm8Rt5Yu2Io0AbCdEfGh"
REFUSED = "sk-proj-CANARYrevoked8Lw3Pm8Rt5Yu2Io0AbCdEf"


def _needles(secret: str) -> list[str]:
    body = secret.split("CANARY", 1)[1]
    return [secret, "CANARY" + body[:12], body[-12:]]


def test_tested_keys_and_org_keys_leave_no_trace(
    local_svc: IntegrationService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [local_svc.test_credential(ORG, "openai", TESTED).model_dump_json()]
    answers.append(local_svc.test_credential(ORG, "openai", REFUSED).model_dump_json())
    with pytest.raises(IntegrationError) as err:
        local_svc.test_credential(ORG, "openai", "CANARYmalformed7Xv9Lw3Pm8Rt5Yu2")
    answers.append(str(err.value))
    org_key = local_svc.register_org("newco")
    rotated = local_svc.rotate_org_key("newco")
    surfaces = {
        "log": caplog.text,
        "events": local_svc.events().to_json(),
        "answers": "\n".join(answers),
        "files": b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()).decode("latin-1"),
    }
    for name, text in surfaces.items():
        for secret in (TESTED, REFUSED, "CANARYmalformed7Xv9Lw3Pm8Rt5Yu2"):
            for needle in _needles(secret):
                assert needle not in text, f"a tested key reached the {name}"
        for key in (org_key, rotated):
            assert key not in text and key[-16:] not in text, f"an org key reached the {name}"
        record("surfaces searched for tested keys and org keys")
