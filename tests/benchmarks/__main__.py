"""`make bench`: each figure is a ratio against its baseline, measured in the same run.

Local profile (SQLite + keyring) with sandbox providers at a realistic simulated round trip (200 ms by default,
BENCH_LATENCY_MS); BigQuery jobs (~1 s each) and KMS calls (~20 ms each) are counted and costed at those figures.
Sizes can be lowered for a quick look: BENCH_N=2000 BENCH_N_BULK=1920 make bench. The bulk data set (N_BULK, 4,800)
is a nightly task's share of a large fleet (100,000 credentials over 16 tasks is 6,250) and takes 10 s at the
concurrency bound (3 x 32 / 0.2 s = 480 checks/s); a run also pays ~0.5 s that does not depend on its concurrency
(reading the records, the first round trip, the last write, the reconcile), printed beside the steady rate. N (3,000)
keeps the other data sets to about a minute each: the whole benchmark takes several minutes.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from integrations import Provider, Status, connect
from integrations.demo import anthropic_key, openai_key, service_account_json
from integrations.settings import Settings
from integrations.usecases import checks

N = int(os.environ.get("BENCH_N", "3000"))
N_CLOUD = int(os.environ.get("BENCH_N_CLOUD", str(min(N, 1000))))  # a cloud-double setup costs ~0.1 s
N_BULK = int(os.environ.get("BENCH_N_BULK", "4800"))
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "200"))  # a provider round trip
BIGQUERY_JOB_S = 1.0  # a BigQuery query job (counted by the double, costed at this)
KMS_CALL_MS = 20  # a Cloud KMS encrypt/decrypt (the local profile's keyring makes none)
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))  # per provider
LEVELS = sorted({16, CONCURRENCY})
REPEAT = int(os.environ.get("BENCH_REPEAT", "2"))
SAMPLE = 100
GCP_KEY = service_account_json("bench@bench-project.iam.gserviceaccount.com", "bench-project")


def line(name: str, value: str) -> None:
    print(f"{name:<58} {value}", flush=True)


def service(data_dir: Path, latency_ms: int = LATENCY_MS):
    return connect(Settings(_env_file=None, data_dir=data_dir, sandbox_latency_ms=latency_ms, attempts_per_minute=0))


def populate(svc, orgs: int) -> None:
    """`orgs` orgs, each with one credential of a rotating provider (N credentials over 3 providers)."""
    keys = {Provider.OPENAI: openai_key, Provider.ANTHROPIC: anthropic_key}
    providers = list(Provider)
    for i in range(orgs):
        slug = f"org-{i:05d}"
        svc.register_org(slug)  # setup needs an org registered in the system of record
        p = providers[i % 3]
        svc.setup(slug, p, GCP_KEY if p == Provider.GCP else keys[p](), skip_validation=True)


def bench_bulk(root: Path) -> None:
    svc = service(root / "bulk")
    started = time.perf_counter()
    populate(svc, N_BULK)
    line(
        "setup of the bulk data set (skip_validation)", f"{N_BULK} credentials in {time.perf_counter() - started:.1f}s"
    )
    records = svc.store.list_credentials()
    started = time.perf_counter()
    for record in records[:SAMPLE]:
        checks.revalidate_record(svc.deps, record)
    sequential = (time.perf_counter() - started) / SAMPLE * len(records)
    line(f"sequential re-validation loop (sample of {SAMPLE}, scaled)", f"{sequential:.1f}s")
    # the bulk runs: a fresh process over the stored data, as `integrations revalidate` and a nightly task run
    # (this process holds every earlier benchmark's objects: they would weigh on its collector and caches)
    bulk = [sys.executable, "-m", "tests.benchmarks.bulk", str(root / "bulk"), f"{sequential:.3f}"]
    subprocess.run(bulk, check=True, env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[2])})


def _cpu() -> float:
    """CPU seconds of this process."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _overview_vs_loop(svc, label: str) -> None:
    svc.overview()  # warm-up
    store_q, cache_q = svc.store.queries, svc.cache.queries
    started = time.perf_counter()
    frame = svc.overview()
    one = time.perf_counter() - started
    queries = (svc.store.queries - store_q) + (svc.cache.queries - cache_q)
    slugs = sorted(frame.org_slug.unique())
    store_q, cache_q = svc.store.queries, svc.cache.queries
    started = time.perf_counter()
    for slug in slugs[:SAMPLE]:
        svc.get_all(slug)
    loop = (time.perf_counter() - started) / SAMPLE * len(slugs)
    loop_queries = ((svc.store.queries - store_q) + (svc.cache.queries - cache_q)) / SAMPLE * len(slugs)
    line(f"overview() {label}: {len(slugs)} orgs x 3 ({len(frame)} rows)", f"{one:.2f}s, {queries} queries")
    line(
        "  vs per-org get_all loop (sample of 100, scaled)",
        f"{loop / one:.1f}x faster; the loop makes {loop_queries:.0f} queries (target >= 50x, constant queries)",
    )
    tracemalloc.start()
    svc.overview()
    line("  peak traced memory of overview()", f"{tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB")
    tracemalloc.stop()


