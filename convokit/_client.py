"""The clients: Client (sync) and AsyncClient, and create_client / create_async_client.

Everything but sending and sleeping lives in Call and _BaseClient, so the two clients
cannot drift apart; chat() and every `client.api.<operation>()` share one call path.
"""

from __future__ import annotations

import functools
import os
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, Unpack, overload

import httpx

from convokit_generated.types import Unset

from ._call import Call
from ._config import ClientConfig, resolve_config, updated_config
from ._conversation import AsyncConversation, Conversation
from ._exceptions import ConvoKitError
from ._logging import configure_from_env
from ._options import (
    CLIENT_SPELLINGS,
    AsyncClientOptions,
    ClientOptions,
    ClientSettings,
    chat_operation,
    merge_options,
    operation_call,
)
from ._transport import (
    AsyncPoolTransport,
    DeadlineCheckedStream,
    PoolTransport,
    proxy_mounts,
)

if TYPE_CHECKING:
    from convokit_generated.api import AsyncApi, Operation, SyncApi

    from ._aiohttp import AiohttpSession
    from ._models import ChatKeywords, ChatOptionalKeywords, ChatOptions, ChatResponse

__all__ = ["AsyncClient", "Client", "create_async_client", "create_client"]

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)
AnyConversation = TypeVar("AnyConversation", Conversation, AsyncConversation)
Pooled = TypeVar("Pooled", bound="httpx.Client | httpx.AsyncClient | AiohttpSession")
"""What a _Pool holds: an httpx client, or the aiohttp backend's session."""


class _Pool(Generic[Pooled]):
    """The httpx client (or aiohttp session) a client and its with_options() copies share.

    A pool the SDK made is replaced in a forked child (sockets inherited from the
    parent would interleave two processes' bytes on one connection) and, for the async
    client, under a new event loop (its connections belong to the loop that opened
    them, which may be closed: what each asyncio.run() or per-test loop does). A pool
    the caller passed in is theirs to manage and is used as it is.
    """

    __slots__ = ("_closed", "_factory", "_owner", "http", "owned")

    _factory: Callable[[], Pooled]
    http: Pooled
    """The pool as it is now (get() it for a call)."""

    def __init__(self, factory: Callable[[], Pooled], given: Pooled | None) -> None:
        self._factory = factory
        self.http = given if given is not None else factory()
        self.owned = given is None
        self._owner: object = os.getpid()
        self._closed = False

    def get(self, owner: object) -> Pooled:
        """The pool for `owner` (the process, or the process and event loop, calling)."""
        if owner != self._owner and self.owned:
            if not self.belongs_to(owner):
                self.http = self._factory()
            self._owner = owner
        if self._closed or self.http.is_closed:
            raise ConvoKitError("This ConvoKit client is closed; create a new one.")
        return self.http

    def belongs_to(self, owner: object) -> bool:
        """Whether the pool's connections (if any) were opened by `owner`."""
        # An async pool is made before any loop runs (in create_async_client); its first
        # loop is the one that first uses it, in this same process.
        return owner == self._owner or (isinstance(owner, tuple) and self._owner == owner[0])

    def discard(self) -> None:
        """Closes the client without closing the pool: its connections belong to another
        event loop (or process) and cannot be closed from here."""
        self._closed = True


