"""`make bench-tasks`: a nightly re-validation as a job of tasks, run on this machine.

1. Time: N credentials (default 10,000) at a simulated 200 ms provider round trip, 32 checks in flight per provider
   for the whole run: one task process, then two task processes (each with its share: 16 per provider), each run
   from the same copy of the data and finalized after; the ratio is the figure. The processes are real
   `integrations revalidate` processes, so their start-up is counted.
2. BigQuery jobs per run on the BigQuery double, at two N and two task counts: target tasks x a constant + a
   constant, the same at both N.
3. Memory: the peak RSS of task 0 of 16 over 100k and 200k credentials stored in the BigQuery double (seeded
   straight into its DuckDB file), each in its own process with the double in another (remote_bigquery.py): flat,
   as a task selects and streams its share, and under 400 MiB with the task's imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from integrations import Provider, connect
from integrations.demo import anthropic_key, openai_key
from integrations.settings import Settings

from tests.benchmarks.__main__ import GCP_KEY, line

N = int(os.environ.get("BENCH_TASKS_N", "10000"))
LATENCY_MS = int(os.environ.get("BENCH_TASKS_LATENCY_MS", "200"))
CONCURRENCY = 32  # per provider, for the whole run
EXE = [sys.executable, "-m", "integrations.cli"]
RSS_FLEETS = (100_000, 200_000)


def populate(svc, n: int) -> None:
    """`n` registered orgs, each with one credential of a rotating provider."""
    keys = {Provider.OPENAI: openai_key, Provider.ANTHROPIC: anthropic_key}
    for i in range(n):
        slug, provider = f"org-{i:05d}", list(Provider)[i % 3]
        svc.register_org(slug)
        svc.setup(slug, provider, GCP_KEY if provider == Provider.GCP else keys[provider](), skip_validation=True)


def _run(data: Path, tasks: int, run_id: str) -> tuple[float, float, dict]:
    """Start `tasks` task processes at once, wait for all, then finalize; (tasks' wall time, finalize's, report)."""
    env = os.environ | {
        "INTEGRATIONS_DATA_DIR": str(data),
        "INTEGRATIONS_SANDBOX_LATENCY_MS": str(LATENCY_MS),
        "INTEGRATIONS_ATTEMPTS_PER_MINUTE": "0",
    }
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                *EXE,
                "revalidate",
                "--task-index",
                str(i),
                "--task-count",
                str(tasks),
                "--run-id",
                run_id,
                "--concurrency",
                str(CONCURRENCY),
                "--no-finalize",
                "--json",
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(tasks)
    ]
    reports = [json.loads(p.communicate()[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs), reports
    took = time.perf_counter() - started
    started = time.perf_counter()
    done = subprocess.run(
        [*EXE, "revalidate", "finalize", "--run-id", run_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["checked"] == N == sum(r["checked"] for r in reports), (report["checked"], N)
    return took, time.perf_counter() - started, report


def bench_tasks_time(root: Path) -> None:
    seed = root / "seed"
    svc = connect(Settings(_env_file=None, data_dir=seed, attempts_per_minute=0))
    populate(svc, N)
    times = {}
    for tasks in (1, 2):
        data = root / f"tasks-{tasks}"
        shutil.copytree(seed, data)
        took, final, report = _run(data, tasks, f"bench-{tasks}")
        times[tasks] = took
        line(
            f"{tasks} task process(es), {N} credentials, {LATENCY_MS} ms, {CONCURRENCY}/provider in all",
            f"{took:.1f} s (+ finalize {final:.1f} s; by task {report['by_task']})",
        )
    floor = N * LATENCY_MS / 1000 / (CONCURRENCY * 3)
    line("time ratio 1 task / 2 tasks", f"{times[1] / times[2]:.2f}x (latency floor of either: {floor:.1f} s)")


def bench_tasks_jobs(root: Path) -> None:
    from integrations.bootstrap import build_validators
    from integrations.service import IntegrationService
    from integrations.status_cache.sqlite import SqliteStatusCache
    from integrations.store.bigquery import BigQueryStore
    from integrations.taskspec import TaskSpec

    from tests.doubles.bigquery import PROJECT, DuckBigQuery
    from tests.fakes import InMemoryCipher

    for n in (150, 600):
        for tasks in (2, 4):
            client = DuckBigQuery()
            store = BigQueryStore(client, PROJECT)
            store.init()
            cache = SqliteStatusCache(root / f"jobs-{n}-{tasks}.sqlite")
            cache.init()
            settings = Settings(_env_file=None, data_dir=root / "jobs", attempts_per_minute=0)
            svc = IntegrationService(store, InMemoryCipher(), cache, build_validators(settings), attempts_per_minute=0)
            populate(svc, n)
            before = client.jobs
            for i in range(tasks):
                svc.revalidate_task(TaskSpec(run_id="bench", index=i, count=tasks), concurrency=CONCURRENCY)
            staged = client.jobs - before
            run = svc.finalize_run("bench")
            assert run.checked == n
            line(
                f"BigQuery jobs per run of {n} credentials in {tasks} tasks (target {tasks}x(3 + batches of 500) + 4)",
                f"{client.jobs - before} (tasks {staged}, finalize {client.jobs - before - staged})",
            )


def bench_tasks_rss(root: Path) -> None:
    """Peak RSS of task 0 of 16 over 100k and 200k credentials stored in the BigQuery double (task_rss.py): the
    share is selected in SQL and streamed, so the task's memory does not grow with the fleet."""
    root_dir = Path(__file__).parents[2]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(root_dir / "lib"), str(root_dir)])}
    mod = [sys.executable, "-m", "tests.benchmarks.task_rss"]

    def run(*args: str) -> dict:
        done = subprocess.run([*mod, *args], env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    base = run("imports")["imports_mib"]
    line("task process after its imports (integrations.cli + store)", f"{base:.0f} MiB")
    peaks = {}
    for n in RSS_FLEETS:
        db = root / f"rss-{n}.duckdb"
        subprocess.run([*mod, "seed", str(db), str(n)], env=env, check=True)
        r = run("task", str(db))
        peaks[n] = r
        line(
            f"task 0 of 16 over {n:,} stored credentials (BigQuery double)",
            f"peak {r['peak_mib']:.0f} MiB (before the task {r['before_task_mib']:.0f}, growth {r['growth_mib']:.0f}; "
            f"share {r['checked']}, {r['jobs']} jobs, {r['seconds']} s)",
        )
        db.unlink()
    small, large = (peaks[n] for n in RSS_FLEETS)
    growth = large["peak_mib"] / small["peak_mib"] - 1
    line(
        f"peak RSS growth {RSS_FLEETS[0]:,} -> {RSS_FLEETS[1]:,} credentials",
        f"{growth:+.1%} (target <= 10%); peak {large['peak_mib']:.0f} MiB with imports (target < 400 MiB; the "
        "double runs in its own process, as BigQuery does)",
    )


def main() -> None:
    print(f"task benchmarks: N={N}, latency={LATENCY_MS} ms, {CONCURRENCY}/provider per run, cores={os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_tasks_rss(Path(tmp))
        bench_tasks_jobs(Path(tmp))
        bench_tasks_time(Path(tmp))


if __name__ == "__main__":
    main()
