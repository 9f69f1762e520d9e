"""Local AES-256-GCM keyring: versioned keys in a 0600 JSON file; ciphertexts name their version."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import stat
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import Code, IntegrationError
from ..files import check_private, private_dir
from .base import Cipher, Sealed, key_check

MAGIC = b"LKR1"
_HEADER = struct.Struct(">4sI")
NONCE_BYTES = 12


class _Ring(NamedTuple):
    """One read of the keyring file, swapped whole so a thread never sees half of a re-read."""

    keys: dict[int, bytes]
    primary: int
    hmac_key: bytes
    seen: tuple[int, int, int, int]  # (device, inode, size, mtime_ns) of the file this was read from


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class LocalKeyring(Cipher):
    """Keys live in `path` as {"primary": n, "keys": {"n": b64}, "hmac_key": b64}.

    Every use first compares the file's (device, inode, size, mtime) with the read it holds and re-reads it when
    another process changed it (`key rotate`, `key retire`), so a long-running API or console encrypts under the
    current version and decrypts what a rewrap re-encrypted; a deleted keyring is KEYRING_MISSING, not a copy
    kept in memory."""

    name = "local-keyring"

    def __init__(self, path: Path, create: bool = True) -> None:
        """Open the keyring at `path`; a missing one is made only with `create` (bootstrap allows it for an empty
        store only)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.exists() and create:
            private_dir(self.path.parent)
            keys, hmac_key = {1: AESGCM.generate_key(256)}, os.urandom(32)
            self._ring = _Ring(keys, 1, hmac_key, (0, 0, 0, 0))
            self._write(exclusive=True)
        else:
            self._ring = self._read()

    def _missing(self) -> IntegrationError:
        return IntegrationError(
            Code.KEYRING_MISSING,
            f"The keyring {self.path} is missing; restore it from your backup (a new one could not decrypt what is "
            "stored).",
        )

    def _unreadable(self, exc: Exception) -> IntegrationError:
        return IntegrationError(
            Code.ENCRYPTION_FAILED, f"The keyring {self.path} cannot be read ({type(exc).__name__}).", retryable=False
        )

    def _read(self) -> _Ring:
        """Read the file, refusing one another user owns or others can read; the signature is the opened file's."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise self._missing() from None
        except OSError as exc:
            raise self._unreadable(exc) from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            check_private(self.path.parent)
            if st.st_uid != os.geteuid():
                check_private(self.path, st)  # DATA_DIR_NOT_OWNED
            if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise IntegrationError(
                    Code.ENCRYPTION_FAILED,
                    f"The keyring {self.path} is readable by other users "
                    f"(mode {oct(st.st_mode & 0o777)}); run `chmod 600 {self.path}`.",
                    retryable=False,
                )
            try:
                data = json.loads(fh.read())
                return _Ring(
                    {int(k): base64.b64decode(v) for k, v in data["keys"].items()},
                    int(data["primary"]),
                    base64.b64decode(data["hmac_key"]),
                    _signature(st),
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise self._unreadable(exc) from None

    def _current(self) -> _Ring:
        """The keyring as the file holds it now: one stat; re-read only when the file changed since the last read."""
        ring, seen = self._ring, self.source_state()
        if seen == ring.seen:
            return ring
        with self._lock:
            if self._ring.seen != seen:
                self._ring = self._read()
            return self._ring

    def _write(self, exclusive: bool = False) -> None:
        ring = self._ring
        data = {
            "primary": ring.primary,
            "hmac_key": base64.b64encode(ring.hmac_key).decode(),
            "keys": {str(k): base64.b64encode(v).decode() for k, v in ring.keys.items()},
        }
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        if exclusive:  # link() is atomic and refuses to overwrite: two first starts never make two keyrings
            with suppress(FileExistsError):
                os.link(tmp, self.path)
            tmp.unlink()
        else:
            os.replace(tmp, self.path)
        self._ring = self._read()

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Exclusive to one thread of one process (flock on the data dir): two rotations never both write v2."""
        with self._lock:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock

    def rotate(self) -> str:
        """Add a new key version and make it primary; old versions stay for decryption."""
        with self._changing():
            ring = self._read()  # the file as it is now: another process may have rotated since
            primary = max(ring.keys) + 1
            self._ring = ring._replace(keys={**ring.keys, primary: AESGCM.generate_key(256)}, primary=primary)
            self._write()
        return self.current_key_ref()

    def current_key_ref(self) -> str:
        return f"local/v{self._current().primary}"

    def key_versions(self) -> dict[str, str]:
        return {f"local/v{n}": key_check(key) for n, key in self._current().keys.items()}

    def source_state(self) -> tuple[int, int, int, int]:
        """The keyring file's (device, inode, size, mtime); KEYRING_MISSING when it is gone. One stat."""
        try:
            return _signature(os.stat(self.path))
        except FileNotFoundError:
            raise self._missing() from None

    def retire(self, key_ref: str) -> None:
        """Remove a key version from the keyring file: what it encrypted can never be decrypted again."""
        with self._changing():
            ring = self._read()
            version = next((n for n in ring.keys if f"local/v{n}" == key_ref), None)
            if version is None or version == ring.primary:
                raise IntegrationError(
                    Code.KEY_VERSION_IN_USE,
                    f"{key_ref} is {'the current key version' if version else 'not in the keyring'}; "
                    "only an older version that nothing uses can be retired.",
                )
            self._ring = ring._replace(keys={n: k for n, k in ring.keys.items() if n != version})
            self._write()

    def encrypt(self, plaintext: bytes, aad: bytes) -> Sealed:
        ring = self._current()
        nonce = os.urandom(NONCE_BYTES)
        body = AESGCM(ring.keys[ring.primary]).encrypt(nonce, plaintext, aad)
        return Sealed(_HEADER.pack(MAGIC, ring.primary) + nonce + body, f"local/v{ring.primary}")

    def decrypt(self, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            magic, version = _HEADER.unpack_from(ciphertext)
        except struct.error:
            magic, version = b"", 0
        if magic != MAGIC:
            raise IntegrationError(Code.DECRYPTION_FAILED, "The stored ciphertext is not a local-keyring ciphertext.")
        key = self._current().keys.get(version)
        if key is None:
            raise IntegrationError(Code.DECRYPTION_FAILED, f"Key version v{version} is not in the keyring.")
        start = _HEADER.size
        try:
            return AESGCM(key).decrypt(ciphertext[start : start + NONCE_BYTES], ciphertext[start + NONCE_BYTES :], aad)
        except InvalidTag:
            raise IntegrationError(
                Code.DECRYPTION_FAILED,
                "The ciphertext does not belong to this row or was altered (authentication failed).",
            ) from None

    def fingerprint(self, plaintext: bytes) -> str:
        return hmac.new(self._current().hmac_key, plaintext, hashlib.sha256).hexdigest()
