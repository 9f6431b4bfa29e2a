"""The clients: Client (sync) and AsyncClient, and create_client / create_async_client.

Everything but sending and sleeping lives in ChatCall and _BaseClient, so the two
clients cannot drift apart.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import httpx

from ._call import ChatCall, ChatInput
from ._config import DEFAULT_TIMEOUT, ClientConfig, resolve_config, updated_config
from ._conversation import AsyncConversation, Conversation
from ._exceptions import ConvoKitError
from ._logging import configure_from_env
from ._models import ChatResponse
from ._options import CLIENT_OPTIONS, CLIENT_SPELLINGS, merge_options
from ._retry import DEFAULT_MAX_RETRIES

__all__ = ["AsyncClient", "Client", "create_async_client", "create_client"]

if TYPE_CHECKING:
    import asyncio

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)
Transport = TypeVar("Transport", httpx.HTTPTransport, httpx.AsyncHTTPTransport)

# Chat calls wait on a model for seconds: many can be in flight at once, and the pool
# must not make them queue behind each other. httpcore's pool rescans every connection
# for each idle one (and for each queued request) on every state change, work that
# grows with the square of its size: 1,000 calls queued on one pool ran at a fraction of
# the speed of one call at a time (docs/benchmarks.md). So each of the SDK's connections
# lives in a one-connection httpx pool of its own, behind a first-come-first-served
# queue of the SDK's.
_MAX_CONNECTIONS = 1000
_MAX_IDLE = 100  # connections kept alive after a burst, as httpx's own pool did
_ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=30)
# httpx still builds the pools for proxies named in the environment itself.
_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30)


class _Connections(Generic[Transport]):
    """The one-connection pools of a client's transport, and which are free.

    Shared by both transports; they add the queue in front and the I/O. A free pool is
    reused last in, first out, so light traffic keeps to the same warm connection; a
    new one is made only when all are busy (the queue caps them at _MAX_CONNECTIONS).
    Past _MAX_IDLE free ones, a returned pool is retired: its caller closes it.
    """

    __slots__ = ("_free", "_make", "_open")

    def __init__(self, make: Callable[[], Transport]) -> None:
        self._open: dict[Transport, None] = {}  # insertion-ordered set
        self._free: list[Transport] = []
        self._make: Callable[[], Transport] = make

    def take(self) -> Transport:
        """A free pool (a new one when none is free)."""
        if self._free:
            return self._free.pop()
        transport = self._make()
        self._open[transport] = None
        return transport

    def give_back(self, transport: Transport) -> Transport | None:
        """Takes a pool back; returns it when it is retired and must be closed."""
        if len(self._free) < _MAX_IDLE:
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


class _PoolTransport(httpx.BaseTransport):
    """The sync client's own pool: a queue (a semaphore) in front of one-connection pools."""

    def __init__(self) -> None:
        ssl_context = httpx.create_ssl_context()
        self._connections = _Connections(
            lambda: httpx.HTTPTransport(verify=ssl_context, limits=_ONE_CONNECTION)
        )
        self._queue = threading.Semaphore(_MAX_CONNECTIONS)
        self._lock = threading.Lock()  # guards _connections across threads

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


class _AsyncPoolTransport(httpx.AsyncBaseTransport):
    """The async client's own pool: a FIFO queue (asyncio.Semaphore) in front of
    one-connection pools."""

    def __init__(self) -> None:
        import asyncio  # here, not at import: only async users need it, and they have it

        ssl_context = httpx.create_ssl_context()
        self._connections = _Connections(
            lambda: httpx.AsyncHTTPTransport(verify=ssl_context, limits=_ONE_CONNECTION)
        )
        self._queue = asyncio.Semaphore(_MAX_CONNECTIONS)

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


