"""One task of a run over a large fleet stored in the BigQuery double, in its own process: its peak RSS.

`python -m tests.benchmarks.task_rss seed DB N` bulk-inserts N active credentials straight into the double's DuckDB
file (one INSERT ... SELECT FROM range(N): seconds, not N setups); `python -m tests.benchmarks.task_rss task DB`
runs task 0 of 16 through BigQueryStore on that file (the share selected in SQL, streamed, staged in batches) and
prints its report and the task process's peak RSS over its whole life (VmHWM: imports included). The double (DuckDB
and ZetaSQL's WASM analyzer) runs in a process of its own (remote_bigquery.py), as BigQuery lives on Google's side,
and the task's rows cross to it a page at a time; also printed: the RSS before the task and the growth. The check
is a fast fake at 0 latency that reads the ciphertext (memory is measured, not providers)."""

from __future__ import annotations

import json
import resource
import sys
import time

MEMORY_LIMIT = "48MB"
TASKS = 16
PROJECT = "test-project"  # the double's (tests/doubles/bigquery.PROJECT), not imported: it loads the double


def seed(path: str, n: int) -> None:
    from integrations.store.bigquery import BigQueryStore

    from tests.doubles.bigquery import PROJECT, DuckBigQuery

    client = DuckBigQuery(path=path)
    BigQueryStore(client, PROJECT).init()
    table = f'"{PROJECT}"."organizations"."org_integrations"'
    client.db.execute(
        f"""INSERT INTO {table} (credential_id, org_slug, provider, credential_name, encrypted_credential, key_ref,
        credential_hint, credential_fingerprint, metadata, is_active, validation_status, last_validated_at, created_at,
        updated_at, created_by, updated_by, credential_kind)
        SELECT 'cred_' || md5(CAST(i AS VARCHAR))[:24], printf('org-%06d', i),
        ['OPENAI', 'ANTHROPIC', 'GCP'][1 + i % 3], 'key ' || i, CAST(repeat('c', 240) AS BLOB), 'local:v1',
        'sk-...' || (i % 10000), md5(CAST(i AS VARCHAR)), '{{}}', TRUE, 'VALID', TIMESTAMPTZ '2026-01-01 00:00:00+00',
        TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00', 'bench', 'bench', 'API'
        FROM range(?) AS t(i)""",  # columns named: the table grows columns (issue 26's) that a seed leaves NULL
        [n],
    )
    client.db.execute("CHECKPOINT")


def task(path: str) -> None:
    from integrations.domain import Action, CheckResult, Outcome, Status, StoredCredential, make_event
    from integrations.store.bigquery import BigQueryStore
    from integrations.taskspec import TaskLimits, TaskSpec
    from integrations.usecases.checks import Assessment
    from integrations.usecases.runs import run_task
    from integrations.verdict import Verdict

    from tests.benchmarks.remote_bigquery import serve

    _task_imports()

    manager, client = serve(path, MEMORY_LIMIT, PROJECT)  # the double (DuckDB, ZetaSQL) in a process of its own
    store = BigQueryStore(client, PROJECT)
    store.init()
    verdict = Verdict(Status.VALID, Outcome.SUCCESS, True, False)

    def check(record: StoredCredential, actor: str) -> Assessment:
        assert record.encrypted_credential  # noqa: S101 - the row came with its ciphertext
        event = make_event(
            record.org_slug,
            record.provider,
            Action.VALIDATE,
            Outcome.SUCCESS,
            actor,
            credential_id=record.credential_id,
            status_before=record.validation_status,
            status_after=Status.VALID,
        )
        return Assessment(record, CheckResult(status=Status.VALID), Status.VALID, event.at, event, verdict)

    before, warm = client.jobs, _rss_mib()  # the store is up, the double serves from its own process
    started = time.perf_counter()
    spec = TaskSpec(run_id="bench-rss", index=0, count=TASKS)
    report = run_task(store, check, spec, TaskLimits(concurrency=64, kms_per_minute=10**9), "bench")
    peak = _rss_mib("VmHWM:")  # the process's peak over its life: imports, the store, the task
    out = {"share": report.share, "checked": report.checked, "jobs": client.jobs - before, "peak_mib": round(peak, 1)}
    out |= {"before_task_mib": round(warm, 1), "growth_mib": round(peak - warm, 1)}
    print(json.dumps(out | {"seconds": round(time.perf_counter() - started, 1), "modules": _heavy()}))
    manager.shutdown()


def _heavy() -> list[str]:
    """Heavy modules loaded in this process (none of the double's: it runs in its own)."""
    return sorted(m for m in ("duckdb", "wasmtime", "pandas", "streamlit") if m in sys.modules)


def _rss_mib(field: str = "VmRSS:") -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith(field))
    return kib / 1024


def _task_imports() -> None:
    """What a real task process loads beside the store: the CLI it runs, KMS, and the providers' SDKs (its checks
    here are a fake, but its imports are counted)."""
    import integrations.cli  # noqa: F401
    import integrations.crypto.gcp_kms  # noqa: F401
    import integrations.providers.anthropic_keys  # noqa: F401
    import integrations.providers.gcp_keyless  # noqa: F401
    import integrations.providers.gcp_service_account  # noqa: F401
    import integrations.providers.openai_keys  # noqa: F401


def imports() -> None:
    """What a task process holds before it reads anything: the CLI a Cloud Run task runs, and its BigQuery store."""
    import integrations.cli  # noqa: F401
    import integrations.store.bigquery  # noqa: F401

    print(json.dumps({"imports_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        seed(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "imports":
        imports()
    else:
        task(sys.argv[2])
