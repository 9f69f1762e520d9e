"""Collects the figures of the reliability and security suite and prints them at the end of the run."""

from __future__ import annotations

from collections import defaultdict

import pytest

FIGURES: dict[str, float] = defaultdict(float)


def record(name: str, value: float = 1) -> None:
    FIGURES[name] += value


def record_max(name: str, value: float) -> None:
    """A figure that is the worst case seen (e.g. CPU seconds), not a count."""
    FIGURES[name] = max(FIGURES[name], value)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability and security figures")
    for name in sorted(FIGURES):
        value = FIGURES[name]
        terminalreporter.write_line(f"{name:<60} {int(value) if value == int(value) else round(value, 2)}")
