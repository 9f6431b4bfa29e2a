"""The SDK's own connection pool: a first-come-first-served queue in front of
one-connection httpx pools, for the sync and the async client."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

import httpx

if TYPE_CHECKING:
    import asyncio

__all__ = ["LIMITS", "MAX_CONNECTIONS", "MAX_IDLE", "AsyncPoolTransport", "PoolTransport"]

Transport = TypeVar("Transport", httpx.HTTPTransport, httpx.AsyncHTTPTransport)

# Chat calls wait on a model for seconds: many can be in flight at once, and the pool
# must not make them queue behind each other. httpcore's pool rescans every connection
# for each idle one (and for each queued request) on every state change, work that
# grows with the square of its size: 1,000 calls queued on one pool ran at a fraction of
# the speed of one call at a time (docs/benchmarks.md). So each of the SDK's connections
# lives in a one-connection httpx pool of its own, behind a first-come-first-served
# queue of the SDK's.
MAX_CONNECTIONS = 1000
MAX_IDLE = 100  # connections kept alive after a burst, as httpx's own pool did
_ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=30)
# httpx still builds the pools for proxies named in the environment itself.
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30)


class _Connections(Generic[Transport]):
    """The one-connection pools of a client's transport, and which are free.

    Shared by both transports; they add the queue in front and the I/O. A free pool is
    reused last in, first out, so light traffic keeps to the same warm connection; a
    new one is made only when all are busy (the queue caps them at MAX_CONNECTIONS).
    Past MAX_IDLE free ones, a returned pool is retired: its caller closes it.
    """

    __slots__ = ("_free", "_make", "_open")

    def __init__(self, make: Callable[[], Transport]) -> None:
        self._open: dict[Transport, None] = {}  # insertion-ordered set
        self._free: list[Transport] = []
        self._make: Callable[[], Transport] = make

    @property
    def in_use(self) -> int:
        """Pools handed out and not yet given back."""
        return len(self._open) - len(self._free)

    def take(self) -> Transport:
        """A free pool (a new one when none is free)."""
        if self._free:
            return self._free.pop()
        transport = self._make()
        self._open[transport] = None
        return transport

    def give_back(self, transport: Transport) -> Transport | None:
        """Takes a pool back; returns it when it is retired and must be closed."""
        if len(self._free) < MAX_IDLE:
            self._free.append(transport)
            return None
        self._open.pop(transport, None)  # absent when close_all() came first
        return transport

    def close_all(self) -> list[Transport]:
        """Every open pool, forgotten: the caller closes them."""
        transports = list(self._open)
        self._open.clear()
        self._free.clear()
        return transports


class _Release(Generic[Transport]):
    """Gives a request's pool and queue slot back, once, however often it is called;
    returns the pool when it was retired (the caller closes it)."""

    __slots__ = ("_give_back", "_transport")

    def __init__(
        self, give_back: Callable[[Transport], Transport | None], transport: Transport
    ) -> None:
        self._give_back: Callable[[Transport], Transport | None] | None = give_back
        self._transport: Transport = transport

    def __call__(self) -> Transport | None:
        give_back, self._give_back = self._give_back, None
        return None if give_back is None else give_back(self._transport)


def _pool_timeout(request: httpx.Request) -> float | None:
    timeout: float | None = request.extensions.get("timeout", {}).get("pool")
    return timeout


def _pool_timeout_error(request: httpx.Request) -> httpx.PoolTimeout:
    return httpx.PoolTimeout("Timed out waiting for a free connection", request=request)


class _ReleasingStream(httpx.SyncByteStream):
    __slots__ = ("_release", "_stream")

    def __init__(
        self, stream: httpx.SyncByteStream, release: _Release[httpx.HTTPTransport]
    ) -> None:
        self._stream = stream
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            retired = self._release()
            if retired is not None:
                retired.close()


class _AsyncReleasingStream(httpx.AsyncByteStream):
    __slots__ = ("_release", "_stream")

    def __init__(
        self, stream: httpx.AsyncByteStream, release: _Release[httpx.AsyncHTTPTransport]
    ) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            retired = self._release()
            if retired is not None:
                await retired.aclose()


class PoolTransport(httpx.BaseTransport):
    """The sync client's own pool: a queue (a semaphore) in front of one-connection pools."""

    def __init__(self) -> None:
        ssl_context = httpx.create_ssl_context()
        self._connections = _Connections(
            lambda: httpx.HTTPTransport(verify=ssl_context, limits=_ONE_CONNECTION)
        )
        self._queue = threading.Semaphore(MAX_CONNECTIONS)
        self._lock = threading.Lock()  # guards _connections across threads

    @property
    def connections_in_use(self) -> int:
        """Connections a request holds right now (0 once every response is closed)."""
        return self._connections.in_use

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self._queue.acquire(timeout=_pool_timeout(request)):
            raise _pool_timeout_error(request)
        with self._lock:
            transport = self._connections.take()
        release = _Release(self._give_back, transport)
        try:
            response = transport.handle_request(request)
        except BaseException:
            retired = release()
            if retired is not None:
                retired.close()
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _ReleasingStream(response.stream, release)
        return response

    def _give_back(self, transport: httpx.HTTPTransport) -> httpx.HTTPTransport | None:
        with self._lock:
            retired = self._connections.give_back(transport)
        self._queue.release()
        return retired

    def close(self) -> None:
        with self._lock:
            transports = self._connections.close_all()
        for transport in transports:
            transport.close()


class AsyncPoolTransport(httpx.AsyncBaseTransport):
    """The async client's own pool: a FIFO queue (asyncio.Semaphore) in front of
    one-connection pools."""

    def __init__(self) -> None:
        import asyncio  # here, not at import: only async users need it, and they have it

        ssl_context = httpx.create_ssl_context()
        self._connections = _Connections(
            lambda: httpx.AsyncHTTPTransport(verify=ssl_context, limits=_ONE_CONNECTION)
        )
        self._queue = asyncio.Semaphore(MAX_CONNECTIONS)

    @property
    def connections_in_use(self) -> int:
        """Connections a request holds right now (0 once every response is closed)."""
        return self._connections.in_use

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._queue.locked():
            await _wait_for_slot(self._queue, request)
        else:
            await self._queue.acquire()  # returns at once
        transport = self._connections.take()
        release = _Release(self._give_back, transport)
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            retired = release()
            if retired is not None:
                await retired.aclose()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncReleasingStream(response.stream, release)
        return response

    def _give_back(self, transport: httpx.AsyncHTTPTransport) -> httpx.AsyncHTTPTransport | None:
        retired = self._connections.give_back(transport)
        self._queue.release()
        return retired

    async def aclose(self) -> None:
        for transport in self._connections.close_all():
            await transport.aclose()


async def _wait_for_slot(queue: asyncio.Semaphore, request: httpx.Request) -> None:
    import asyncio

    try:
        async with asyncio.timeout(_pool_timeout(request)):
            await queue.acquire()
    except TimeoutError:
        raise _pool_timeout_error(request) from None
