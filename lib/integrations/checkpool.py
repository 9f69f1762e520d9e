"""Bulk checks on threads in one process: a thread pool per provider (its size is that provider's concurrency
bound), an optional rate per provider (pyrate-limiter), and a 429 that pauses only its provider for the
provider's Retry-After before the check is retried a bounded number of times (tenacity). It applies nothing:
the caller decides what to do with the assessments.

A check is I/O bound (a provider round trip of ~200 ms), so threads in one process reach the concurrency bound;
scaling past one process belongs to the tasks of a job."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from itertools import islice
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, ConfigDict, Field

from .domain import Provider, StoredCredential
from .taskspec import share
from .usecases.checks import Assessment

if TYPE_CHECKING:  # pyrate-limiter and tenacity load with a pool (a bulk run), not with the service
    from pyrate_limiter import Rate
    from tenacity import RetryCallState

Progress = Callable[[int, int], None]
Check = Callable[[StoredCredential], Assessment]
MAX_PAUSE_S = 60.0  # a Retry-After longer than this is capped: the run reports the check inconclusive soon enough


class PoolLimits(BaseModel):
    """Per-provider concurrency (checks in flight) and rate (checks per second; none: unlimited), and how many
    times a check answered 429 is retried after its provider's pause."""

    model_config = ConfigDict(frozen=True)

    concurrency: dict[Provider, int] = Field(default_factory=lambda: {p: 16 for p in Provider})
    rates: dict[Provider, float] = Field(default_factory=dict)
    rate_limit_retries: int = 2

    @classmethod
    def uniform(
        cls, concurrency: int, rates: dict[Provider, float] | None = None, rate_limit_retries: int = 2
    ) -> PoolLimits:
        """The same concurrency for every provider."""
        return cls(
            concurrency={p: concurrency for p in Provider}, rates=rates or {}, rate_limit_retries=rate_limit_retries
        )

    def share(self, task_count: int, index: int = 0) -> PoolLimits:
        """Task `index`'s share of `task_count` (tasks running at once split the provider's limits; the shares of
        all tasks add up to the whole, the same split as TaskLimits.share)."""
        n = max(1, task_count)
        return self.model_copy(
            update={
                "concurrency": {p: max(1, share(c, n, index)) for p, c in self.concurrency.items()},
                "rates": {p: r / n for p, r in self.rates.items()},
            }
        )


def _rate(per_s: float) -> Rate:
    """`per_s` checks per second as a sliding window: bursts of up to int(per_s) (at least one) per window."""
    from pyrate_limiter import Rate

    burst = max(1, int(per_s))
    return Rate(burst, max(1, round(burst * 1000 / per_s)))


def retry_after_s(rate_limit: dict[str, str]) -> float:
    """The provider's Retry-After (seconds), capped; 1 s when it gave none or nonsense."""
    try:
        return max(0.0, min(MAX_PAUSE_S, float(rate_limit.get("retry-after", "1"))))
    except ValueError:
        return 1.0


