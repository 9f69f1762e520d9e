"""The local profile's files are private to the user running it: data dir 0700, SQLite files 0600."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .errors import IntegrationError


def _refuse_shared(path: Path, mode: int, chmod: str) -> None:
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise IntegrationError(
            "CONFIGURATION_ERROR",
            f"{path} is open to other users (mode {oct(mode & 0o777)}); run `chmod {chmod} {path}`.",
        )


def private_dir(path: Path) -> None:
    """Create `path` (mode 0700) if missing; refuse one that group or others can enter or read."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _refuse_shared(path, path.stat().st_mode, "700")


def private_file(path: Path) -> None:
    """Create `path` empty (mode 0600) if missing; refuse one that group or others can read or write."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if path.is_file():  # anything else there is the store's to report (it cannot open it)
        _refuse_shared(path, path.stat().st_mode, "600")
