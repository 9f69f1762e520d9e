"""Read a PEM private key and bound every number in it before any library sees it.

Loading a key validates it (primality of p and q), which costs CPU that grows steeply with the size of the primes:
a 4096-bit modulus carrying two 8192-bit primes (taken from a larger key) cost 37 s, with the GIL held. So the
PEM text is read line by line (no backtracking regular expression: its cost is linear in the text), the base64
body is decoded strictly, and the DER is walked here: the algorithm, the version and the size of each of the
eight numbers of an RSA private key (n, e, d, p, q, dp, dq, qinv) are checked first. The bytes checked are the
bytes returned, for the caller to load: the loader never reads anything this walk did not bound."""

from __future__ import annotations

import binascii
import re

from .base import malformed

MAX_RSA_BITS = 4096
# two balanced primes of n's size: each at most half of n plus this slack (p, q, dp, dq and qinv are below p or q)
PRIME_SLACK_BITS = 16
MAX_PEM_CHARS = 64 * 1024  # over the API's body cap: refused before any line is read
_RSA_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_SEQUENCE, _INTEGER, _OCTET_STRING = 0x30, 0x02, 0x04
_FIX = "download a new JSON key file for the service account from IAM."
_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,64})-----")  # one line, a class without '-': no backtracking
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_NUMBERS = ("modulus n", "public exponent e", "private exponent d", "prime p", "prime q", "dp", "dq", "qinv")


class _Der:
    """A cursor over DER bytes; every read is bounds-checked (a bad length is a format error, never an IndexError)."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, start, len(data) if end is None else end

    def read(self, tag: int) -> _Der:
        """The next element, which must have `tag`: a cursor over its content; this cursor moves past it."""
        if self.pos + 2 > self.end or self.data[self.pos] != tag:
            raise ValueError("unexpected element")
        first = self.data[self.pos + 1]
        start = self.pos + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if not 1 <= count <= 3 or start + count > self.end:
                raise ValueError("bad length")
            length = int.from_bytes(self.data[start : start + count], "big")
            start += count
        if start + length > self.end:
            raise ValueError("truncated")
        self.pos = start + length
        return _Der(self.data, start, start + length)

    def raw(self) -> bytes:
        return self.data[self.pos : self.end]

    def integer_bits(self) -> int:
        """The next INTEGER's size in bits, from its length field and first byte (the number is not built)."""
        content = self.read(_INTEGER).raw()
        if not content:
            raise ValueError("empty integer")
        return (len(content) - 1) * 8 + content[0].bit_length()

    def done(self) -> None:
        if self.pos != self.end:
            raise ValueError("trailing data")


class _TooLarge(Exception):
    def __init__(self, name: str, bits: int, limit: int) -> None:
        super().__init__(name)
        self.name, self.bits, self.limit = name, bits, limit


def rsa_numbers_bits(der: bytes, pkcs8: bool) -> dict[str, int]:
    """The size in bits of every number of a PKCS#8 (or PKCS#1 `RSA PRIVATE KEY`) two-prime RSA key, each checked
    against its bound as it is read: ValueError when it is not one, LookupError when it is not RSA, _TooLarge."""
    outer = _Der(der)
    key = outer.read(_SEQUENCE)
    outer.done()
    if pkcs8:
        key.read(_INTEGER)  # version (v1 or v2: optional attributes and public key may follow; never loaded large)
        algorithm = key.read(_SEQUENCE)
        if not algorithm.raw().startswith(_RSA_OID):
            raise LookupError("not RSA")
        octets = key.read(_OCTET_STRING)
        key = octets.read(_SEQUENCE)
        octets.done()
    version = key.read(_INTEGER).raw()
    if version != b"\x00":  # 1 is multi-prime RSA (more primes follow): Google's keys are two-prime
        raise ValueError("not a two-prime RSA key")
    bits: dict[str, int] = {}
    for name in _NUMBERS:
        bits[name] = size = key.integer_bits()
        limit = MAX_RSA_BITS if name in _NUMBERS[:3] else (bits["modulus n"] + 1) // 2 + PRIME_SLACK_BITS
        if size > limit:
            raise _TooLarge(name, size, limit)
    key.done()  # nothing after qinv (otherPrimeInfos is for version 1)
    return bits


def pem_body(pem: str) -> tuple[str, str]:
    """(label, base64 body without whitespace) of one PEM block, read line by line; ValueError when it is not one.
    Linear in the text: every line is looked at once, with no pattern that can backtrack."""
    if len(pem) > MAX_PEM_CHARS:
        raise ValueError("too long")
    lines = pem.strip().splitlines()
    if len(lines) < 2:
        raise ValueError("no BEGIN and END lines")
    begin = _BEGIN.fullmatch(lines[0].strip())
    if begin is None or lines[-1].strip() != f"-----END {begin.group(1)}-----":
        raise ValueError("no matching BEGIN and END lines")
    body = "".join("".join(line.split()) for line in lines[1:-1])
    if not body or _BASE64.fullmatch(body) is None:
        raise ValueError("not base64")
    return begin.group(1), body


def check_rsa_pem(pem: str) -> bytes:
    """Refuse anything but an unencrypted RSA private key whose numbers are all within bounds (modulus at most
    MAX_RSA_BITS), before it is loaded; return the DER that was checked, for the caller to load."""
    try:
        label, body = pem_body(pem)
    except ValueError:
        raise malformed(f"The key's private_key is not one PEM private key; {_FIX}") from None
    if label not in ("PRIVATE KEY", "RSA PRIVATE KEY"):
        kind = "is encrypted" if "ENCRYPTED" in label else f"is not an RSA key ({label})"
        raise malformed(f"The key's private_key {kind}; Google service-account keys are unencrypted RSA. {_FIX}")
    try:
        der = binascii.a2b_base64(body.encode(), strict_mode=True)
        rsa_numbers_bits(der, pkcs8=label == "PRIVATE KEY")
    except LookupError:
        raise malformed(f"The key's private_key is not an RSA key (EC, Ed25519 or DSA); {_FIX}") from None
    except _TooLarge as big:
        what = "modulus" if big.name == "modulus n" else big.name
        raise malformed(
            f"The key's RSA {what} has {big.bits} bits; at most {big.limit} are accepted "
            f"(RSA moduli up to {MAX_RSA_BITS} bits; Google issues 2048). {_FIX}"
        ) from None
    except ValueError:  # binascii.Error is one
        raise malformed(f"The key's private_key cannot be read as a PEM private key; {_FIX}") from None
    return der
