"""The console keeps showing integrations while the status cache cannot be read, and says so."""

from __future__ import annotations

import os
from pathlib import Path

from integrations import IntegrationService

from tests.console.conftest import app


def break_status_cache() -> None:
    data = Path(os.environ["INTEGRATIONS_DATA_DIR"])
    for leftover in data.glob("status.sqlite*"):
        leftover.unlink()
    (data / "status.sqlite").write_bytes(b"not a database" * 500)
    (data / "status.sqlite").chmod(0o600)  # private, as the data files must be


def test_status_page_and_org_picker_work_from_the_store(demo: IntegrationService) -> None:
    recorded = demo.overview()
    break_status_cache()
    at = app("pages/status.py")
    assert any("STATUS_CACHE_READ_FAILED" in w.value.replace("\\", "") for w in at.warning)  # escaped Markdown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Configured"] == str((recorded.status != "NOT_CONFIGURED").sum()) and metrics["Drifted"] == "0"
    home = app("app.py")
    assert set(home.selectbox(key="org").options) >= {"acmecorp", "globex"}
    setup = app("pages/setup.py", org="acmecorp")
    assert not setup.exception
