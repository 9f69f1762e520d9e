"""Helpers shared by the red-team replays: the attack counter, 5xx accounting, hostile keys."""

from __future__ import annotations

import functools
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from tests.keys import service_account_json
from tests.security.conftest import record

# A real, valid 15,636-bit RSA key (12.6 KB as PKCS#8 PEM, under the 16 KiB cap), built in ~1 ms from two known
# Mersenne primes; validating it as cryptography's loader does costs over a minute of CPU.
_P, _Q, _E = 2**11213 - 1, 2**4423 - 1, 65537


def pem(key: Any, pkcs8: bool = True) -> str:
    fmt = serialization.PrivateFormat.PKCS8 if pkcs8 else serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def huge_rsa_pem() -> str:
    d = pow(_E, -1, (_P - 1) * (_Q - 1))
    numbers = rsa.RSAPrivateNumbers(
        _P, _Q, d, d % (_P - 1), d % (_Q - 1), pow(_Q, -1, _P), rsa.RSAPublicNumbers(_E, _P * _Q)
    )
    return pem(numbers.private_key(unsafe_skip_rsa_key_validation=True))


def non_rsa_pems() -> dict[str, str]:
    return {
        "EC": pem(ec.generate_private_key(ec.SECP256R1())),
        "EC (SEC1)": pem(ec.generate_private_key(ec.SECP256R1()), pkcs8=False),
        "Ed25519": pem(ed25519.Ed25519PrivateKey.generate()),
        "DSA": pem(dsa.generate_private_key(2048)),
    }


@functools.cache
def _key_file(email: str) -> str:
    return service_account_json(email, "acme-prod")  # its own key is replaced: generated once, not per attack


def key_file_with(private_key: str, email: str = "sa@acme-prod.iam.gserviceaccount.com") -> str:
    return json.dumps(json.loads(_key_file(email)) | {"private_key": private_key})


def replayed() -> None:
    record("attacks replayed")


def count_5xx(status: int) -> None:
    record("5xx seen", int(status >= 500))


def der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def rsa_der(numbers: list[int], pkcs8: bool = True, version: int = 0) -> bytes:
    """An RSAPrivateKey (PKCS#1) of whatever numbers (n, e, d, p, q, dp, dq, qinv), wrapped in PKCS#8 if asked."""
    key = _der(0x30, der_integer(version) + b"".join(der_integer(n) for n in numbers))
    if not pkcs8:
        return key
    algorithm = _der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
    return _der(0x30, der_integer(0) + algorithm + _der(0x04, key))


def pem_of(der: bytes, pkcs8: bool = True) -> str:
    import base64
    import textwrap

    label = "PRIVATE KEY" if pkcs8 else "RSA PRIVATE KEY"
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def grafted_rsa_numbers(modulus_bits: int = 4096, prime_bits: int = 8192) -> list[int]:
    """A `modulus_bits` modulus carrying primes (and CRT values) of `prime_bits`, as if taken from a larger key:
    the report's N1 shape. The numbers are odd composites, so a loader that did test them would fail fast here."""
    n = (1 << (modulus_bits - 1)) | 0x10001 | 1
    big = (1 << (prime_bits - 1)) | 0xF
    return [n, 65537, n - 2, big, big + 2, big - 2, big - 4, big - 6]
