"""Local AES-256-GCM keyring: versioned keys in a 0600 JSON file; ciphertexts name their version."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import struct
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import IntegrationError
from ..files import private_dir
from .base import Cipher, Sealed, key_check

MAGIC = b"LKR1"
_HEADER = struct.Struct(">4sI")
NONCE_BYTES = 12


class LocalKeyring(Cipher):
    """Keys live in `path` as {"primary": n, "keys": {"n": b64}, "hmac_key": b64}."""

    name = "local-keyring"

    def __init__(self, path: Path, create: bool = True) -> None:
        """Open the keyring at `path`; a missing one is made only with `create` (bootstrap allows it for an empty
        store only)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._keys: dict[int, bytes] = {}
        self._primary = 0
        self._hmac_key = b""
        self._create = create
        self._load_or_create()

    def _load_or_create(self) -> None:
        if not self.path.exists():
            if not self._create:
                raise IntegrationError(
                    "KEYRING_MISSING",
                    f"The keyring {self.path} is missing; restore it from your backup (a new one could not decrypt "
                    "what is stored).",
                )
            private_dir(self.path.parent)
            self._keys, self._primary, self._hmac_key = {1: AESGCM.generate_key(256)}, 1, os.urandom(32)
            self._write(exclusive=True)
            return
        mode = self.path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise IntegrationError(
                "ENCRYPTION_FAILED",
                f"The keyring {self.path} is readable by other users "
                f"(mode {oct(mode & 0o777)}); run `chmod 600 {self.path}`.",
                retryable=False,
            )
        try:
            data = json.loads(self.path.read_text())
            self._keys = {int(k): base64.b64decode(v) for k, v in data["keys"].items()}
            self._primary = int(data["primary"])
            self._hmac_key = base64.b64decode(data["hmac_key"])
        except (OSError, ValueError, KeyError) as exc:
            raise IntegrationError(
                "ENCRYPTION_FAILED", f"The keyring {self.path} cannot be read ({type(exc).__name__}).", retryable=False
            ) from None

    def _write(self, exclusive: bool = False) -> None:
        data = {
            "primary": self._primary,
            "hmac_key": base64.b64encode(self._hmac_key).decode(),
            "keys": {str(k): base64.b64encode(v).decode() for k, v in self._keys.items()},
        }
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        if not exclusive:
            os.replace(tmp, self.path)
            return
        try:  # link() is atomic and refuses to overwrite: two first starts never make two keyrings
            os.link(tmp, self.path)
        except FileExistsError:
            tmp.unlink()
            self._load_or_create()
            return
        tmp.unlink()

    def rotate(self) -> str:
        """Add a new key version and make it primary; old versions stay for decryption."""
        with self._lock:
            self._primary = max(self._keys) + 1
            self._keys[self._primary] = AESGCM.generate_key(256)
            self._write()
        return self.current_key_ref()

    def current_key_ref(self) -> str:
        return f"local/v{self._primary}"

    def key_versions(self) -> dict[str, str]:
        return {f"local/v{n}": key_check(key) for n, key in self._keys.items()}

    def retire(self, key_ref: str) -> None:
        """Remove a key version from the keyring file: what it encrypted can never be decrypted again."""
        with self._lock:
            version = next((n for n in self._keys if f"local/v{n}" == key_ref), None)
            if version is None or version == self._primary:
                raise IntegrationError(
                    "KEY_VERSION_IN_USE",
                    f"{key_ref} is {'the current key version' if version else 'not in the keyring'}; "
                    "only an older version that nothing uses can be retired.",
                )
            del self._keys[version]
            self._write()

    def encrypt(self, plaintext: bytes, aad: bytes) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        body = AESGCM(self._keys[self._primary]).encrypt(nonce, plaintext, aad)
        return Sealed(_HEADER.pack(MAGIC, self._primary) + nonce + body, self.current_key_ref())

    def decrypt(self, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            magic, version = _HEADER.unpack_from(ciphertext)
        except struct.error:
            magic, version = b"", 0
        if magic != MAGIC:
            raise IntegrationError("DECRYPTION_FAILED", "The stored ciphertext is not a local-keyring ciphertext.")
        key = self._keys.get(version)
        if key is None:
            raise IntegrationError("DECRYPTION_FAILED", f"Key version v{version} is not in the keyring.")
        start = _HEADER.size
        try:
            return AESGCM(key).decrypt(ciphertext[start : start + NONCE_BYTES], ciphertext[start + NONCE_BYTES :], aad)
        except InvalidTag:
            raise IntegrationError(
                "DECRYPTION_FAILED",
                "The ciphertext does not belong to this row or was altered (authentication failed).",
            ) from None

    def fingerprint(self, plaintext: bytes) -> str:
        return hmac.new(self._hmac_key, plaintext, hashlib.sha256).hexdigest()