class ProviderPool:
    """One provider's limits during a run: its threads, its rate limiter and its pause."""

    def __init__(self, provider: Provider, limits: PoolLimits) -> None:
        from pyrate_limiter import Limiter
        from tenacity import Retrying, retry_if_result, stop_after_attempt

        rate = limits.rates.get(provider)
        self.limiter = Limiter(_rate(rate)) if rate else None
        self.threads = ThreadPoolExecutor(self.size(provider, limits), f"check-{provider.value}")
        self.retries = max(0, limits.rate_limit_retries)
        self.paused_until = 0.0  # time.monotonic(): no check of this provider starts before
        self.waited_s = 0.0  # time this provider's threads spent held back (pauses and the rate)
        self._lock = threading.Lock()
        self.retrying = Retrying(  # one for the pool: tenacity keeps each call's state per thread
            retry=retry_if_result(lambda a: a.result.error_code == "RATE_LIMITED"),
            stop=stop_after_attempt(self.retries + 1),
            wait=self.pause,
            before=lambda _: self.wait_turn(),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )

    @staticmethod
    def size(provider: Provider, limits: PoolLimits) -> int:
        """The provider's threads: its checks in flight at once."""
        return max(1, limits.concurrency.get(provider, 1))

    def wait_turn(self) -> None:
        """Return when the provider's pause is over and its rate allows one more check."""
        started = time.monotonic()
        if self.limiter is None and self.paused_until <= started:
            return
        while (pause := self.paused_until - time.monotonic()) > 0:
            time.sleep(pause)
        if self.limiter is not None:
            self.limiter.try_acquire("check")  # blocks until the rate allows
        waited = time.monotonic() - started
        if waited > 0.001:
            with self._lock:
                self.waited_s += waited

    def pause(self, state: RetryCallState) -> float:
        """tenacity's wait: the check was answered 429, so pause the whole provider for its Retry-After (with
        jitter); the retry itself waits in wait_turn, like every other check of the provider."""
        assert state.outcome is not None  # noqa: S101 - tenacity calls a wait only after an attempt
        seconds = retry_after_s(state.outcome.result().result.rate_limit) * random.uniform(1.0, 1.2)  # noqa: S311
        with self._lock:
            self.paused_until = max(self.paused_until, time.monotonic() + seconds)
        return 0.0

    def run(self, check: Check, record: StoredCredential) -> Assessment:
        return self.retrying(check, record)

    def close(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)
        if self.limiter is not None:
            self.limiter.close()


class CheckRun:
    """One run over `records`: iterate `completed()` for (record index, assessment) in completion order (so the
    caller can write batches while checks go on); `waited_s` then holds what each provider was held back."""

    def __init__(self, records: Sequence[StoredCredential], check: Check, limits: PoolLimits) -> None:
        self.records, self.check, self.limits = records, check, limits
        self.waited_s: dict[Provider, float] = {}

    def completed(self) -> Generator[tuple[int, Assessment], None, None]:
        pools = {p: ProviderPool(p, self.limits) for p in {r.provider for r in self.records}}
        try:
            futures = {
                pools[r.provider].threads.submit(pools[r.provider].run, self.check, r): i
                for i, r in enumerate(self.records)
            }
            for future in as_completed(futures):
                yield futures[future], future.result()  # the first exception of a check stops the run here
        finally:
            for pool in pools.values():
                pool.close()  # checks not started are cancelled; running ones finish
            self.waited_s = {p: pool.waited_s for p, pool in pools.items()}


def check_all(
    records: Sequence[StoredCredential], check: Check, limits: PoolLimits, progress: Progress | None = None
) -> list[Assessment]:
    """Run `check` on every record on per-provider thread pools; one Assessment per record, in record order.
    `check` must turn a credential's failure into its assessment: an exception stops the run and is raised."""
    results: list[Assessment | None] = [None] * len(records)
    for done, (index, assessment) in enumerate(CheckRun(records, check, limits).completed(), 1):
        results[index] = assessment
        if progress:
            progress(done, len(records))
    return cast(list[Assessment], results)


def streamed(
    records: Iterable[StoredCredential], check: Check, limits: PoolLimits, window: int = 1000
) -> Generator[Assessment, None, None]:
    """Assessments in completion order over a stream of records (a task's share read page by page): at most
    `window` records are submitted and not yet yielded at any time, so memory does not grow with the stream. The
    same per-provider pools, rates and 429 pauses as CheckRun."""
    pools: dict[Provider, ProviderPool] = {}
    pending: set[Future[Assessment]] = set()
    source = iter(records)
    try:
        while True:
            for record in islice(source, max(0, window - len(pending))):
                pool = pools.get(record.provider) or pools.setdefault(
                    record.provider, ProviderPool(record.provider, limits)
                )
                pending.add(pool.threads.submit(pool.run, check, record))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: f.exception() is not None):  # what finished, then a failure
                yield future.result()  # the first exception of a check stops the run here
    finally:
        for pool in pools.values():
            pool.close()