class _Pool(Generic[HttpClient]):
    """The httpx client a client and its with_options() copies share.

    A pool the SDK made is replaced in a forked child: sockets inherited from the
    parent would interleave two processes' bytes on one connection. A pool the
    caller passed in is theirs to manage and is used as it is.
    """

    __slots__ = ("_factory", "_http", "_pid", "owned")

    _factory: Callable[[], HttpClient]
    _http: HttpClient

    def __init__(self, factory: Callable[[], HttpClient], given: HttpClient | None) -> None:
        self._factory = factory
        self._http = given if given is not None else factory()
        self.owned = given is None
        self._pid = os.getpid()

    def get(self) -> HttpClient:
        if self.owned and self._pid != os.getpid():
            self._http, self._pid = self._factory(), os.getpid()
        if self._http.is_closed:
            raise ConvoKitError("This ConvoKit client is closed; create a new one.")
        return self._http

    @property
    def http(self) -> HttpClient:
        return self._http


class _BaseClient(Generic[HttpClient]):
    _config: ClientConfig
    _pool: _Pool[HttpClient]

    def _setup(self, options: Mapping[str, Any], http_client: object) -> None:
        configure_from_env()
        self._config = resolve_config(options)
        expected = self._http_client_type()
        if http_client is not None and not isinstance(http_client, expected):
            raise TypeError(
                f"http_client must be an {expected.__module__}.{expected.__qualname__}, "
                f"got {type(http_client).__name__}"
            )
        self._pool = _Pool(self._new_http_client, http_client)

    @classmethod
    def _http_client_type(cls) -> type[HttpClient]:
        raise NotImplementedError

    def _new_http_client(self) -> HttpClient:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """The API's base URL this client sends to."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """Retries after a failed attempt (connection errors, timeouts, 408/409/429/5xx)."""
        return self._config.max_retries

    @property
    def timeout(self) -> httpx.Timeout | None:
        """Per-attempt timeout."""
        return self._config.timeout

    def with_options(self, **options: Any) -> Self:
        """A copy of this client with some options replaced, sharing its connection pool."""
        changes = merge_options(None, options, CLIENT_SPELLINGS, "with_options()")
        if "http_client" in changes:
            raise TypeError("with_options() cannot change http_client; create a new client")
        copy = object.__new__(type(self))
        copy._config = updated_config(self._config, changes)
        copy._pool = self._pool
        return copy

    def _send_plan(self, options: ChatInput, keywords: Mapping[str, Any]) -> ChatCall:
        return ChatCall(self._config, options, keywords)

    def __repr__(self) -> str:
        # A client whose __init__ raised (bad key) still shows up in tracebacks'
        # captured locals: its repr must not raise.
        config = getattr(self, "_config", None)
        where = "not configured" if config is None else f"base_url={config.base_url!r}"
        return f"<convokit.{type(self).__name__} {where}>"


def _build_request(http: httpx.Client | httpx.AsyncClient, call: ChatCall) -> httpx.Request:
    return http.build_request(call.method, call.endpoint, json=call.json, headers=call.headers)


def _set_timeout(request: httpx.Request, timeout: httpx.Timeout | None) -> None:
    request.extensions["timeout"] = (timeout or httpx.Timeout(None)).as_dict()


class Client(_BaseClient[httpx.Client]):
    """Synchronous ConvoKit client. Safe to share across threads; reuse one per process.

    Prefer `create_client()`, which also takes the key positionally and JS-style options.
    """

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        total_timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        allow_insecure: bool = False,
    ) -> None:
        options = {name: value for name, value in locals().items() if name in CLIENT_OPTIONS}
        self._setup(options, http_client)

    @classmethod
    def _http_client_type(cls) -> type[httpx.Client]:
        return httpx.Client

    def _new_http_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._config.timeout,
            follow_redirects=False,
            limits=_LIMITS,
            transport=_PoolTransport(),
        )

    def chat(self, options: ChatInput = None, /, **kwargs: Any) -> ChatResponse:
        """Sends one user message and returns the AI's reply.

        `client.chat(message="Hi", conversation_id=...)`, or JS-style
        `client.chat({"message": "Hi", "conversationId": ...})`. Per call:
        `timeout`, `total_timeout`, `max_retries`, `extra_headers`, `idempotency_key`.
        Raises TypeError/ValueError for bad options (before any I/O) and a
        `convokit.APIError` subclass for every failure of the call itself.
        """
        call = self._send_plan(options, kwargs)
        http = self._pool.get()
        request = _build_request(http, call)
        while True:
            _set_timeout(request, call.start_attempt())
            try:
                response = http.send(request, follow_redirects=False)
            except httpx.RequestError as error:
                wait = call.after_exception(error)
            else:
                outcome = call.after_response(response)
                if isinstance(outcome, ChatResponse):
                    return outcome
                wait = outcome
            self._sleep(wait)

    def conversation(
        self,
        widget_id: str | None = None,
        instance_id: str | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Conversation:
        """A Conversation that threads its messages: `client.conversation().send("Hi")`.

        Pass `conversation_id` to continue a thread the API already has.
        """
        return Conversation(self, widget_id, instance_id, conversation_id=conversation_id)

    def close(self) -> None:
        """Closes the connection pool (unless it is an http_client you passed in)."""
        if self._pool.owned:
            self._pool.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


async def _asyncio_sleep(seconds: float) -> None:
    import asyncio  # on the first retry, not at import: sync users never need it

    await asyncio.sleep(seconds)


class AsyncClient(_BaseClient[httpx.AsyncClient]):
    """Asynchronous ConvoKit client (`await client.chat(...)`). Safe to share across tasks.

    Prefer `create_async_client()`, which also takes the key positionally and JS-style options.
    """

    _sleep: Callable[[float], Any] = staticmethod(_asyncio_sleep)

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        total_timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        allow_insecure: bool = False,
    ) -> None:
        options = {name: value for name, value in locals().items() if name in CLIENT_OPTIONS}
        self._setup(options, http_client)

    @classmethod
    def _http_client_type(cls) -> type[httpx.AsyncClient]:
        return httpx.AsyncClient

    def _new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._config.timeout,
            follow_redirects=False,
            limits=_LIMITS,
            transport=_AsyncPoolTransport(),
        )

    async def chat(self, options: ChatInput = None, /, **kwargs: Any) -> ChatResponse:
        """Sends one user message and returns the AI's reply; see `Client.chat`."""
        call = self._send_plan(options, kwargs)
        http = self._pool.get()
        request = _build_request(http, call)
        while True:
            _set_timeout(request, call.start_attempt())
            try:
                response = await http.send(request, follow_redirects=False)
            except httpx.RequestError as error:
                wait = call.after_exception(error)
            else:
                outcome = call.after_response(response)
                if isinstance(outcome, ChatResponse):
                    return outcome
                wait = outcome
            await self._sleep(wait)

    def conversation(
        self,
        widget_id: str | None = None,
        instance_id: str | None = None,
        *,
        conversation_id: str | None = None,
    ) -> AsyncConversation:
        """An AsyncConversation that threads its messages: `await client.conversation().send("Hi")`.

        Pass `conversation_id` to continue a thread the API already has.
        """
        return AsyncConversation(self, widget_id, instance_id, conversation_id=conversation_id)

    async def aclose(self) -> None:
        """Closes the connection pool (unless it is an http_client you passed in)."""
        if self._pool.owned:
            await self._pool.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