def bench_overview(root: Path) -> None:
    svc = service(root / "overview", latency_ms=0)
    populate(svc, N)
    _overview_vs_loop(svc, "on local SQLite")


def bench_overview_cloud(root: Path) -> None:
    """The same comparison where a query is a network round trip: the BigQuery store on its DuckDB double and
    the real supabase client against the local PostgREST double (loopback HTTP)."""
    from integrations.bootstrap import build_validators
    from integrations.service import IntegrationService
    from integrations.status_cache.supabase import SupabaseStatusCache
    from integrations.store.bigquery import BigQueryStore
    from pydantic import SecretStr

    from tests.doubles.bigquery import PROJECT, DuckBigQuery
    from tests.doubles.pg_cluster import cluster
    from tests.doubles.postgrest import SERVICE_KEY, postgrest

    settings = Settings(_env_file=None, data_dir=root / "cloud", attempts_per_minute=0)
    with cluster() as pg, postgrest(pg) as double:
        double.seed_orgs([f"org-{i:05d}" for i in range(N_CLOUD)])  # the frontend's rows: we never insert
        store = BigQueryStore(DuckBigQuery(), PROJECT)
        store.init()
        cache = SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY))
        from integrations.crypto.local import LocalKeyring

        svc = IntegrationService(
            store, LocalKeyring(root / "cloud.keyring"), cache, build_validators(settings), attempts_per_minute=0
        )
        started = time.perf_counter()
        populate(svc, N_CLOUD)
        line("setup of the cloud-double data set", f"{N_CLOUD} orgs in {time.perf_counter() - started:.1f}s")
        _overview_vs_loop(svc, "on the BigQuery + Supabase doubles")


def jobs_of(client, action) -> int:
    before = client.jobs
    action()
    return client.jobs - before


def bench_cloud_jobs(root: Path) -> None:
    """BigQuery query jobs per operation, counted by the BigQuery double (a job costs ~1 s in BigQuery)."""
    from fastapi.testclient import TestClient
    from integrations.api import create_app
    from integrations.bootstrap import build_validators
    from integrations.crypto.local import LocalKeyring
    from integrations.service import IntegrationService
    from integrations.status_cache.sqlite import SqliteStatusCache
    from integrations.store.bigquery import BigQueryStore

    from tests.doubles.bigquery import PROJECT, DuckBigQuery

    client = DuckBigQuery()
    settings = Settings(_env_file=None, data_dir=root / "jobs", attempts_per_minute=0)
    store, cache = BigQueryStore(client, PROJECT), SqliteStatusCache(root / "jobs-status.sqlite")
    store.init()
    cache.init()
    line(
        "BigQuery jobs before the batching (main 0dd5ad8, same double)",
        "init 4, setup 3, validate 3, REST read 2, bulk of N 2N+1 (4001 for 2000)",
    )
    line("BigQuery jobs per init of an existing dataset (every connect)", str(jobs_of(client, store.init)))
    svc = IntegrationService(
        store,
        LocalKeyring(root / "jobs.keyring"),
        cache,
        build_validators(settings),
        attempts_per_minute=0,
    )

    def jobs(action) -> int:
        return jobs_of(client, action)

    key = svc.register_org("jobs-org")
    line("BigQuery jobs per setup (target 1)", str(jobs(lambda: svc.setup("jobs-org", Provider.OPENAI, openai_key()))))
    line(
        "BigQuery jobs per validate (target 1: read the ciphertext + write)",
        str(jobs(lambda: svc.validate("jobs-org", Provider.OPENAI))),
    )
    api = TestClient(create_app(svc))
    headers = {"X-API-Key": key}
    api.get("/api/v1/integrations/jobs-org", headers=headers).raise_for_status()
    read = jobs(lambda: api.get("/api/v1/integrations/jobs-org", headers=headers).raise_for_status())
    # the key's row is read on every call, so a revocation anywhere takes effect at once (issue 28, N16)
    line("BigQuery jobs per REST read with an org key (target <= 2: the key's row + the read)", str(read))
    n = min(N_CLOUD, 2000)
    populate(svc, n - 1)
    bulk = jobs(lambda: svc.revalidate_many(concurrency=CONCURRENCY))
    line(
        f"BigQuery jobs per bulk re-validation of {n} (a run of one task; target <= {n // 500 + 10})",
        f"{bulk} (~{bulk * BIGQUERY_JOB_S:.0f}s of jobs at {BIGQUERY_JOB_S:g} s each)",
    )
    bench_jobs_table(svc, client, n, bulk)


