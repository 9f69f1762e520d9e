"""The cyclic garbage collector during a bulk run: fewer, smaller collections.

A run keeps dozens of checks in flight on threads of one process. CPython's collector runs in whichever thread
crosses its allocation threshold, holding the GIL: every other check waits. With the SDKs' thousands of classes
and the run's own records on the heap, a full collection took ~200 ms and ran 3 times per 2,880 checks; in all
the collector took ~12% of a run's time (`make bench` prints the figures with and without this).

So while a run is on:
- what existed before it (modules, SDK classes, the records it checks) is frozen (`gc.freeze`): collections
  do not scan it again;
- the youngest generation is collected every YOUNG_THRESHOLD allocations instead of 700, so the few objects a
  check keeps are seldom promoted, and full collections become rare.

Garbage is still collected (only less often), so memory stays bounded on a run of any size. The settings are
process-wide: overlapping runs share them, and the last run to end restores what was there before (when the
application had frozen objects itself, everything frozen stays frozen: unfreezing would undo its own freeze).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_runs = 0
_saved: tuple[int, int, int] = (700, 10, 10)
_frozen_before = False  # the application froze objects itself (gc.freeze at start-up): leave them frozen


@contextmanager
def relaxed_collection() -> Iterator[None]:
    """Freeze what exists and collect the young generation less often until the last overlapping run ends."""
    global _runs, _saved, _frozen_before
    with _lock:
        if _runs == 0:
            _saved, _frozen_before = gc.get_threshold(), gc.get_freeze_count() > 0
            gc.set_threshold(max(YOUNG_THRESHOLD, _saved[0]), _saved[1], _saved[2])
        gc.freeze()  # again in a nested run: what the outer one loaded since (its records) is frozen too
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.set_threshold(*_saved)
                if not _frozen_before:
                    gc.unfreeze()
