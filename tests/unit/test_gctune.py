"""gctune.relaxed_collection: during a run the collector scans less and runs less often; afterwards the process's
settings are back, however runs overlap; garbage is still collected meanwhile."""

from __future__ import annotations

import gc
import threading
import weakref

from integrations import gctune
from integrations.gctune import relaxed_collection


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_run_freezes_what_exists_and_raises_the_young_threshold_then_restores_both() -> None:
    before = gc.get_threshold()
    with relaxed_collection():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (max(gctune.YOUNG_THRESHOLD, before[0]), before[1], before[2])
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_overlapping_runs_restore_only_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first, second = relaxed_collection(), relaxed_collection()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == max(gctune.YOUNG_THRESHOLD, before[0]) and gc.get_freeze_count() > 0
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_runs_on_threads_leave_the_settings_as_they_found_them() -> None:
    before = gc.get_threshold()
    barrier = threading.Barrier(4)

    def run() -> None:
        with relaxed_collection():
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cyclic_garbage_made_during_a_run_is_still_collected() -> None:
    with relaxed_collection():
        refs = [weakref.ref(Node()) for _ in range(3 * gctune.YOUNG_THRESHOLD)]  # past the young threshold
        assert sum(r() is None for r in refs) > 0  # collected during the run, not only at its end


def test_an_exception_in_a_run_still_restores() -> None:
    before = gc.get_threshold()
    try:
        with relaxed_collection():
            raise RuntimeError("a check failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_an_application_that_froze_objects_itself_keeps_them_frozen() -> None:
    gc.freeze()  # as a server may do after its imports
    try:
        frozen = gc.get_freeze_count()
        with relaxed_collection():
            pass
        assert gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()
