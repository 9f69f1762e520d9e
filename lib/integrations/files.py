"""The local profile's files are private to the user running it: data dir 0700, SQLite files and keyring 0600,
all owned by this user. A data dir this process did not create is checked the same way before anything in it is
read or written (a `.data` planted in the working directory is refused, DATA_DIR_NOT_OWNED)."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .errors import Code, IntegrationError


def check_private(path: Path, st: os.stat_result | None = None) -> None:
    """Raise unless `path` (a directory or a file) is owned by this user and neither group nor others can use it:
    DATA_DIR_NOT_OWNED for another owner, CONFIGURATION_ERROR with the `chmod` for open permissions."""
    st = st or path.stat()
    if st.st_uid != os.geteuid():
        raise IntegrationError(
            Code.DATA_DIR_NOT_OWNED,
            f"{path} belongs to uid {st.st_uid}, not to the user running this (uid {os.geteuid()}); it was not "
            "used. Set INTEGRATIONS_DATA_DIR to a directory you own.",
        )
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        chmod = "700" if stat.S_ISDIR(st.st_mode) else "600"
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
            f"{path} is open to other users (mode {oct(st.st_mode & 0o777)}); run `chmod {chmod} {path}`.",
        )


def private_dir(path: Path) -> None:
    """Create `path` (mode 0700) if missing; refuse one of another owner or that group or others can use."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(path)


def private_file(path: Path) -> None:
    """Create `path` empty (mode 0600) if missing; refuse one of another owner or that group or others can use."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if path.is_file():  # anything else there is the store's to report (it cannot open it)
        check_private(path)
