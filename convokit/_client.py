"""The clients: Client (sync) and AsyncClient, and create_client / create_async_client.

Everything but sending and sleeping lives in ChatCall and _BaseClient, so the two
clients cannot drift apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
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
from ._transport import LIMITS, AsyncPoolTransport, PoolTransport

__all__ = ["AsyncClient", "Client", "create_async_client", "create_client"]

if TYPE_CHECKING:
    pass

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)


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

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        total_timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpClient | None = None,
        allow_insecure: bool = False,
    ) -> None:
        options = {name: value for name, value in locals().items() if name in CLIENT_OPTIONS}
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
        """Retries after a failed attempt (connection errors, timeouts, 408, 409 unless the
        key was reused with another body, 429, 5xx)."""
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

    @classmethod
    def _http_client_type(cls) -> type[httpx.Client]:
        return httpx.Client

    def _new_http_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._config.timeout,
            follow_redirects=False,
            limits=LIMITS,
            transport=PoolTransport(),
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

    @classmethod
    def _http_client_type(cls) -> type[httpx.AsyncClient]:
        return httpx.AsyncClient

    def _new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._config.timeout,
            follow_redirects=False,
            limits=LIMITS,
            transport=AsyncPoolTransport(),
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
