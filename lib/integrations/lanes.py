"""Per-provider lanes of worker threads for bulk checks.

Each lane (one per provider) has its own threads pulling from its own queue, so a lane's thread count is its
concurrency bound and no semaphore is contended. Results come back on one queue to the caller's thread, which
does the writing."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")
R = TypeVar("R")
POLL_S = 0.005


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def run_lanes(lanes: dict[K, list[T]], threads_per_lane: int, work: Callable[[K, T], R]) -> Iterator[R]:
    """Yield `work(lane, item)` for every item, in completion order, with at most `threads_per_lane` items of a
    lane in progress at once. An exception in `work` stops the lanes and is raised here."""
    results: queue.SimpleQueue[R | _Failed] = queue.SimpleQueue()
    stop = threading.Event()

    def drain(lane: K, items: deque[T]) -> None:
        try:
            while not stop.is_set():
                try:
                    item = items.popleft()
                except IndexError:
                    return
                results.put(work(lane, item))
        except BaseException as exc:  # handed to the caller's thread
            results.put(_Failed(exc))

    threads, total = [], 0
    for lane, items in lanes.items():
        pending = deque(items)
        total += len(items)
        for i in range(min(max(1, threads_per_lane), len(items))):
            threads.append(threading.Thread(target=drain, args=(lane, pending), name=f"lane-{lane}-{i}"))
    for thread in threads:
        thread.start()
    try:
        remaining = total
        while remaining:
            # collect what finished every few ms rather than waking this thread for each result: a wake-up per
            # check costs a GIL hand-off, and the caller only batches writes and moves a progress bar
            time.sleep(POLL_S)
            while not results.empty():
                result = results.get()
                if isinstance(result, _Failed):
                    raise result.error
                remaining -= 1
                yield result
    finally:
        stop.set()
        for thread in threads:
            thread.join()
