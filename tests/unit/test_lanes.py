"""Per-provider lanes: the thread count of a lane is its concurrency bound, and failures reach the caller."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from integrations.lanes import run_lanes


def test_every_item_once_and_each_lane_bounded_by_its_threads() -> None:
    lock, in_flight, peak = threading.Lock(), Counter(), Counter()

    def work(lane: str, item: int) -> tuple[str, int]:
        with lock:
            in_flight[lane] += 1
            peak[lane] = max(peak[lane], in_flight[lane])
        time.sleep(0.01)
        with lock:
            in_flight[lane] -= 1
        return lane, item

    lanes = {"a": list(range(40)), "b": list(range(100, 130)), "c": [7, 8]}
    done = list(run_lanes(lanes, 4, work))
    assert sorted(done) == sorted((lane, i) for lane, items in lanes.items() for i in items)
    assert peak == Counter({"a": 4, "b": 4, "c": 2})


def test_a_failure_is_raised_in_the_caller_and_no_thread_is_left_running() -> None:
    before = threading.active_count()

    def work(lane: str, item: int) -> int:
        if lane == "b" and item == 3:
            raise ValueError("boom")
        time.sleep(0.005)
        return item

    with pytest.raises(ValueError, match="boom"):
        list(run_lanes({"a": list(range(200)), "b": list(range(10))}, 3, work))
    assert threading.active_count() == before


def test_stopping_early_stops_the_lanes() -> None:
    started: list[int] = []

    def work(lane: str, item: int) -> int:
        started.append(item)
        time.sleep(0.005)
        return item

    results = run_lanes({"a": list(range(500))}, 2, work)
    assert next(results) in range(500)
    results.close()  # the caller gave up (e.g. a write failed): the lanes finish their current item and stop
    assert len(started) < 10