def bench_jobs_table(svc, client, n: int, bulk: int) -> None:
    """BigQuery jobs per operation on the double, as one table (the README's cost table reads it)."""
    from integrations.taskspec import TaskSpec

    def jobs(action) -> int:
        return jobs_of(client, action)

    counts = {"setup": jobs(lambda: svc.setup("jobs-org", Provider.ANTHROPIC, anthropic_key()))}
    counts["get all (one org)"] = jobs(lambda: svc.get_all("jobs-org"))
    counts["validate"] = jobs(lambda: svc.validate("jobs-org", Provider.OPENAI))
    counts["delete"] = jobs(lambda: svc.delete("jobs-org", Provider.ANTHROPIC))
    counts[f"bulk run of {n}"] = bulk
    tasks = [jobs(lambda i=i: svc.revalidate_task(TaskSpec(run_id="jobs-run", index=i, count=4))) for i in range(4)]
    counts[f"task (1 of 4 over {n}: ~{n // 4} each)"] = max(tasks)
    counts[f"finalize ({n} results)"] = jobs(lambda: svc.finalize_run("jobs-run"))
    svc.rotate_key()
    counts[f"rewrap of {n}"] = jobs(lambda: svc.rewrap())
    for what, count in counts.items():
        line(f"BigQuery jobs per {what}", str(count))


def bench_setup(root: Path) -> None:
    svc = service(root / "setup")
    svc.register_org("bench-org")
    overheads = []
    for i in range(SAMPLE):
        started = time.perf_counter()
        svc.setup(
            "bench-org", Provider.OPENAI if i % 2 else Provider.ANTHROPIC, openai_key() if i % 2 else anthropic_key()
        )
        overheads.append(time.perf_counter() - started - LATENCY_MS / 1000)
    median = statistics.median(overheads)
    line(
        f"setup overhead beyond the {LATENCY_MS} ms round-trip (median of {SAMPLE})",
        f"{median * 1000:.1f} ms = {median / (LATENCY_MS / 1000):.0%} of it (target < 10%)",
    )


def bench_async_vs_threads() -> None:
    """The issue's choice: the SDKs' async clients or a thread pool, whichever measures faster here. The same
    sandboxed models.list through AsyncOpenAI on one event loop, and through OpenAI on as many threads."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import httpx2
    import openai
    from integrations.providers.sandbox import SandboxRules, openai_handler

    calls, in_flight = min(N, 1200), 24
    answer = openai_handler(SandboxRules(set(), 0))
    keys = [openai_key() for _ in range(calls)]

    def sleep_then_answer(request: httpx2.Request) -> httpx2.Response:
        time.sleep(LATENCY_MS / 1000)
        return answer(request)

    async def async_answer(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(LATENCY_MS / 1000)
        return answer(request)

    def threads() -> None:
        client = openai.OpenAI(
            api_key="x", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(sleep_then_answer))
        )
        with ThreadPoolExecutor(in_flight) as pool:
            list(
                pool.map(
                    lambda k: client.models.with_raw_response.list(
                        extra_headers=client.with_options(api_key=k).auth_headers
                    ),
                    keys,
                )
            )

    async def on_loop() -> None:
        transport = httpx2.MockTransport(async_answer)
        client = openai.AsyncOpenAI(api_key="x", max_retries=0, http_client=httpx2.AsyncClient(transport=transport))
        slots = asyncio.Semaphore(in_flight)

        async def one(key: str) -> None:
            async with slots:
                await client.models.with_raw_response.list(extra_headers=client.with_options(api_key=key).auth_headers)

        await asyncio.gather(*(one(k) for k in keys))

    figures = {}
    for name, run in (("threads", threads), ("async", lambda: asyncio.run(on_loop()))):
        before, started = _cpu(), time.perf_counter()
        run()
        figures[name] = (time.perf_counter() - started, (_cpu() - before) / calls * 1000)
    (t_wall, t_cpu), (a_wall, a_cpu) = figures["threads"], figures["async"]
    line(
        f"openai models.list x{calls}, {in_flight} in flight: threads vs async",
        f"threads {t_wall:.2f}s ({t_cpu:.2f} ms CPU/call), async {a_wall:.2f}s ({a_cpu:.2f} ms CPU/call): "
        f"async is {t_wall / a_wall:.2f}x the threads",
    )


def bench_supabase_requests(root: Path) -> None:
    """HTTP requests to PostgREST (the PostgreSQL-backed double) per use case: the figure a Supabase project's
    rate limits and latency multiply. Counted at the double's socket, with the local SQLite store beside it."""
    from integrations.bootstrap import build_validators
    from integrations.crypto.local import LocalKeyring
    from integrations.service import IntegrationService
    from integrations.status_cache.supabase import SupabaseStatusCache
    from integrations.store.sqlite import SqliteStore
    from pydantic import SecretStr

    from tests.doubles.pg_cluster import cluster
    from tests.doubles.postgrest import SERVICE_KEY, postgrest

    settings = Settings(_env_file=None, data_dir=root / "supabase", attempts_per_minute=0)
    with cluster() as pg, postgrest(pg) as double:
        store = SqliteStore(root / "supabase.sqlite")
        store.init()
        cache = SupabaseStatusCache(double.url, SecretStr(SERVICE_KEY))
        svc = IntegrationService(
            store, LocalKeyring(root / "supabase.keyring"), cache, build_validators(settings), attempts_per_minute=0
        )

        def requests(what: str, work: Callable[[], object]) -> int:
            before = double.faults.requests
            work()
            count = double.faults.requests - before
            line(f"PostgREST requests per {what}", str(count))
            return count

        double.seed_org("bench-org")
        requests("register_org", lambda: svc.register_org("bench-org"))
        requests("setup (first of the process)", lambda: svc.setup("bench-org", Provider.OPENAI, openai_key()))
        requests("setup", lambda: svc.setup("bench-org", Provider.ANTHROPIC, anthropic_key()))
        requests("validate", lambda: svc.validate("bench-org", Provider.OPENAI))
        requests("get_all (compares the cache row)", lambda: svc.get_all("bench-org"))
        n = N_CLOUD
        slugs = [f"org-{i:05d}" for i in range(n)]
        double.seed_orgs(slugs)
        updates = [(s, list(Provider)[i % 3], Status.VALID, None) for i, s in enumerate(slugs)]
        requests(f"bulk status sync of {n} orgs (set_many)", lambda: cache.set_many(updates))
        for slug in slugs[:SAMPLE]:
            svc.register_org(slug)
            svc.setup(slug, Provider.OPENAI, openai_key(), skip_validation=True)
        requests(f"bulk re-validation of {SAMPLE + 2} credentials", lambda: svc.revalidate_many(concurrency=8))
        requests(f"overview() over {n + 1} orgs (db-max-rows 1000)", svc.overview)
        requests(f"reconcile() over {n + 1} orgs", svc.reconcile)


