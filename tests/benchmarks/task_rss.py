"""One task of a run over a large fleet stored in the BigQuery double, in its own process: its peak RSS.

`python -m tests.benchmarks.task_rss seed DB N` bulk-inserts N active credentials straight into the double's DuckDB
file (one INSERT ... SELECT FROM range(N): seconds, not N setups); `python -m tests.benchmarks.task_rss task DB`
runs task 0 of 16 through BigQueryStore on that file (the share selected in SQL, streamed, staged in batches) and
prints its report and its peak RSS while the task ran (VmHWM reset before the task: imports, ZetaSQL's WASM
analyzer and DuckDB's buffers included; DuckDB's memory is capped at MEMORY_LIMIT, as BigQuery's lives on Google's
side), the RSS before the task and the growth. The check is a fast fake at 0 latency that
reads the ciphertext (memory is measured, not providers)."""

from __future__ import annotations

import json
import resource
import sys
import time

MEMORY_LIMIT = "48MB"
TASKS = 16


def seed(path: str, n: int) -> None:
    from integrations.store.bigquery import BigQueryStore

    from tests.doubles.bigquery import PROJECT, DuckBigQuery

    client = DuckBigQuery(path=path)
    BigQueryStore(client, PROJECT).init()
    table = f'"{PROJECT}"."organizations"."org_integrations"'
    client.db.execute(
        f"""INSERT INTO {table} SELECT 'cred_' || md5(CAST(i AS VARCHAR))[:24], printf('org-%06d', i),
        ['OPENAI', 'ANTHROPIC', 'GCP'][1 + i % 3], 'key ' || i, CAST(repeat('c', 240) AS BLOB), 'local:v1',
        'sk-...' || (i % 10000), md5(CAST(i AS VARCHAR)), '{{}}', TRUE, 'VALID', NULL, NULL,
        TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00',
        TIMESTAMPTZ '2026-01-01 00:00:00+00', 'bench', 'bench', NULL, 'API' FROM range(?) AS t(i)""",
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

    from tests.doubles.bigquery import PROJECT, DuckBigQuery

    client = DuckBigQuery(path=path, memory_limit=MEMORY_LIMIT)
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

    before, warm = client.jobs, _rss_mib()  # the double is up: its DuckDB file attached, ZetaSQL's WASM loaded
    _reset_peak()  # loading the WASM module peaks higher than it stays: measure the task's own peak from here
    started = time.perf_counter()
    spec = TaskSpec(run_id="bench-rss", index=0, count=TASKS)
    report = run_task(store, check, spec, TaskLimits(concurrency=64, kms_per_minute=10**9), "bench")
    peak = _rss_mib("VmHWM:")  # the peak since the reset: the task's, over the double's resident baseline
    out = {"share": report.share, "checked": report.checked, "jobs": client.jobs - before, "peak_mib": round(peak, 1)}
    out |= {"before_task_mib": round(warm, 1), "growth_mib": round(peak - warm, 1)}
    print(json.dumps(out | {"seconds": round(time.perf_counter() - started, 1)}))


def _rss_mib(field: str = "VmRSS:") -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith(field))
    return kib / 1024


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


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
