"""The two jobs' identities at work on the cloud doubles (BigQuery's ZetaSQL double, the KMS double over gRPC, the
PostgREST double): a task runs with the tasks' job's backends and only Decrypt (no Encrypt, no MacSign) and sends
Supabase nothing, holding no Supabase key; finalize runs with KMS denied altogether and syncs Supabase."""

from __future__ import annotations

from pathlib import Path

import pytest
from integrations import connect
from integrations.domain import Provider, Status
from integrations.store.bigquery import BigQueryStore
from integrations.taskspec import TaskSpec

from tests.adapters.gcp_profile import gcp_doubles
from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.doubles.pg_cluster import Cluster
from tests.keys import ANTHROPIC_OK, OPENAI_OK
from tests.runs.test_deploy import RENDERED, _container, _load

ORGS = ("org-a", "org-b")


def test_a_task_needs_decrypt_only_and_no_supabase_and_finalize_needs_no_kms(
    monkeypatch: pytest.MonkeyPatch, pg: Cluster, tmp_path: Path
) -> None:
    tasks_env = {e["name"]: e.get("value") for e in _container(_load("job.yaml"))["env"]}
    assert "SUPABASE_URL" not in RENDERED["job.yaml"] and tasks_env["INTEGRATIONS_STATUS_CACHE"] == "sqlite"
    client = DuckBigQuery()
    make_store = lambda settings: BigQueryStore(client, PROJECT, settings.bigquery_dataset, timeout=5)  # noqa: E731
    with gcp_doubles(monkeypatch, pg, make_store) as (settings, supabase, kms_state):
        supabase.seed_orgs(list(ORGS))
        operator = connect(settings)  # the API's identity: sets the credentials up
        for org in ORGS:
            operator.register_org(org)
            operator.setup(org, Provider.OPENAI, OPENAI_OK)
            operator.setup(org, Provider.ANTHROPIC, ANTHROPIC_OK)

        # integrations-tasks: the job's backends (a local status cache, no Supabase settings at all), Decrypt only
        tasks_settings = settings.model_copy(
            update={
                "status_cache": tasks_env["INTEGRATIONS_STATUS_CACHE"],
                "data_dir": tmp_path / "task",
                "supabase_url": None,
                "supabase_service_role_key": None,
                "store_timeout_s": float(tasks_env["INTEGRATIONS_STORE_TIMEOUT_S"]),
            }
        )
        kms_state.deny = {"Encrypt", "MacSign", "GetCryptoKey"}
        requests = supabase.faults.requests
        task = connect(tasks_settings).revalidate_task(TaskSpec(run_id="nightly-1", index=0, count=1))
        assert task.checked == 4 and task.outcomes == {"VALID": 4}
        assert supabase.faults.requests == requests  # a task sends Supabase nothing

        # integrations-finalize: no KMS role at all; the Supabase key
        kms_state.deny = True
        run = connect(settings.model_copy(update={"store_timeout_s": 900.0})).finalize_run("nightly-1")
        assert run.checked == 4 and run.applied == 4 and run.warnings == []
        assert supabase.faults.requests > requests  # the sync
        assert all(
            operator.cache.get_org(org).status_of(p).status == Status.VALID
            for org in ORGS
            for p in (Provider.OPENAI, Provider.ANTHROPIC)
        )
