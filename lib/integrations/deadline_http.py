"""An httpx transport whose every connect, read and write ends by one deadline (a hard total per request).

httpx's timeouts are per operation: a server that trickles one byte every 2 s never trips a 3 s read timeout and
can hold a request for minutes. Here each socket operation gets at most the time left until the deadline, and
none starts after it, so a request (with its retries on the same client) ends by the deadline, whatever the
server does.
"""

from __future__ import annotations

import ssl
import time
import typing

import httpcore
import httpx

_Timeout = type[httpcore.TimeoutException]


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: _Backend) -> None:
        self._stream, self._backend = stream, backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = self._backend.left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, left), self._backend)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, deadline: float) -> None:
        self.deadline, self._sync = deadline, httpcore.SyncBackend()

    def left(self, timeout: float | None, error: _Timeout) -> float:
        """The operation's timeout, cut to the time left; the operation's timeout error once none is left."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the request's total deadline has passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = self.left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._sync.connect_tcp(host, port, left, local_address, socket_options), self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.NetworkStream:
        left = self.left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._sync.connect_unix_socket(path, left, socket_options), self)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.deadline - time.monotonic())))


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (its exception mapping, HTTP/1.1, TLS verification) over sockets bounded by
    `deadline` (a time.monotonic() value). No proxy from the environment: the deadline would not cover it."""

    def __init__(self, deadline: float) -> None:
        super().__init__(trust_env=False)
        # httpx builds its connection pool without a way to pass a network backend: rebuild it with one
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=_Backend(deadline))


def client(deadline: float, timeout_s: float) -> httpx.Client:
    """An httpx client whose requests end by `deadline` (each operation also within `timeout_s`), no redirect."""
    return httpx.Client(
        transport=DeadlineTransport(deadline), timeout=timeout_s, follow_redirects=False, trust_env=False
    )
