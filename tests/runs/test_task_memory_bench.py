"""The task-memory benchmark (make bench-tasks) still runs: a small fleet seeded into the double's file, task 0 of 16
run in its own process against the double in another, so the figure it prints is the task's alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _run(*args: str) -> str:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.task_rss", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_task_checks_its_share_with_the_double_out_of_its_process(tmp_path: Path) -> None:
    db = str(tmp_path / "fleet.duckdb")
    _run("seed", db, "800")
    report = json.loads(_run("task", db).strip().splitlines()[-1])
    assert 0 < report["share"] < 800  # task 0 of 16: its share only, selected in SQL
    assert report["checked"] == report["share"]
    assert report["jobs"] >= 3  # counts, share, a staging insert and the done mark went to the double's process
    assert "duckdb" not in report["modules"] and "wasmtime" not in report["modules"]  # measured: the task alone
    assert report["peak_mib"] >= report["before_task_mib"] > 0
