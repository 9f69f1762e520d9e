"""FarmHash Fingerprint64 (farmhashna::Hash64), the function behind BigQuery's FARM_FINGERPRINT, in pure Python.

A re-validation task's share is `MOD(ABS(FARM_FINGERPRINT(credential_id)), count) = index`: BigQuery computes it
itself, the SQLite store registers `farm_fingerprint` below as an SQL function, so both stores split a fleet the
same way (tests/runs/test_task_shares.py checks this against GoogleSQL's reference evaluator)."""

from __future__ import annotations

import struct

_M = (1 << 64) - 1
K0, K1, K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _fetch(s: bytes, i: int) -> int:
    return _U64.unpack_from(s, i)[0]


def _rot(v: int, shift: int) -> int:
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & _M


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _len16(u: int, v: int, mul: int) -> int:
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _len0to16(s: bytes, n: int) -> int:
    if n >= 8:
        mul = K2 + n * 2
        a = (_fetch(s, 0) + K2) & _M
        b = _fetch(s, n - 8)
        c = (_rot(b, 37) * mul + a) & _M
        d = ((_rot(a, 25) + b) * mul) & _M
        return _len16(c, d, mul)
    if n >= 4:
        mul = K2 + n * 2
        a = _U32.unpack_from(s, 0)[0]
        return _len16((n + (a << 3)) & _M, _U32.unpack_from(s, n - 4)[0], mul)
    if n > 0:
        y = (s[0] + (s[n >> 1] << 8)) & 0xFFFFFFFF
        z = (n + (s[n - 1] << 2)) & 0xFFFFFFFF
        return (_shift_mix(((y * K2) ^ (z * K0)) & _M) * K2) & _M
    return K2


def _len17to32(s: bytes, n: int) -> int:
    mul = K2 + n * 2
    a = (_fetch(s, 0) * K1) & _M
    b = _fetch(s, 8)
    c = (_fetch(s, n - 8) * mul) & _M
    d = (_fetch(s, n - 16) * K2) & _M
    return _len16((_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M, (a + _rot((b + K2) & _M, 18) + c) & _M, mul)


def _len33to64(s: bytes, n: int) -> int:
    mul = K2 + n * 2
    a = (_fetch(s, 0) * K2) & _M
    b = _fetch(s, 8)
    c = (_fetch(s, n - 8) * mul) & _M
    d = (_fetch(s, n - 16) * K2) & _M
    y = (_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M
    z = _len16(y, (a + _rot((b + K2) & _M, 18) + c) & _M, mul)
    e = (_fetch(s, 16) * mul) & _M
    f = _fetch(s, 24)
    g = ((y + _fetch(s, n - 32)) * mul) & _M
    h = ((z + _fetch(s, n - 24)) * mul) & _M
    return _len16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M, (e + _rot((f + a) & _M, 18) + g) & _M, mul)


def _weak32(s: bytes, i: int, a: int, b: int) -> tuple[int, int]:
    w, x, y, z = _fetch(s, i), _fetch(s, i + 8), _fetch(s, i + 16), _fetch(s, i + 24)
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rot(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def _long(s: bytes, n: int) -> int:
    seed = 81
    x = seed
    y = (seed * K1 + 113) & _M
    z = (_shift_mix((y * K2 + 113) & _M) * K2) & _M
    v0 = v1 = w0 = w1 = 0
    x = (x * K2 + _fetch(s, 0)) & _M
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    i = 0
    while True:
        x = (_rot((x + y + v0 + _fetch(s, i + 8)) & _M, 37) * K1) & _M
        y = (_rot((y + v1 + _fetch(s, i + 48)) & _M, 42) * K1) & _M
        x ^= w1
        y = (y + v0 + _fetch(s, i + 40)) & _M
        z = (_rot((z + w0) & _M, 33) * K1) & _M
        v0, v1 = _weak32(s, i, (v1 * K1) & _M, (x + w0) & _M)
        w0, w1 = _weak32(s, i + 32, (z + w1) & _M, (y + _fetch(s, i + 16)) & _M)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = K1 + ((z & 0xFF) << 1)
    i = last64
    w0 = (w0 + ((n - 1) & 63)) & _M
    v0 = (v0 + w0) & _M
    w0 = (w0 + v0) & _M
    x = (_rot((x + y + v0 + _fetch(s, i + 8)) & _M, 37) * mul) & _M
    y = (_rot((y + v1 + _fetch(s, i + 48)) & _M, 42) * mul) & _M
    x ^= (w1 * 9) & _M
    y = (y + v0 * 9 + _fetch(s, i + 40)) & _M
    z = (_rot((z + w0) & _M, 33) * mul) & _M
    v0, v1 = _weak32(s, i, (v1 * mul) & _M, (x + w0) & _M)
    w0, w1 = _weak32(s, i + 32, (z + w1) & _M, (y + _fetch(s, i + 16)) & _M)
    z, x = x, z
    return _len16((_len16(v0, w0, mul) + _shift_mix(y) * K0 + z) & _M, (_len16(v1, w1, mul) + x) & _M, mul)


def fingerprint64(data: bytes) -> int:
    """FarmHash Fingerprint64 of `data`, unsigned."""
    n = len(data)
    if n <= 16:
        return _len0to16(data, n)
    if n <= 32:
        return _len17to32(data, n)
    if n <= 64:
        return _len33to64(data, n)
    return _long(data, n)


def farm_fingerprint(text: str) -> int:
    """BigQuery's FARM_FINGERPRINT(text): the fingerprint of its UTF-8 bytes as a signed INT64."""
    value = fingerprint64(text.encode("utf-8"))
    return value - (1 << 64) if value >= 1 << 63 else value


def task_of(credential_id: str, count: int) -> int:
    """MOD(ABS(FARM_FINGERPRINT(credential_id)), count): the task of `count` that checks a credential."""
    return abs(farm_fingerprint(credential_id)) % count
