"""The SDK's own connection pool: a first-come-first-served queue in front of
one-connection httpx pools, for the sync and the async client."""

from __future__ import annotations

import ssl
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

if TYPE_CHECKING:
    import anyio

    from ._deadline import Deadline

Transport = TypeVar("Transport", httpx.HTTPTransport, httpx.AsyncHTTPTransport)

# Many slow chat calls can be in flight at once. httpcore's pool rescans every connection
# for each idle one (and each queued request) on every state change, work that grows with
# the square of its size: 1,000 calls queued on one pool ran at a fraction of the speed of
# one at a time (docs/benchmarks.md). So each connection lives in a one-connection httpx
# pool of its own, behind the SDK's first-come-first-served queue.
MAX_CONNECTIONS = 1000
# A burst's connections all stay open for the next one (reopening them costs more than
# the whole call on a busy backend: docs/benchmarks.md) until idle this long; at most
# MAX_CONNECTIONS of them.
KEEPALIVE_EXPIRY = 30.0
_ONE_CONNECTION = httpx.Limits(
    max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY
)

DEADLINE = "convokit.deadline"
"""Request extension: the attempt's deadline (time.monotonic()), which the SDK's pools
hold every connect, write and read of the request to, body included."""

ProxyOption = str | httpx.URL | httpx.Proxy


def proxy_mounts(
    proxy: ProxyOption | None, make: Callable[[ProxyOption], Any]
) -> dict[str, Any | None]:
    """httpx `mounts` routing requests through `proxy`, or else through the proxies the
    environment names (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), exactly as httpx
    reads them: httpx turns them off for a client given its own transport, as the SDK's
    clients are. None routes a pattern to the client's direct transport."""
    if proxy is not None:
        return {"all://": make(proxy)}
    # httpx's own reading of the environment, so the SDK and httpx never disagree on
    # what NO_PROXY matches. Private, but httpx is pinned below 1.0.
    from httpx._utils import get_environment_proxies

    return {
        pattern: None if url is None else make(url)
        for pattern, url in get_environment_proxies().items()
    }


class _Connection(Generic[Transport]):
    """One one-connection pool, the deadline its network backend holds it to, and since
    when it has been free (time.monotonic())."""

    __slots__ = ("deadline", "free_since", "transport")

    def __init__(
        self,
        transport_class: type[Transport],
        backend_class: Callable[[Deadline], Any],
        ssl_context: ssl.SSLContext,
        proxy: ProxyOption | None,
    ) -> None:
        from ._deadline import Deadline

        transport = transport_class(verify=ssl_context, limits=_ONE_CONNECTION, proxy=proxy)
        # httpx takes no network backend; its pool (plain or proxy) keeps the one it talks
        # through here, and a new httpx that moves it is refused here rather than ignored.
        if not hasattr(transport._pool, "_network_backend"):
            raise RuntimeError(
                "convokit: this httpx version is not supported (no _network_backend)"
            )
        self.transport: Transport = transport
        self.deadline: Deadline = Deadline()
        self.free_since = 0.0
        transport._pool._network_backend = backend_class(self.deadline)


class _Connections(Generic[Transport]):
    """The one-connection pools of a client's transport, and which are free.

    Shared by both transports; they add the queue in front and the I/O. A free pool is
    reused last in, first out, so light traffic keeps to the same warm connection; a
    new one is made only when all are busy (the queue caps them at MAX_CONNECTIONS).
    When a pool is taken, those free for longer than KEEPALIVE_EXPIRY are retired (the
    caller closes them): the longest free are at the bottom of the stack.
    """

    __slots__ = ("_free", "_make", "_open")

    def __init__(self, make: Callable[[], _Connection[Transport]]) -> None:
        self._open: dict[_Connection[Transport], None] = {}  # insertion-ordered set
        self._free: deque[_Connection[Transport]] = deque()
        self._make: Callable[[], _Connection[Transport]] = make

    @property
    def in_use(self) -> int:
        """Pools handed out and not yet given back."""
        return len(self._open) - len(self._free)

    @property
    def free(self) -> int:
        """Pools kept open for reuse."""
        return len(self._free)

    def take(self) -> tuple[_Connection[Transport], Sequence[Transport]]:
        """A free pool (a new one when none is free), and the pools retired as expired."""
        retired = self._expired(time.monotonic())
        if self._free:
            return self._free.pop(), retired
        connection = self._make()
        self._open[connection] = None
        return connection, retired

    def give_back(self, connection: _Connection[Transport]) -> None:
        """Takes a pool back, free for reuse."""
        if connection in self._open:  # else close_all() came first: it is closed already
            connection.free_since = time.monotonic()
            self._free.append(connection)

    def _expired(self, now: float) -> Sequence[Transport]:
        free = self._free
        if not free or now - free[0].free_since <= KEEPALIVE_EXPIRY:
            return ()
        retired = []
        while free and now - free[0].free_since > KEEPALIVE_EXPIRY:
            connection = free.popleft()
            del self._open[connection]
            retired.append(connection.transport)
        return retired

    def close_all(self) -> list[Transport]:
        """Every open pool, forgotten: the caller closes them."""
        transports = [connection.transport for connection in self._open]
        self._open.clear()
        self._free.clear()
        return transports


def _queue_wait_limit(request: httpx.Request) -> float | None:
    """How long a request may wait for a free connection: its pool timeout, cut to what
    is left of its attempt."""
    timeout: float | None = request.extensions.get("timeout", {}).get("pool")
    deadline: float | None = request.extensions.get(DEADLINE)
    if deadline is None:
        return timeout
    remaining = max(deadline - time.monotonic(), 0.0)
    return remaining if timeout is None else min(timeout, remaining)


