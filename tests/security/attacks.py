"""Helpers shared by the red-team replays: the attack counter, 5xx accounting, hostile keys."""

from __future__ import annotations

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


def key_file_with(private_key: str, email: str = "sa@acme-prod.iam.gserviceaccount.com") -> str:
    data = json.loads(service_account_json(email, "acme-prod"))
    return json.dumps(data | {"private_key": private_key})


def replayed() -> None:
    record("attacks replayed")


def count_5xx(status: int) -> None:
    record("5xx seen", int(status >= 500))
