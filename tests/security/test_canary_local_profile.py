"""A recognisable key goes through the real local profile; it is then looked for everywhere. Found nowhere."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from integrations import IntegrationError, IntegrationService

from tests.conftest import ORG
from tests.keys import CANARY

NEEDLES = [CANARY, CANARY[8:], base64.b64encode(CANARY.encode()).decode(), CANARY[-12:]]


def leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def test_canary_is_found_nowhere(
    local_svc: IntegrationService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    result = local_svc.setup(ORG, "openai", CANARY, credential_name="canary", actor="ops")
    texts += [repr(result), str(result), result.model_dump_json()]
    texts += [repr(local_svc.validate(ORG, "openai")), local_svc.get_all(ORG).model_dump_json()]
    revoked = CANARY.replace("CANARY", "CANARYrevoked")
    for key, provider in ((revoked, "openai"), (CANARY + " x", "openai"), (CANARY, "anthropic")):
        with pytest.raises(IntegrationError) as err:
            local_svc.setup(ORG, provider, key)
        texts += [str(err.value), repr(err.value), err.value.message, str(err.value.details)]
        texts += [leak for leak in [revoked] if leak in str(err.value)]
    texts += [repr(r) for r in local_svc.store.list_credentials(active_only=False)]
    texts += [local_svc.events().to_csv(), local_svc.overview().to_csv(), repr(local_svc.cache.all_orgs())]
    texts.append(caplog.text)
    data_dir = tmp_path / "data"
    for path in data_dir.iterdir():
        texts.append(path.read_bytes().decode("latin-1"))
    assert sorted(p.name for p in data_dir.iterdir())[:1]  # the files exist: the search had something to read
    found = [(i, leaks(t)) for i, t in enumerate(texts) if leaks(t)]
    assert found == []
    assert "CANARYrevoked" not in "".join(texts)