class _BaseClient(Generic[HttpClient, AnyConversation]):
    _config: ClientConfig
    _pool: _Pool[Any]  # each client says what its pool holds
    _http_client_class: type[HttpClient]
    _conversation_class: Callable[..., AnyConversation]

    def _configure(self, given: Mapping[str, Any]) -> None:
        """Sets the client up from its options (any spelling), checked before any I/O."""
        options = merge_options(None, given, CLIENT_SPELLINGS, f"{type(self).__name__}()")
        configure_from_env()
        self._config = resolve_config(options)
        http_client = options.get("http_client")
        proxy = options.get("proxy")
        expected = self._http_client_class
        if http_client is not None and not isinstance(http_client, expected):
            raise TypeError(
                f"http_client must be an {expected.__module__}.{expected.__qualname__}, "
                f"got {type(http_client).__name__}"
            )
        if http_client is not None and proxy is not None:
            raise TypeError("proxy= has no effect with your own http_client: set it there")
        if self._config.http_backend != "httpx":
            if expected is httpx.Client:
                raise ValueError(
                    "http_backend='aiohttp' is for create_async_client(); the sync "
                    "client sends through httpx"
                )
            if http_client is not None:
                raise TypeError(
                    "http_client is an httpx client: leave it out with "
                    f"http_backend={self._config.http_backend!r}"
                )
        self._pool = _Pool(self._new_http_client, http_client)

    _pool_transport: Any  # PoolTransport or AsyncPoolTransport

    def _new_http_client(self) -> Any:
        # An httpx client of the SDK's own only holds its pools and picks the one for a
        # URL (direct, or a proxy's): requests go straight to that pool (_send).
        ssl_context = _ssl_context()
        pool = self._pool_transport
        return self._http_client_class(
            transport=pool(ssl_context),
            mounts=proxy_mounts(self._config.proxy, lambda url: pool(ssl_context, url)),
        )

    @property
    def base_url(self) -> str:
        """The API's base URL this client sends to."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """Retries after a failed attempt (connection errors, timeouts, 408, 409 unless the
        key was reused with another body, 429, 5xx)."""
        return self._config.max_retries

    @property
    def timeout(self) -> httpx.Timeout | None:
        """Per-attempt timeout."""
        return self._config.timeout

    def with_options(self, **options: Unpack[ClientSettings]) -> Self:
        """A copy of this client with some options replaced, sharing its connection pool."""
        changes = merge_options(None, options, CLIENT_SPELLINGS, "with_options()")
        for pool_option in ("http_client", "proxy", "http_backend"):
            if pool_option in changes:
                raise TypeError(
                    f"with_options() cannot change {pool_option} (the copy shares the "
                    "connection pool); create a new client"
                )
        copy = object.__new__(type(self))
        copy._config = updated_config(self._config, changes)
        copy._pool = self._pool
        return copy

    def _chat_call(self, options: ChatInput, keywords: Mapping[str, Any]) -> Call:
        chat = chat_operation()
        if isinstance(options, str):
            keywords = {_shorthand_field(chat): options, **keywords}
            options = None
        elif options is not None and not isinstance(options, Mapping):
            raise TypeError(
                f"chat() takes a dict of options or the message, got {type(options).__name__}"
            )
        return Call(self._config, chat, *operation_call(chat, options, keywords, "chat()"))

    def _operation_call(self, operation: Operation, values: Mapping[str, Any]) -> Call:
        # A generated method passes every argument, UNSET for those not given.
        given = {name: value for name, value in values.items() if not isinstance(value, Unset)}
        caller = f"api.{operation.name}()"
        return Call(self._config, operation, *operation_call(operation, None, given, caller))

    def conversation(
        self,
        widget_id: str | None = None,
        instance_id: str | None = None,
        *,
        conversation_id: str | None = None,
    ) -> AnyConversation:
        """A Conversation (an AsyncConversation of the async client) that threads its
        messages: `client.conversation().send("Hi")`, or `await ....send("Hi")`.

        Pass `conversation_id` to continue a thread the API already has.
        """
        return self._conversation_class(
            self, widget_id, instance_id, conversation_id=conversation_id
        )

    def __repr__(self) -> str:
        # A client whose __init__ raised (bad key) still shows up in tracebacks'
        # captured locals: its repr must not raise.
        config = getattr(self, "_config", None)
        where = "not configured" if config is None else f"base_url={config.base_url!r}"
        return f"<convokit.{type(self).__name__} {where}>"


@functools.cache
def _shorthand_field(chat: Operation) -> str:
    """What `chat("text")` sets: the body's one required field (the message)."""
    return next(field.python_name for field in chat.body_fields if field.required)


ChatInput = Mapping[str, Any] | str | None
"""chat()'s positional argument: a JS-style options dict, or the message itself."""


