"""Per-provider gates for bulk work: an optional token bucket, and a back-off window that a 429 opens for that
provider only. (The concurrency bound is the number of threads in the provider's lane, see lanes.py.)"""

from __future__ import annotations

import random
import threading
import time
from typing import Protocol


class PauseClock(Protocol):
    """Where a gate keeps the end of its back-off (time.monotonic(), system-wide on Linux): a plain holder, or a
    multiprocessing.RawValue("d") shared by the shards of a run so that a 429 pauses the provider everywhere."""

    value: float


class Pause:
    def __init__(self) -> None:
        self.value = 0.0


class ProviderGate:
    def __init__(self, rate_per_s: float | None = None, burst: int | None = None, pause: PauseClock | None = None):
        self.rate = rate_per_s
        self.capacity = float(burst or max(1, int(rate_per_s or 1)))
        self._tokens = self.capacity
        self._refilled = time.monotonic()
        self._pause = pause if pause is not None else Pause()  # (a RawValue at 0.0 is falsy)
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def back_off(self, seconds: float) -> None:
        """The provider said 429: nobody starts a check on it for `seconds` (plus jitter)."""
        with self._lock:
            until = time.monotonic() + seconds * random.uniform(1.0, 1.2)  # noqa: S311 - jitter
            self._pause.value = max(self._pause.value, until)

    def wait_turn(self) -> None:
        """Return when the rate and any back-off allow one more check to start."""
        if not self.rate and self._pause.value <= time.monotonic():
            return
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._pause.value - now
                if wait <= 0 and self.rate:
                    self._tokens = min(self.capacity, self._tokens + (now - self._refilled) * self.rate)
                    self._refilled = now
                    wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
                    if wait == 0.0:
                        self._tokens -= 1
                if wait <= 0:
                    return
                self.waited_s += wait
            time.sleep(wait)
