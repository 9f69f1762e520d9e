"""Input limits and the per-org attempt limiter (so the service cannot be used to test stolen keys)."""

from __future__ import annotations

import json
import math
import threading
import time
import unicodedata
from typing import Any, cast

from pydantic import SecretStr
from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem

from .domain import MAX_CREDENTIAL_BYTES, MAX_METADATA_BYTES
from .errors import IntegrationError

MAX_NAME_CHARS = 200


def credential_secret(credential: object) -> SecretStr:
    """The credential as SecretStr, refused when empty, not text, or over 16 KiB."""
    if isinstance(credential, SecretStr):
        credential = credential.get_secret_value()
    if not isinstance(credential, str):
        raise IntegrationError("MALFORMED_CREDENTIAL", "The credential must be text.")
    if not credential.strip():
        raise IntegrationError("MALFORMED_CREDENTIAL", "The credential is empty.")
    if len(credential.encode("utf-8", "surrogatepass")) > MAX_CREDENTIAL_BYTES:
        raise IntegrationError("MALFORMED_CREDENTIAL", "The credential is over 16 KiB; no provider key is that long.")
    if "\x00" in credential:
        raise IntegrationError("MALFORMED_CREDENTIAL", "The credential contains a NUL byte.")
    if not _encodable(credential):
        raise IntegrationError("MALFORMED_CREDENTIAL", "The credential is not valid Unicode text (a lone surrogate).")
    return SecretStr(credential)


def _encodable(text: str) -> bool:
    """Valid UTF-8 when encoded: no lone surrogates (they cannot be stored, logged or sent back)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _control(text: str) -> bool:
    """Holds a control character (terminal escapes, line breaks): refused in names shown to operators."""
    return any(unicodedata.category(c) == "Cc" for c in text)


def metadata_dict(metadata: object) -> dict[str, Any]:
    """A flat JSON object of scalars, at most 4 KiB."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise IntegrationError("INVALID_INPUT", 'metadata must be a JSON object such as {"environment": "production"}.')
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > 64 or not _encodable(key) or _control(key):
            raise IntegrationError(
                "INVALID_INPUT", "metadata keys must be non-empty text of at most 64 characters, without control codes."
            )
        if isinstance(value, str) and not _encodable(value):
            raise IntegrationError("INVALID_INPUT", "metadata values must be valid Unicode text (no lone surrogates).")
        if not (value is None or isinstance(value, str | int | float | bool)):
            raise IntegrationError(
                "INVALID_INPUT",
                f"metadata value of {key[:64]!r} must be a string, number, boolean or null (the object must be flat).",
            )
    try:
        size = len(json.dumps(metadata, allow_nan=False).encode("utf-8", "surrogatepass"))
    except ValueError:
        raise IntegrationError(
            "INVALID_INPUT", "metadata must be valid JSON (no NaN or infinity, no integer over 4,300 digits)."
        ) from None
    if size > MAX_METADATA_BYTES:
        raise IntegrationError("INVALID_INPUT", "metadata is over 4 KiB.")
    return dict(metadata)


def credential_name(name: object) -> str | None:
    if name is None or name == "":
        return None
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _encodable(name) or _control(name):
        raise IntegrationError(
            "INVALID_INPUT",
            f"credential_name must be one line of text of at most {MAX_NAME_CHARS} characters (no control codes).",
        )
    return name.strip() or None


class AttemptLimiter:
    """At most `per_minute` credential checks per org in any 60-second window (0 disables): a sliding-window log
    per org (pyrate-limiter), so the refusal can say when the oldest attempt leaves the window."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[tuple[str, int], InMemoryBucket] = {}
        self._lock = threading.Lock()

    def hit(self, org_slug: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic_ns() // 1_000_000
        with self._lock:
            key = (org_slug, self.per_minute)
            bucket = self._buckets.get(key) or self._buckets.setdefault(
                key, InMemoryBucket([Rate(self.per_minute, Duration.MINUTE)])
            )
            bucket.leak(now)  # forget attempts older than the window
            item = RateItem(org_slug, now)
            if not bucket.put(item):
                wait = math.ceil(max(0, cast(int, bucket.waiting(item))) / 1000) + 1
                raise IntegrationError(
                    "TOO_MANY_ATTEMPTS",
                    f"Too many credential checks for {org_slug}; retry in {wait} s.",
                    details={"retry_after": wait},
                )
