"""Bulk re-validation across processes.

A bulk run is bound by the CPU its checks cost inside the SDKs (request building, JWT signing), and one Python
process spends it on one core. A sharded run splits the credentials over `shards` processes; each shard is a
whole re-validation of its share (`revalidate_records`) with its own connections (`connect(settings)`), its
share of the per-provider concurrency and rate, and a 429 back-off shared by every shard. Plaintexts never
cross a process boundary: a shard decrypts only what it checks, and only reports come back.

Processes are forked when the caller is single-threaded (the CLI): they start at once and use the modules
already imported. A multi-threaded caller (the console, the API server) uses a forkserver instead, which
inherits no threads or locks; it imports the library once, the first time (about 2 s), and is reused."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .bulk import Progress, RevalidateReport, RunPlan
from .domain import Provider, StoredCredential
from .errors import IntegrationError
from .settings import Settings

SHARD_MIN = 2000  # below this a run is over in a few seconds on threads; a process would not pay for itself
PROGRESS_EVERY = 50
_shared: dict[str, Any] = {}


def shard_count(workers: int | None, credentials: int, concurrency: int, settings: Settings | None) -> int:
    """Processes for a run: `workers` if given, else the settings' bulk_workers, else one per core once there are
    SHARD_MIN credentials. A service built by hand (no settings) cannot be rebuilt in a process: 1."""
    if settings is None:
        return 1
    if workers is None:
        workers = settings.bulk_workers or ((os.cpu_count() or 1) if credentials >= SHARD_MIN else 1)
    return max(1, min(workers, concurrency, credentials))


def share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def revalidate_sharded(
    settings: Settings, records: list[StoredCredential], plan: RunPlan, shards: int, progress: Progress | None
) -> RevalidateReport:
    ctx = multiprocessing.get_context("fork" if threading.active_count() == 1 else "forkserver")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["integrations.bootstrap"])
    updates = ctx.SimpleQueue()
    pauses = {p: ctx.RawValue("d", 0.0) for p in Provider}
    ids: list[list[str]] = [[] for _ in range(shards)]
    for provider in Provider:  # each shard gets an equal share of every provider, as of its concurrency
        mine = [r.credential_id for r in records if r.provider == provider]
        for i in range(shards):
            ids[i].extend(mine[i::shards])
    plans = [
        plan.model_copy(
            update={
                "concurrency": share(plan.concurrency, shards, i),
                "rates": {p: rate / shards for p, rate in plan.rates.items()},
            }
        )
        for i in range(shards)
    ]
    done = [0] * shards
    report = RevalidateReport(workers=shards)
    forked = ctx.get_start_method() == "fork"
    _shared["records"] = records if forked else None  # a forked shard reads its share from this copy
    try:
        with ProcessPoolExecutor(shards, mp_context=ctx, initializer=_adopt, initargs=(updates, pauses)) as pool:
            if forked:  # a forked child must never collect (and so close) the caller's SQLite connections
                gc.freeze()
            try:
                futures = [pool.submit(_run_shard, settings, i, ids[i], plans[i]) for i in range(shards)]
            finally:
                if forked:
                    gc.unfreeze()
            while not all(f.done() for f in futures):
                wait(futures, timeout=0.1, return_when=FIRST_EXCEPTION)
                _drain(updates, done, len(records), progress)
                if any(f.done() and f.exception() for f in futures):
                    break
            for future in futures:
                report.add(future.result())  # the first shard failure is raised here
    except BrokenProcessPool:
        raise IntegrationError("WORKER_FAILED") from None
    finally:
        _shared.pop("records", None)
    _drain(updates, done, len(records), progress)
    return report


def _drain(updates: Any, done: list[int], total: int, progress: Progress | None) -> None:
    while not updates.empty():
        index, count = updates.get()
        done[index] = count
    if progress:
        progress(sum(done), total)


def _adopt(updates: Any, pauses: dict[Provider, Any]) -> None:
    """Runs first in each shard process: keep the run's progress queue and shared back-off clocks."""
    _shared.update(updates=updates, pauses=pauses)


def _run_shard(settings: Settings, index: int, ids: list[str], plan: RunPlan) -> RevalidateReport:
    from .bootstrap import connect

    svc = connect(settings, init=False)
    wanted = set(ids)
    inherited = _shared.get("records")
    records = [r for r in (inherited or svc.store.list_credentials()) if r.credential_id in wanted]
    # this process is ours for the run: what exists now (imports, the records) is never garbage, so keep the
    # collector off it, and collect the young generation less often (checks allocate a lot, briefly)
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    updates = _shared["updates"]

    def progress(count: int, total: int) -> None:
        if count % PROGRESS_EVERY == 0 or count == total:
            updates.put((index, count))

    return svc.revalidate_records(records, plan, progress, _shared["pauses"])
