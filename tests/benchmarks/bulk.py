"""The bulk re-validation figures of `make bench`, in a fresh process over a stored data set (as the CLI's
`integrations revalidate` and a nightly task run it): python -m tests.benchmarks.bulk DATA_DIR SEQUENTIAL_S.

Each run at 32 and 16 per provider is measured start to end against the concurrency bound (providers x concurrency /
round trip), with its steady rate (the middle 80% of its checks, from the progress callback) and what it pays
before its first result and after its last; the CPU ceiling is the same run with a provider that answers at once."""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path
from typing import NamedTuple

from tests.benchmarks.__main__ import CONCURRENCY, LATENCY_MS, LEVELS, REPEAT, _cpu, line, service


class Timed(NamedTuple):
    """One bulk run: its wall and CPU time, the steady rate (the middle 80% of its checks), and the time before
    its first result and after its last (loading the records and one round trip; the last write and reconcile)."""

    wall: float
    cpu: float
    steady: float
    before_first: float
    after_last: float
    outcomes: dict[str, int]


def timed_run(svc, concurrency: int) -> Timed:
    marks: list[float] = []
    before, started = _cpu(), time.perf_counter()
    report = svc.revalidate_many(concurrency=concurrency, progress=lambda *_: marks.append(time.perf_counter()))
    wall = time.perf_counter() - started
    middle = marks[len(marks) // 10 : len(marks) * 9 // 10]
    steady = (len(middle) - 1) / (middle[-1] - middle[0])
    return Timed(wall, _cpu() - before, steady, marks[0] - started, started + wall - marks[-1], report.outcomes)


def _cpu_ceiling(data_dir: Path, total: int) -> float:
    """Checks per second of a bulk run whose provider answers at once: the most this process's CPU allows (the
    checks, the writes and the reconcile), measured on the same data (best of REPEAT after a warm-up)."""
    svc = service(data_dir, latency_ms=0)
    svc.revalidate_many(concurrency=CONCURRENCY)
    walls = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        svc.revalidate_many(concurrency=CONCURRENCY)
        walls.append(time.perf_counter() - started)
    return total / min(walls)


COMPARE_CONCURRENCY = 16  # per provider: issue 24's comparison of the two bulk runtimes
COMPARE_JOB_S = 1.0  # the BigQuery double's time per job in that comparison


def one_task_run(svc, concurrency: int, progress=None) -> tuple[int, dict[str, int]]:
    """A bulk re-validation as a run of one task that finalizes itself: stage as it goes, apply in one write,
    sync, alert, then reconcile (what the console and the CLI would run on the task-run runtime)."""
    import uuid

    from integrations.taskspec import TaskSpec

    run_id = f"bulk-{uuid.uuid4().hex[:16]}"
    svc.revalidate_task(TaskSpec(run_id=run_id), concurrency, progress=progress)
    report = svc.finalize_run(run_id)
    svc.reconcile()
    return report.checked, report.outcomes


def in_process_run(svc, concurrency: int, progress=None) -> tuple[int, dict[str, int]]:
    """The in-process runtime: revalidate_many (checkpool's CheckRun, verdicts written in batches of 500)."""
    report = svc.revalidate_many(concurrency=concurrency, progress=progress)
    return report.total, report.outcomes


def bigquery_double(data_dir: Path):
    """The bulk data set copied into the BigQuery double (the same rows, so the same keyring opens them), with a
    SQLite status cache beside it; (service, client)."""
    import sqlite3

    import pandas as pd
    from integrations.bootstrap import build_validators
    from integrations.crypto.local import LocalKeyring
    from integrations.service import IntegrationService
    from integrations.settings import Settings
    from integrations.status_cache.sqlite import SqliteStatusCache
    from integrations.store.bigquery import BigQueryStore

    from tests.doubles.bigquery import PROJECT, DuckBigQuery

    client = DuckBigQuery()
    store = BigQueryStore(client, PROJECT)
    store.init()
    with sqlite3.connect(data_dir / "warehouse.sqlite") as conn:
        rows = pd.read_sql("SELECT * FROM org_integrations", conn)
    rows["is_active"] = rows["is_active"].astype(bool)
    client.db.register("seed_rows", rows)
    table = f'"{PROJECT}"."organizations"."org_integrations"'
    client.db.execute(f"INSERT INTO {table} BY NAME SELECT * FROM seed_rows")
    client.db.unregister("seed_rows")
    cache = SqliteStatusCache(data_dir.parent / f"{data_dir.name}-bq-status.sqlite")
    cache.init()
    settings = Settings(_env_file=None, data_dir=data_dir, sandbox_latency_ms=LATENCY_MS, attempts_per_minute=0)
    svc = IntegrationService(
        store, LocalKeyring(data_dir / "local.keyring"), cache, build_validators(settings), attempts_per_minute=0
    )
    return svc, client


def compare_runtimes(data_dir: Path, runners: dict) -> None:
    """Issue 24: the bulk runtimes side by side at a 200 ms provider and 16 per provider, over the same data, on
    SQLite and on the BigQuery double at ~1 s per job, in one run: wall time, CPU and store queries / BigQuery
    jobs. On SQLite each runtime runs twice, in the order A B B A (a loaded machine drifts)."""
    svc = service(data_dir)
    total = len(svc.store.list_credentials())
    names = list(runners)
    for name in names + names[::-1]:
        before, cpu, started = svc.store.queries, _cpu(), time.perf_counter()
        checked, outcomes = runners[name](svc, COMPARE_CONCURRENCY)
        wall = time.perf_counter() - started
        line(
            f"{name}, SQLite, {total} at {LATENCY_MS} ms, {COMPARE_CONCURRENCY}/provider",
            f"{wall:.2f}s ({_cpu() - cpu:.1f}s CPU), {svc.store.queries - before} store queries, {checked} checked "
            f"{outcomes}",
        )
    bq, client = bigquery_double(data_dir)
    client.job_delay_s = COMPARE_JOB_S
    for name in names:
        before, cpu, started = client.jobs, _cpu(), time.perf_counter()
        checked, outcomes = runners[name](bq, COMPARE_CONCURRENCY)
        wall = time.perf_counter() - started
        line(
            f"{name}, BigQuery double ({COMPARE_JOB_S:g} s/job)",
            f"{wall:.2f}s ({_cpu() - cpu:.1f}s CPU), {client.jobs - before} jobs, {checked} checked {outcomes}",
        )


RUNTIMES = {
    "bulk as a one-task run (stage, finalize)": one_task_run,
    "bulk in process (revalidate_many)": in_process_run,
}


def main(data_dir: Path, sequential: float) -> None:
    compare_runtimes(data_dir, RUNTIMES)
    svc = service(data_dir)
    records = svc.store.list_credentials()
    providers = len({r.provider for r in records})
    ceiling = _cpu_ceiling(data_dir, len(records))
    line(
        f"CPU ceiling: the same run with a 0 ms provider, {CONCURRENCY}/provider",
        f"{ceiling:.0f} checks/s (what this process can do when no check waits)",
    )
    for concurrency in LEVELS:
        runs = [timed_run(svc, concurrency) for _ in range(REPEAT)]
        run = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]  # the median run
        bound = providers * concurrency / (LATENCY_MS / 1000)  # checks per second with every slot always busy
        rate = len(records) / run.wall
        line(
            f"bulk re-validation of {len(records)}, {concurrency}/provider, one process",
            f"{run.wall:.2f}s (median of {REPEAT}), {run.outcomes}, {run.cpu / len(records) * 1000:.2f} ms CPU/check",
        )
        line("  vs sequential loop", f"{sequential / run.wall:.1f}x faster")
        line(
            f"  vs concurrency bound {providers}x{concurrency}/{LATENCY_MS / 1000:g}s = {bound:.0f} checks/s",
            f"{rate:.0f} checks/s = {rate / bound:.0%} of the bound, start to end (target >= 90%)",
        )
        line("  steady state (the middle 80% of the checks)", f"{run.steady:.0f} checks/s = {run.steady / bound:.0%}")
        line(
            "  per run: before the first result / after the last",
            f"{run.before_first:.2f}s (records read, one round trip) / {run.after_last:.2f}s (last write, reconcile)",
        )
        line(
            f"  vs the lower of the bound and the CPU ceiling ({min(bound, ceiling):.0f} checks/s)",
            f"{rate / min(bound, ceiling):.0%}",
        )
    tracemalloc.start()
    svc.revalidate_many(concurrency=CONCURRENCY)
    line("peak traced memory of a bulk run", f"{tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB")
    tracemalloc.stop()


if __name__ == "__main__":
    if sys.argv[1] == "compare":  # only the runtime comparison: python -m tests.benchmarks.bulk compare DATA_DIR
        compare_runtimes(Path(sys.argv[2]), RUNTIMES)
    else:
        main(Path(sys.argv[1]), float(sys.argv[2]))