# CPU seconds before issue 24's registry and lazy imports (measured the same way, on the demo data)
HELP_CPU_BEFORE_S = 0.81  # `integrations --help`
STATUS_CPU_BEFORE_S = 5.0  # `integrations status acmecorp`


def _child_cpu(argv: list[str], env: dict[str, str], repeat: int = 3) -> float:
    """Median CPU seconds (user + system) of running `argv` to its end."""
    spent = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, env=env, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(spent)


def bench_cli(root: Path) -> None:
    """What a command costs before it does anything: `--help` (parsing only) and `status` on the demo data."""
    cli = str(Path(sys.executable).parent / "integrations")
    env = os.environ | {"INTEGRATIONS_DATA_DIR": str(root / "cli")}
    subprocess.run([cli, "init"], env=env, check=True, capture_output=True)
    subprocess.run([cli, "demo"], env=env, check=True, capture_output=True)
    bare = _child_cpu([sys.executable, "-c", "pass"], env)
    for label, argv, target, before in (
        ("integrations --help", [cli, "--help"], 0.3, HELP_CPU_BEFORE_S),
        ("integrations status acmecorp (demo data)", [cli, "status", "acmecorp"], 1.0, STATUS_CPU_BEFORE_S),
    ):
        cpu = _child_cpu(argv, env)
        line(
            f"CPU of {label}",
            f"{cpu:.2f}s = {cpu / bare:.0f}x `python -c pass` ({bare:.3f}s), {cpu / before:.2f}x before ({before:g}s, "
            f"{before / cpu:.1f}x less); target < {target:g}s",
        )


def main() -> None:
    print(
        f"benchmarks: N={N}, N_BULK={N_BULK}, concurrency={CONCURRENCY}/provider, cores={os.cpu_count()}; latencies: "
        f"provider round trip {LATENCY_MS} ms (simulated), BigQuery job {BIGQUERY_JOB_S:g} s and KMS call "
        f"{KMS_CALL_MS} ms (counted and costed; the local keyring makes no KMS call)"
    )
    from tests.benchmarks.format_check import bench_format_check

    bench_format_check(line)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench_cli(root)
        bench_cloud_jobs(root)
        bench_setup(root)
        bench_async_vs_threads()
        bench_overview(root)
        bench_overview_cloud(root)
        bench_supabase_requests(root)
        bench_bulk(root)


if __name__ == "__main__":
    main()
