"""Network backends that hold every socket operation of an attempt to its deadline.

httpcore times each socket read on its own, so a body that trickles in (each gap shorter
than the read timeout) is never cut off. The SDK's one-connection pools (`_transport.py`)
talk to the network through these backends instead: each connect, TLS handshake, read and
write gets at most the time left before the attempt's deadline, so `timeout` bounds an
attempt from connect to the last body byte. Connects are TCP only: the pools are given no
`uds=`, so httpcore never asks for a Unix socket. Imported with the first pool, not with
`convokit`: httpcore's import is lazy in httpx too."""

from __future__ import annotations

import ssl
import time
import typing

import httpcore

if typing.TYPE_CHECKING:
    from collections.abc import Iterable

    from httpcore._backends.base import SOCKET_OPTION

_Timeout = type[httpcore.ConnectTimeout | httpcore.ReadTimeout | httpcore.WriteTimeout]


class Deadline:
    """The deadline (time.monotonic()) of the attempt a connection serves, or None. One per
    one-connection pool, which serves one request at a time: its transport sets it before
    each request, and nothing else races it."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None

    def cap(self, timeout: float | None, error: _Timeout) -> float | None:
        """`timeout` shortened to the time left, or `error` when none is left."""
        if self.at is None:
            return timeout
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise error("the attempt's timeout elapsed")
        return remaining if timeout is None or timeout > remaining else timeout


class DeadlineBackend(httpcore.SyncBackend):
    """The sync network backend, with each operation capped by `deadline`."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        capped = self._deadline.cap(timeout, httpcore.ConnectTimeout)
        stream = super().connect_tcp(host, port, capped, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)


class _DeadlineStream(httpcore.NetworkStream):
    __slots__ = ("_deadline", "_stream")

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = self._deadline.cap(timeout, httpcore.ConnectTimeout)
        stream = self._stream.start_tls(ssl_context, server_hostname, capped)
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class AsyncDeadlineBackend(httpcore.AnyIOBackend):
    """The async network backend (anyio's, so asyncio and trio), capped by `deadline`."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        capped = self._deadline.cap(timeout, httpcore.ConnectTimeout)
        stream = await super().connect_tcp(host, port, capped, local_address, socket_options)
        return _AsyncDeadlineStream(stream, self._deadline)


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    __slots__ = ("_deadline", "_stream")

    def __init__(self, stream: httpcore.AsyncNetworkStream, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        capped = self._deadline.cap(timeout, httpcore.ReadTimeout)
        return await self._stream.read(max_bytes, capped)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, self._deadline.cap(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        capped = self._deadline.cap(timeout, httpcore.ConnectTimeout)
        stream = await self._stream.start_tls(ssl_context, server_hostname, capped)
        return _AsyncDeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)
