"""Input limits and the per-org attempt limiter (so the service cannot be used to test stolen keys)."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Protocol, cast

from .domain import MAX_METADATA_BYTES
from .errors import Code, IntegrationError

if TYPE_CHECKING:
    from pyrate_limiter import InMemoryBucket

MAX_NAME_CHARS = 200
WINDOW_S = 60.0  # the attempt limiter's window
log = logging.getLogger("integrations")


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


# Unicode's bidirectional controls (embeddings, overrides, isolates, marks): in a name they reorder what an
# operator reads ("invoice\u202eexe.pdf" shows as "invoicefdp.exe"), so names holding one are refused
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _bidi(text: str) -> bool:
    return any(c in BIDI_CONTROLS for c in text)


def _shown_name(name: object, field: str) -> str | None:
    """A name operators read (a credential's, an org's): one line of at most MAX_NAME_CHARS, valid Unicode, no
    control code and no bidirectional control; INVALID_INPUT saying which, with what to do."""
    if name is None or name == "":
        return None
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _encodable(name) or _control(name):
        raise IntegrationError(
            Code.INVALID_INPUT,
            f"{field} must be one line of text of at most {MAX_NAME_CHARS} characters (no control codes).",
        )
    if _bidi(name):
        raise IntegrationError(
            Code.INVALID_INPUT,
            f"{field} holds a bidirectional control character (such as U+202E RIGHT-TO-LEFT OVERRIDE) that would "
            "change the order in which it is shown; remove it and type the name again.",
        )
    return name.strip() or None


def metadata_dict(metadata: object) -> dict[str, Any]:
    """A flat JSON object of scalars, at most 4 KiB."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise IntegrationError(
            Code.INVALID_INPUT, 'metadata must be a JSON object such as {"environment": "production"}.'
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > 64 or not _encodable(key) or _control(key) or _bidi(key):
            raise IntegrationError(
                Code.INVALID_INPUT,
                "metadata keys must be non-empty text of at most 64 characters, without control codes or "
                "bidirectional controls (such as U+202E).",
            )
        if isinstance(value, str) and not _encodable(value):
            raise IntegrationError(
                Code.INVALID_INPUT, "metadata values must be valid Unicode text (no lone surrogates)."
            )
        if not (value is None or isinstance(value, str | int | float | bool)):
            raise IntegrationError(
                Code.INVALID_INPUT,
                f"metadata value of {key[:64]!r} must be a string, number, boolean or null (the object must be flat).",
            )
    try:
        size = len(json.dumps(metadata, allow_nan=False).encode("utf-8", "surrogatepass"))
    except ValueError:
        raise IntegrationError(
            Code.INVALID_INPUT, "metadata must be valid JSON (no NaN or infinity, no integer over 4,300 digits)."
        ) from None
    if size > MAX_METADATA_BYTES:
        raise IntegrationError(Code.INVALID_INPUT, "metadata is over 4 KiB.")
    return dict(metadata)


def credential_name(name: object) -> str | None:
    return _shown_name(name, "credential_name")


def org_name(name: object) -> str | None:
    return _shown_name(name, "The organization's name")


def actor_name(actor: object) -> str:
    """Who acts, as the append-only audit log keeps it: bounded like a name (one line, at most MAX_NAME_CHARS, no
    control or bidirectional code) and not empty. Every facade method that records an actor checks it first."""
    shown = _shown_name(actor, "The actor (who is acting)")
    if shown is None:
        raise IntegrationError(Code.INVALID_INPUT, "The actor (who is acting) must not be empty.")
    return shown


class SharedAttempts(Protocol):
    """Where attempts are counted for every process (the status cache: see StatusCache.count_attempt)."""

    def count_attempt(self, org_slug: str, limit: int, window_s: float) -> float | None: ...


class AttemptLimiter:
    """At most `per_minute` credential checks per org in any 60-second window (0 disables), counted in `shared`
    (the status cache's table: every API replica, worker and restart sees the same attempts) when given, else in
    this process: a sliding-window log per org (pyrate-limiter), so the refusal can say when the oldest attempt
    leaves the window. If the shared count cannot be reached, this process's count is used meanwhile."""

    def __init__(self, per_minute: int, shared: SharedAttempts | None = None) -> None:
        self.per_minute = per_minute
        self.shared = shared
        self._buckets: dict[tuple[str, int], InMemoryBucket] = {}
        self._lock = threading.Lock()

    def hit(self, org_slug: str) -> None:
        if self.per_minute <= 0:
            return
        if self.shared is not None:
            try:
                wait_s = self.shared.count_attempt(org_slug, self.per_minute, WINDOW_S)
            except IntegrationError as exc:
                log.warning("attempt limiter: shared count unavailable (%s); counting in this process", exc.code)
            else:
                if wait_s is not None:
                    raise _refused(org_slug, math.ceil(wait_s) + 1)
                return
        self._hit_here(org_slug)

    def _hit_here(self, org_slug: str) -> None:
        from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem  # only when counting in this process

        now = time.monotonic_ns() // 1_000_000
        with self._lock:
            key = (org_slug, self.per_minute)
            bucket = self._buckets.get(key) or self._buckets.setdefault(
                key, InMemoryBucket([Rate(self.per_minute, Duration.MINUTE)])
            )
            bucket.leak(now)  # forget attempts older than the window
            item = RateItem(org_slug, now)
            if not bucket.put(item):
                raise _refused(org_slug, math.ceil(max(0, cast(int, bucket.waiting(item))) / 1000) + 1)


def _refused(org_slug: str, wait: int) -> IntegrationError:
    return IntegrationError(
        Code.TOO_MANY_ATTEMPTS,
        f"Too many credential checks for {org_slug}; retry in {wait} s.",
        details={"retry_after": wait},
    )