def _pool_timeout_error(request: httpx.Request) -> httpx.PoolTimeout:
    return httpx.PoolTimeout("Timed out waiting for a free connection", request=request)


class _ReleasingStream(httpx.SyncByteStream, httpx.AsyncByteStream, Generic[Transport]):
    """A response body from one of the SDK's pools, sync or async as that pool is. Closing
    it gives the pool and its queue slot back, once, however often it is closed."""

    __slots__ = ("_connection", "_give_back", "_stream")

    def __init__(
        self,
        stream: httpx.SyncByteStream | httpx.AsyncByteStream,
        give_back: Callable[[_Connection[Transport]], None],
        connection: _Connection[Transport],
    ) -> None:
        self._stream: Any = stream
        self._give_back: Callable[[_Connection[Transport]], None] | None = give_back
        self._connection: _Connection[Transport] = connection

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return aiter(self._stream)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._release()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()

    def _release(self) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back(self._connection)


def _check_deadline(deadline: float) -> None:
    if time.monotonic() >= deadline:
        raise httpx.ReadTimeout("the attempt's timeout elapsed while the body was arriving")


class DeadlineCheckedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body from a pool the SDK does not own (a caller's http_client, sync or
    async), checked against the attempt's deadline at each chunk: a body that trickles in
    is cut off within one read of it. (The SDK's own pools hold each read itself to the
    deadline.) Its own async iterator, not an async generator: asyncio's bookkeeping of
    each async generator costs more than this whole check."""

    __slots__ = ("_chunks", "_deadline", "_stream")
    _chunks: AsyncIterator[bytes]  # set by __aiter__

    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, deadline: float
    ) -> None:
        self._stream: Any = stream
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            _check_deadline(self._deadline)
            yield chunk

    def __aiter__(self) -> DeadlineCheckedStream:
        self._chunks = self._stream.__aiter__()
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.__anext__()
        _check_deadline(self._deadline)
        return chunk

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()


class PoolTransport(httpx.BaseTransport):
    """The sync client's own pool: a queue (a semaphore) in front of one-connection pools,
    direct or through `proxy`."""

    def __init__(self, ssl_context: ssl.SSLContext, proxy: ProxyOption | None = None) -> None:
        from ._deadline import DeadlineBackend

        self._connections = _Connections(
            lambda: _Connection(httpx.HTTPTransport, DeadlineBackend, ssl_context, proxy)
        )
        self._queue = threading.Semaphore(MAX_CONNECTIONS)
        self._lock = threading.Lock()  # guards _connections across threads

    @property
    def connections_in_use(self) -> int:
        """Connections a request holds right now (0 once every response is closed)."""
        return self._connections.in_use

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self._queue.acquire(timeout=_queue_wait_limit(request)):
            raise _pool_timeout_error(request)
        with self._lock:
            connection, retired = self._connections.take()
        for transport in retired:
            transport.close()
        connection.deadline.at = request.extensions.get(DEADLINE)
        try:
            response = connection.transport.handle_request(request)
        except BaseException:
            self._give_back(connection)
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _ReleasingStream(response.stream, self._give_back, connection)
        return response

    def _give_back(self, connection: _Connection[httpx.HTTPTransport]) -> None:
        with self._lock:
            self._connections.give_back(connection)
        self._queue.release()

    def close(self) -> None:
        with self._lock:
            transports = self._connections.close_all()
        for transport in transports:
            transport.close()


class AsyncPoolTransport(httpx.AsyncBaseTransport):
    """The async client's own pool: a FIFO queue (anyio's semaphore, so asyncio and trio
    alike) in front of one-connection pools, direct or through `proxy`."""

    def __init__(self, ssl_context: ssl.SSLContext, proxy: ProxyOption | None = None) -> None:
        # Here, not at import: only async users need anyio, and httpx already requires it.
        import anyio

        from ._deadline import AsyncDeadlineBackend

        self._connections = _Connections(
            lambda: _Connection(httpx.AsyncHTTPTransport, AsyncDeadlineBackend, ssl_context, proxy)
        )
        self._queue: anyio.Semaphore = anyio.Semaphore(MAX_CONNECTIONS, fast_acquire=True)

    @property
    def connections_in_use(self) -> int:
        """Connections a request holds right now (0 once every response is closed)."""
        return self._connections.in_use

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._queue.value == 0:
            await _wait_for_slot(self._queue, request)
        else:
            await self._queue.acquire()  # returns at once (fast_acquire)
        connection, retired = self._connections.take()
        for transport in retired:
            await transport.aclose()
        connection.deadline.at = request.extensions.get(DEADLINE)
        try:
            response = await connection.transport.handle_async_request(request)
        except BaseException:
            self._give_back(connection)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, self._give_back, connection)
        return response

    def _give_back(self, connection: _Connection[httpx.AsyncHTTPTransport]) -> None:
        self._connections.give_back(connection)
        self._queue.release()

    async def aclose(self) -> None:
        for transport in self._connections.close_all():
            await transport.aclose()


async def _wait_for_slot(queue: anyio.Semaphore, request: httpx.Request) -> None:
    import anyio

    limit = _queue_wait_limit(request)
    with anyio.move_on_after(limit) as scope:
        await queue.acquire()
    if scope.cancelled_caught:
        raise _pool_timeout_error(request)
