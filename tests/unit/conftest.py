"""tests/unit runs on the in-memory fakes and the in-process sandbox only: a test here that opens a network
connection or starts a process fails (real adapters and servers belong in tests/adapters, tests/contract,
tests/providers)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

_connect = socket.socket.connect


def _no_network(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise AssertionError(f"tests/unit must not open a network connection (to {address!r})")
    _connect(self, address)  # type: ignore[arg-type]


def _no_process(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"tests/unit must not start a process ({args[0]!r})")


@pytest.fixture(autouse=True)
def fakes_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(subprocess, "Popen", _no_process)
    yield