ClientInput = str | Mapping[str, Any] | None
"""create_client()'s positional argument: the secret key, or a TS-style options dict."""


def _client_options(first: ClientInput, keywords: Mapping[str, Any], caller: str) -> dict[str, Any]:
    if isinstance(first, str):
        positional: Mapping[str, Any] | None = {"api_key": first}
    elif first is None or isinstance(first, Mapping):
        positional = first
    else:
        raise TypeError(f"{caller} takes the API key or a dict of options, got {type(first)}")
    return merge_options(positional, keywords, CLIENT_SPELLINGS, caller)


def create_client(api_key_or_options: ClientInput = None, /, **options: Any) -> Client:
    """A synchronous client: `create_client("sk_live_...")`, `create_client()` (reads
    CONVOKIT_SECRET_KEY), or `create_client({"apiKey": ..., "baseUrl": ...})`.

    Options (snake_case or camelCase): api_key, base_url, timeout, total_timeout,
    max_retries, default_headers, http_client, allow_insecure.
    """
    return Client(**_client_options(api_key_or_options, options, "create_client()"))


def create_async_client(api_key_or_options: ClientInput = None, /, **options: Any) -> AsyncClient:
    """An asynchronous client; same arguments as `create_client`."""
    return AsyncClient(**_client_options(api_key_or_options, options, "create_async_client()"))
