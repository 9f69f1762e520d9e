"""Scrub provider messages of anything that could be part of the credential before they go anywhere."""

from __future__ import annotations

import re

REDACTED = "[redacted]"
MIN_FRAGMENT = 4  # a whole word of 4-7 key characters found in a secret (e.g. "key ending Yz99") is removed
FRAGMENT = 8  # and every run of 8+ characters found in a secret, wherever it sits in a word
# Key-shaped tokens, masked or not: sk-..., sk-proj-****abcd, ya29.<token>, PEM bodies.
_KEYLIKE = re.compile(
    r"(sk-[A-Za-z0-9_*\-.]{2,}|ya29\.[A-Za-z0-9_\-.]+|-----BEGIN[^-]*-----[\s\S]*?-----END[^-]*-----)"
)
_SHORT_WORD = re.compile(
    rf"(?<![A-Za-z0-9_+/=\-])[A-Za-z0-9_+/=\-]{{{MIN_FRAGMENT},{FRAGMENT - 1}}}(?![A-Za-z0-9_+/=\-])"
)


_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone surrogate cannot be encoded: not stored, sent or logged
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # line breaks and terminal escapes: the text is shown on one line


def printable(text: str) -> str:
    """A provider's text made safe to store, log, send as JSON and show: lone surrogates become U+FFFD, control
    characters a space."""
    return _CONTROL.sub(" ", _SURROGATE.sub("\ufffd", text))


def scrub(text: str, secrets: list[str]) -> str:
    """Remove key-shaped tokens, every run of text made of 8-character pieces of a secret, and short words
    (4-7 characters) that occur in a secret; the result is printable() (valid UTF-8, one line).

    Linear in the text and the secrets: the secrets' pieces go into sets, each position of the text is looked up
    once, and overlapping hits merge into one run, so a key echoed in halves (`half1/half2`) loses both."""
    text = _KEYLIKE.sub(REDACTED, printable(text))
    if not any(secrets):
        return text
    text = _remove_runs(text, _pieces(secrets, FRAGMENT))
    words = [m for m in _SHORT_WORD.finditer(text) if _is_keyish(m.group(0))]
    if not words:
        return text
    short = set().union(*(_pieces(secrets, n) for n in range(MIN_FRAGMENT, FRAGMENT)))
    out, last = [], 0
    for m in words:
        if m.group(0) in short:
            out += [text[last : m.start()], REDACTED]
            last = m.end()
    return "".join(out) + text[last:]


def _pieces(secrets: list[str], size: int) -> set[str]:
    return {s[i : i + size] for s in secrets for i in range(len(s) - size + 1)}


def _remove_runs(text: str, grams: set[str]) -> str:
    runs: list[list[int]] = []
    for i in range(len(text) - FRAGMENT + 1):
        if text[i : i + FRAGMENT] in grams:
            if runs and i <= runs[-1][1]:
                runs[-1][1] = i + FRAGMENT
            else:
                runs.append([i, i + FRAGMENT])
    out, last = [], 0
    for start, end in runs:
        if _is_keyish(text[start:end]):
            out += [text[last:start], REDACTED]
            last = end
    return "".join(out) + text[last:]


def _is_keyish(piece: str) -> bool:
    """A fragment worth hiding: has a digit or mixed case (plain words like 'project' are not key material)."""
    return any(c.isdigit() for c in piece) or (piece.lower() != piece and piece.upper() != piece)
