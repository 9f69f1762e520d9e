"""Bulk checks on threads in one process: a thread pool per provider (its size is that provider's concurrency
bound), an optional rate per provider (pyrate-limiter), and a 429 that pauses only its provider for the
provider's Retry-After before the check is retried a bounded number of times (tenacity). It applies nothing:
the caller decides what to do with the assessments.

A check is I/O bound (a provider round trip of ~200 ms), so threads in one process reach the concurrency bound;
scaling past one process belongs to the tasks of a job. Every bulk run streams its records through `streamed`
(runs.py)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from queue import SimpleQueue
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ..domain import Provider, StoredCredential
from .checks import Assessment

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


def streamed(
    records: Iterable[StoredCredential],
    check: Check,
    limits: PoolLimits,
    window: int = 1000,
    waited_s: dict[Provider, float] | None = None,
) -> Generator[Assessment, None, None]:
    """Assessments in completion order over a stream of records (a task's share read page by page, or the records
    a bulk run chose): at most `window` records are submitted and not yet yielded at any time, so memory does not
    grow with the stream. A finished check reports itself on a queue (O(1) a check, whatever the window). When it
    ends, `waited_s` (if given) holds what each provider was held back (pauses and its rate)."""
    pools: dict[Provider, ProviderPool] = {}
    finished: SimpleQueue[Future[Assessment]] = SimpleQueue()
    in_flight = 0
    source = iter(records)
    try:
        while True:
            for record in islice(source, max(0, window - in_flight)):
                pool = pools.get(record.provider) or pools.setdefault(
                    record.provider, ProviderPool(record.provider, limits)
                )
                pool.threads.submit(pool.run, check, record).add_done_callback(finished.put)
                in_flight += 1
            if not in_flight:
                return
            future = finished.get()
            in_flight -= 1
            yield future.result()  # the first exception of a check stops the run here
    finally:
        for pool in pools.values():
            pool.close()  # checks not started are cancelled; running ones finish
        if waited_s is not None:
            waited_s.update({p: pool.waited_s for p, pool in pools.items()})
