from __future__ import annotations

from pathlib import Path

import pytest
from integrations import IntegrationService, connect
from integrations.demo import seed
from streamlit.testing.v1 import AppTest

from tests.keys import CANARY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IntegrationService:
    """A temporary local data dir with the demo orgs; the console's service reads the same env."""
    monkeypatch.setenv("INTEGRATIONS_DATA_DIR", str(tmp_path / "data"))
    for var in ("INTEGRATIONS_PROFILE", "INTEGRATIONS_VALIDATION", "INTEGRATIONS_SANDBOX_OUTAGE"):
        monkeypatch.delenv(var, raising=False)
    svc = connect()
    seed(svc)
    return svc


def app(page: str = "app.py", org: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    if org:
        at.session_state["org"] = org
    at.run()
    assert not at.exception, at.exception
    return at


def rendered(at: AppTest) -> str:
    """Everything the page shows, plus session state."""
    parts: list[str] = []

    def walk(node: object) -> None:
        parts.append(repr(node))
        parts.append(str(getattr(node, "proto", "")))
        children = getattr(node, "children", None) or {}
        for child in children.values() if isinstance(children, dict) else children:
            walk(child)

    walk(at._tree)
    for key in list(at.session_state):
        try:
            parts.append(f"{key}={at.session_state[key]!r}")
        except KeyError:
            continue
    return "\n".join(parts)


def assert_no_canary(at: AppTest) -> None:
    text = rendered(at)
    assert CANARY not in text and CANARY[8:] not in text and CANARY[-12:] not in text
