"""Read a PEM private key's algorithm and RSA modulus size from its DER length fields, without building the key.

Loading a key validates it (primality of p and q), which costs CPU that grows steeply with the key size: a
16384-bit key costs ~26 s. So the size and the algorithm are checked first, by walking the ASN.1 structure."""

from __future__ import annotations

import binascii
import re

from .base import malformed

MAX_RSA_BITS = 4096
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END \1-----\s*\Z")
_RSA_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_SEQUENCE, _INTEGER, _OCTET_STRING = 0x30, 0x02, 0x04
_FIX = "download a new JSON key file for the service account from IAM."


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


def rsa_modulus_bits(der: bytes, pkcs8: bool) -> int:
    """The modulus size of a PKCS#8 (or PKCS#1 `RSA PRIVATE KEY`) RSA key; ValueError when it is not one."""
    key = _Der(der).read(_SEQUENCE)
    if pkcs8:
        key.read(_INTEGER)  # version
        algorithm = key.read(_SEQUENCE)
        if not algorithm.raw().startswith(_RSA_OID):
            raise LookupError("not RSA")
        key = key.read(_OCTET_STRING).read(_SEQUENCE)
    key.read(_INTEGER)  # version
    modulus = key.read(_INTEGER).raw()
    return int.from_bytes(modulus, "big").bit_length()


def check_rsa_pem(pem: str) -> None:
    """Refuse anything but an unencrypted RSA private key of at most MAX_RSA_BITS, before it is loaded."""
    match = _PEM.fullmatch(pem.strip() + "\n")
    if match is None:
        raise malformed(f"The key's private_key is not one PEM private key; {_FIX}")
    label = match.group(1)
    if label not in ("PRIVATE KEY", "RSA PRIVATE KEY"):
        kind = "is encrypted" if "ENCRYPTED" in label else f"is not an RSA key ({label})"
        raise malformed(f"The key's private_key {kind}; Google service-account keys are unencrypted RSA. {_FIX}")
    try:
        der = binascii.a2b_base64(match.group(2).encode())
        bits = rsa_modulus_bits(der, pkcs8=label == "PRIVATE KEY")
    except LookupError:
        raise malformed(f"The key's private_key is not an RSA key (EC, Ed25519 or DSA); {_FIX}") from None
    except (ValueError, binascii.Error):
        raise malformed(f"The key's private_key cannot be read as a PEM private key; {_FIX}") from None
    if bits > MAX_RSA_BITS:
        raise malformed(
            f"The key's RSA modulus has {bits} bits; at most {MAX_RSA_BITS} are accepted (Google issues 2048). {_FIX}"
        )
