"""Scrub provider messages of anything that could be part of the credential before they go anywhere."""

from __future__ import annotations

import re

REDACTED = "[redacted]"
MIN_FRAGMENT = 4
# Key-shaped tokens, masked or not: sk-..., sk-proj-****abcd, ya29.<token>, PEM bodies.
_KEYLIKE = re.compile(
    r"(sk-[A-Za-z0-9_*\-.]{2,}|ya29\.[A-Za-z0-9_\-.]+|-----BEGIN[^-]*-----[\s\S]*?-----END[^-]*-----)"
)
_TOKEN = re.compile(rf"[A-Za-z0-9_+/=\-]{{{MIN_FRAGMENT},}}")


def scrub(text: str, secrets: list[str]) -> str:
    """Remove key-shaped tokens and any run of >= 4 credential characters found inside a secret."""
    text = _KEYLIKE.sub(REDACTED, text)
    if not secrets:
        return text

    def fragment(match: re.Match[str]) -> str:
        word = match.group(0)
        if any(word in s for s in secrets):
            return REDACTED
        for size in range(len(word) - 1, MIN_FRAGMENT - 1, -1):  # longest piece of the word inside a secret
            for start in range(0, len(word) - size + 1):
                if any(word[start : start + size] in s for s in secrets) and _is_keyish(word[start : start + size]):
                    return word[:start] + REDACTED + word[start + size :]
        return word

    return _TOKEN.sub(fragment, text)


def _is_keyish(piece: str) -> bool:
    """A fragment worth hiding: has a digit or mixed case (plain words like 'project' are not key material)."""
    return any(c.isdigit() for c in piece) or (piece.lower() != piece and piece.upper() != piece)