def _build_request(http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
    """The request `http.build_request(method, url, json=..., headers=...)` makes of the
    call: the same headers in the same order (the client's under the call's, a name the
    call sets replacing every spelling of it; Host and Content-Length unless given; the
    client's cookies, whose header then comes last), the same query and body bytes.
    Built directly: httpx's merge rescans every header for each one given, and its
    Request fills Host and Content-Length in by lookups that rescan them again, one of
    them raising KeyError; together twice the SDK's own work per call."""
    replaced = {name.lower().encode() for name in call.headers}
    kept = [(name, value) for name, value in http.headers.raw if name.lower() not in replaced]
    names = replaced.union(name.lower() for name, _ in kept)
    body = call.content or b""
    # httpx's own: Host first, then Content-Length: 0 of a bodiless POST, PUT or PATCH.
    headers: list[Any] = [] if b"host" in names else [(b"Host", call.endpoint.netloc)]
    if not body and call.method in _BODY_METHODS and names.isdisjoint(_FRAMING):
        headers.append((b"Content-Length", b"0"))
    headers += kept
    headers += call.headers.items()
    if body and b"content-length" not in names:
        headers.append((b"Content-Length", str(len(body)).encode()))
    params = http.params.merge(call.params) if http.params else call.params
    request = httpx.Request(
        call.method,
        call.endpoint,
        params=params,
        headers=headers,
        cookies=http.cookies or None,
        stream=httpx.ByteStream(body),
    )
    request.read()  # as httpx does: an event hook or a test's handler may read .content
    return request


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods httpx sends `Content-Length: 0` for when they have no body (and no framing)."""
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})


def _ssl_context() -> ssl.SSLContext:
    # One per pool, shared by its connections and proxies: building one costs ~10 ms.
    return httpx.create_ssl_context()


class Client(_BaseClient[httpx.Client, Conversation]):
    """Synchronous ConvoKit client. Safe to share across threads; reuse one per process.

    Prefer `create_client()`, which also takes the key positionally and JS-style options.
    """

    _sleep: Callable[[float], None] = staticmethod(time.sleep)
    _pool: _Pool[httpx.Client]
    _pool_transport = PoolTransport
    _http_client_class = httpx.Client
    _conversation_class = Conversation

    def __init__(self, **options: Unpack[ClientOptions]) -> None:
        """Options (snake_case or camelCase) as for `create_client`."""
        self._configure(options)

    @overload
    def chat(
        self, options: ChatOptions | str, /, **kwargs: Unpack[ChatOptionalKeywords]
    ) -> ChatResponse: ...
    @overload
    def chat(self, /, **kwargs: Unpack[ChatKeywords]) -> ChatResponse: ...
    def chat(self, options: ChatInput = None, /, **kwargs: Any) -> ChatResponse:
        """Sends one user message and returns the AI's reply.

        `client.chat(message="Hi", conversation_id=...)`, or JS-style
        `client.chat({"message": "Hi", "conversationId": ...})`. Per call:
        `timeout`, `total_timeout`, `max_retries`, `extra_headers`, `idempotency_key`.
        Raises TypeError/ValueError for bad options (before any I/O) and a
        `convokit.APIError` subclass for every failure of the call itself.
        """
        reply: ChatResponse = self._run(self._chat_call(options, kwargs))
        return reply

    @property
    def api(self) -> SyncApi:
        """Every operation of the API as a typed method: `client.api.create_chat(message=...)`
        is the generic form of chat(); an operation added to openapi.yaml is here after
        regeneration. Same auth, retries, deadlines and typed errors as chat()."""
        from convokit_generated.api import SyncApi

        return SyncApi(lambda operation, values: self._run(self._operation_call(operation, values)))

    def _run(self, call: Call) -> Any:
        http = self._pool.get(os.getpid())
        request = _build_request(http, call)
        while True:
            deadline = call.start_attempt(request)
            try:
                response = _send(http, request, self._pool.owned, deadline)
            except httpx.RequestError as error:
                wait = call.after_exception(error)
            except Exception as error:
                raise call.after_unexpected(error) from error
            else:
                outcome = call.after_response(response)
                if type(outcome) is not float:
                    return outcome
                wait = outcome
            self._sleep(wait)

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


async def _anyio_sleep(seconds: float) -> None:
    import anyio  # on the first retry, not at import: sync users never need it

    await anyio.sleep(seconds)


def _event_loop() -> tuple[int, object]:
    """The process and the event loop (asyncio's or trio's) running this call."""
    # No asyncio loop can run unless asyncio was imported: convokit does not import it
    # (sync users never need it), nor pay for an import statement on every call.
    asyncio = sys.modules.get("asyncio")
    try:
        loop: object = asyncio.get_running_loop()  # type: ignore[union-attr]
    except (AttributeError, RuntimeError):  # asyncio not imported, or no loop of its running
        import anyio.lowlevel

        loop = anyio.lowlevel.current_token().native_token
    return os.getpid(), loop


class AsyncClient(_BaseClient[httpx.AsyncClient, AsyncConversation]):
    """Asynchronous ConvoKit client (`await client.chat(...)`). Safe to share across tasks.

    Prefer `create_async_client()`, which also takes the key positionally and JS-style options.
    """

    _sleep: Callable[[float], Any] = staticmethod(_anyio_sleep)
    _pool: _Pool[httpx.AsyncClient | AiohttpSession]
    _pool_transport = AsyncPoolTransport
    _http_client_class = httpx.AsyncClient
    _conversation_class = AsyncConversation

    def __init__(self, **options: Unpack[AsyncClientOptions]) -> None:
        """Options (snake_case or camelCase) as for `create_async_client`."""
        self._configure(options)

    def _new_http_client(self) -> httpx.AsyncClient | AiohttpSession:
        if self._config.http_backend == "aiohttp":
            from ._aiohttp import AiohttpSession  # not at import: aiohttp is optional

            return AiohttpSession(self._config, _ssl_context())
        client: httpx.AsyncClient = super()._new_http_client()
        return client

    @overload
    async def chat(
        self, options: ChatOptions | str, /, **kwargs: Unpack[ChatOptionalKeywords]
    ) -> ChatResponse: ...
    @overload
    async def chat(self, /, **kwargs: Unpack[ChatKeywords]) -> ChatResponse: ...
    async def chat(self, options: ChatInput = None, /, **kwargs: Any) -> ChatResponse:
        """Sends one user message and returns the AI's reply; see `Client.chat`."""
        reply: ChatResponse = await self._run(self._chat_call(options, kwargs))
        return reply

    @property
    def api(self) -> AsyncApi:
        """Every operation of the API as a typed coroutine method; see `Client.api`."""
        from convokit_generated.api import AsyncApi

        async def run(operation: Operation, values: dict[str, Any]) -> Any:
            return await self._run(self._operation_call(operation, values))

        return AsyncApi(run)

    async def _run(self, call: Call) -> Any:
        http = self._pool.get(_event_loop())
        if not isinstance(http, httpx.AsyncClient):
            return await http.run(call, self._sleep)  # the aiohttp backend (_aiohttp.py)
        request = _build_request(http, call)
        while True:
            deadline = call.start_attempt(request)
            try:
                response = await _send_async(http, request, self._pool.owned, deadline)
            except httpx.RequestError as error:
                wait = call.after_exception(error)
            except Exception as error:
                raise call.after_unexpected(error) from error
            else:
                outcome = call.after_response(response)
                if type(outcome) is not float:
                    return outcome
                wait = outcome
            await self._sleep(wait)

    async def aclose(self) -> None:
        """Closes the connection pool (unless it is an http_client you passed in)."""
        if not self._pool.owned:
            return
        if self._pool.belongs_to(_event_loop()):
            await self._pool.http.aclose()
        else:
            self._pool.discard()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


# The SDK's own httpx client has no auth, event hooks, cookies or redirects to apply:
# its request goes straight to the pool httpx would pick for the URL (the direct one or
# a proxy's), skipping the work of httpx's send(), which costs more than the SDK's own
# per call; and, as on the aiohttp backend, no cookie set by one call rides on the next.
# Those pools hold every read to the attempt's deadline. A caller's http_client is sent
# through as it is, its body held to the deadline at each chunk (its read timeout
# bounds each read, not the whole body).


def _send(
    http: httpx.Client, request: httpx.Request, owned: bool, deadline: float | None
) -> httpx.Response:
    if owned:
        response = http._transport_for_url(request.url).handle_request(request)
        response.request = request
    else:
        response = http.send(request, stream=True, follow_redirects=False)
        if deadline is not None:
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = DeadlineCheckedStream(response.stream, deadline)
    try:
        response.read()
    finally:
        response.close()
    return response


async def _send_async(
    http: httpx.AsyncClient, request: httpx.Request, owned: bool, deadline: float | None
) -> httpx.Response:
    if owned:
        response = await http._transport_for_url(request.url).handle_async_request(request)
        response.request = request
    else:
        response = await http.send(request, stream=True, follow_redirects=False)
        if deadline is not None:
            assert isinstance(response.stream, httpx.AsyncByteStream)
            response.stream = DeadlineCheckedStream(response.stream, deadline)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


def _client_options(
    first: str | Mapping[str, Any] | None, keywords: Mapping[str, Any], caller: str
) -> dict[str, Any]:
    if isinstance(first, str):
        positional: Mapping[str, Any] | None = {"api_key": first}
    elif first is None or isinstance(first, Mapping):
        positional = first
    else:
        raise TypeError(f"{caller} takes the API key or a dict of options, got {type(first)}")
    return merge_options(positional, keywords, CLIENT_SPELLINGS, caller)


def create_client(
    api_key_or_options: str | ClientOptions | None = None, /, **options: Unpack[ClientOptions]
) -> Client:
    """A synchronous client: `create_client("sk_live_...")`, `create_client()` (reads
    CONVOKIT_SECRET_KEY), or `create_client({"apiKey": ..., "baseUrl": ...})`.

    Options (snake_case or camelCase): api_key, base_url, timeout, total_timeout,
    max_retries, default_headers, http_client, allow_insecure.
    """
    return Client(**_client_options(api_key_or_options, options, "create_client()"))


def create_async_client(
    api_key_or_options: str | AsyncClientOptions | None = None,
    /,
    **options: Unpack[AsyncClientOptions],
) -> AsyncClient:
    """An asynchronous client; same arguments as `create_client`, and `http_backend`:
    "httpx" (the default) or "aiohttp" (the `convokit-server[aiohttp]` extra, asyncio
    only, for many calls at once: README "High concurrency")."""
    return AsyncClient(**_client_options(api_key_or_options, options, "create_async_client()"))
