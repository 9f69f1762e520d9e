"""Issue 28, N11: any tenant's single validate after a bulk or nightly run must not hide that run's
ALERT_DELIVERY_FAILED warning (the status page reads it from `run_changes`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from integrations import alerts, connect
from integrations.settings import Settings
from integrations.usecases import alerting

from tests.keys import openai_key
from tests.security.conftest import record
from tests.servers import refused_url


def test_a_single_validate_does_not_hide_the_last_runs_undelivered_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts, "BACKOFF_S", 0.01)
    svc = connect(
        Settings(
            _env_file=None,
            data_dir=tmp_path / "data",
            attempts_per_minute=0,
            alert_webhook_url=f"{refused_url()}/hooks/SECRET",  # nothing listens: the run's alert is not delivered
            allow_http_endpoints=True,
        )
    )
    for org, key in (("acmecorp", openai_key("revoked")), ("globex", openai_key())):
        svc.register_org(org)
        svc.setup(org, "openai", key, skip_validation=True)
    report = svc.revalidate_many(actor="nightly")
    assert report.alert is not None and report.alert.failed and report.changed == 2
    assert svc.run_changes().attrs["undelivered"] == 2

    svc.validate("globex", "openai")  # another tenant's check afterwards: VALID again, no flip, no alert
    assert alerting.settle(30)
    shown = svc.run_changes().attrs["undelivered"]
    record("N11 undelivered run alerts hidden by a later single validate", 2 - shown)
    assert shown == 2, "the run's ALERT_DELIVERY_FAILED warning survives a later single check"
