"""Striped locks per (org, provider), so that a store write and the status-cache sync that follows it happen in
the same order for every writer in this process (a later writer never has its sync overtaken by an earlier one).
Writers in other processes are covered by the compare-and-set on the store and by reconcile."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

STRIPES = 64


class PairLocks:
    def __init__(self, stripes: int = STRIPES) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    @contextmanager
    def hold(self, pairs: Iterable[tuple[str, object]]) -> Iterator[None]:
        """Hold the locks of every (org_slug, provider) in `pairs`, taken in one global order (no deadlock)."""
        held = [self._locks[i] for i in sorted({hash(p) % len(self._locks) for p in pairs})]
        for lock in held:
            lock.acquire()
        try:
            yield
        finally:
            for lock in reversed(held):
                lock.release()
