"""A nightly run re-validates keyless integrations with one token per org per run, not per check: live validation
against the HTTP double of Google (the runtime's ADC from GOOGLE_APPLICATION_CREDENTIALS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from integrations import connect
from integrations.domain import Provider, Status
from integrations.providers.gcp_keyless import principal_id
from integrations.taskspec import TaskSpec

from tests.doubles.google_keyless import PLATFORM, RUNTIME, GoogleDouble, Table, live_settings
from tests.doubles.providers import public_pem
from tests.keys import service_account_json
from tests.servers import serve

ORGS = ("acme", "globex", "initech")


def table(org: str) -> str:
    return f"{org}-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"


def principal(org: str) -> str:
    return f"{principal_id(org)}@{PLATFORM}.iam.gserviceaccount.com"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    double = GoogleDouble()
    key = service_account_json(RUNTIME, PLATFORM)
    double.runtime_certs = {json.loads(key)["private_key_id"]: public_pem(key)}
    for org in ORGS:
        double.accounts.add(principal(org))
        double.job_users.setdefault(PLATFORM, set()).add(principal(org))
        double.tables[table(org)] = Table()
        double.grant_reader(principal(org), table(org).rsplit(".", 1)[0])
    with serve(double.route) as (url, _):
        adc = tmp_path / "adc.json"
        adc.write_text(json.dumps({**json.loads(key), "token_uri": f"{url}/token"}))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        svc = connect(data_dir=tmp_path / "data", **live_settings(url))  # SQLite: it stages task results
        for org in ORGS:
            svc.register_org(org)
            assert svc.setup_keyless(org, table(org)).validation_status == Status.VALID
        double.calls.clear()
        yield double, svc


def test_a_run_checks_every_keyless_org_with_one_token_each(world) -> None:
    double, svc = world
    report = svc.revalidate_many(providers=["gcp"])
    assert report.outcomes == {"VALID": 3}
    mints = double.by("generateAccessToken")
    assert sorted(c.resource for c in mints) == sorted(principal(o) for o in ORGS)  # one per org
    assert len(double.by("tables.get")) == len(double.by("jobs.insert")) == 3
    assert len(double.calls) == 3 * 3  # per org: 1 mint + tables.get + dry run (ADC token still fresh)


def test_a_nightly_task_mints_one_token_per_org_and_keeps_a_fresh_setup_through_propagation(world) -> None:
    double, svc = world
    double.revoke_reader(principal("globex"), table("globex").rsplit(".", 1)[0])
    report = svc.revalidate_task(TaskSpec(run_id="nightly-1", index=0, count=1))
    assert report.checked == 3 and len(double.by("generateAccessToken")) == 3
    # within 10 minutes of setup the denial is propagation: inconclusive, VALID kept until a later run
    assert svc.get_one("globex", Provider.GCP).status == Status.VALID
