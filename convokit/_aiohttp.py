"""The async client's aiohttp backend (`create_async_client(..., http_backend="aiohttp")`).

The same sans-I/O `Call` drives it as drives the httpx loop in `AsyncClient._run`: the
request the call describes goes out through an `aiohttp.ClientSession`, each attempt
held to the deadline `Call.start_attempt` returns (connect to the last body byte), and
what comes back (a response, or a failure mapped onto the httpx exception of the same
meaning) goes to `Call.after_response` / `Call.after_exception`, which decide between
returning, retrying and raising exactly as for httpx. So headers, retries, idempotency
keys, deadlines, logging and redaction are the httpx backend's own code.

Imported only when a client asks for this backend: `import convokit` never imports
aiohttp, and the default install does not need it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

try:
    import aiohttp
except ImportError as missing:  # the optional extra is not installed
    raise ImportError(
        "http_backend='aiohttp' needs aiohttp: pip install 'convokit-server[aiohttp]'"
    ) from missing
import httpx
from aiohttp.connector import Connection
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.tracing import Trace
from httpx._utils import URLPattern
from yarl import URL

from . import _transport
from ._call import Call
from ._config import ClientConfig
from ._exceptions import ConvoKitError
from ._transport import proxy_mounts

__all__ = ["AiohttpSession"]

Sleep = Callable[[float], Awaitable[Any]]


class _Attempt:
    """Whether the current attempt got its connection: a deadline that ends it before
    then means the request cannot have reached the server."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "convokit_aiohttp_attempt", default=None
)


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, marking the current attempt once it holds a connection."""

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.connected = True
        return connection


class AiohttpSession:
    """The aiohttp session of one event loop, made on its first call: aiohttp's
    connections (like its session) belong to the loop that opened them.

    Up to MAX_CONNECTIONS connections, calls past that wait in aiohttp's first-come-
    first-served queue; idle ones are kept KEEPALIVE_EXPIRY seconds, as by the httpx
    backend's pool. Proxies are the httpx backend's: the `proxy` option, or else the
    environment's HTTP(S)_PROXY / ALL_PROXY / NO_PROXY read once, as httpx reads them.
    """

    __slots__ = ("_closed", "_routes", "_session", "_ssl_context")

    def __init__(self, config: ClientConfig, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        routes = proxy_mounts(config.proxy, _proxy)
        # httpx's own order of precedence between patterns (URLPattern sorts by it).
        self._routes = sorted((URLPattern(pattern), proxy) for pattern, proxy in routes.items())
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def is_closed(self) -> bool:
        """Whether aclose() was called."""
        return self._closed

    @property
    def connections_in_use(self) -> int:
        """Connections a request holds right now (0 once every response is read)."""
        connector = None if self._session is None else self._session.connector
        # aiohttp's own count (private: aiohttp is pinned to a minor-version range).
        return 0 if connector is None else len(connector._acquired)

    async def run(self, call: Call, sleep: Sleep) -> Any:
        """Every attempt of `call` until it returns its result or raises its error.

        No frame that an error raised here passes through holds the request or response
        bytes, or aiohttp's objects: a traceback printed with its locals (as error
        trackers capture them) must not show the key or a message (`_Reply`'s repr).
        """
        session = self._session or self._open()
        while True:
            timeout, deadline = call.next_attempt()
            attempt = _Attempt()
            token = _ATTEMPT.set(attempt)
            failure: httpx.RequestError | None = None
            try:
                reply = await self._send(session, call, _client_timeout(timeout, deadline))
            except (aiohttp.ClientError, OSError) as error:  # TimeoutError is an OSError
                # Mapped, not chained, for the same reason: aiohttp's frames hold it all.
                failure = _transport_error(error, attempt.connected)
            except Exception as error:  # noqa: BLE001 (nothing but a ConvoKitError leaves a call)
                raise call.after_unexpected(error) from None  # its type and text only
            finally:
                _ATTEMPT.reset(token)
            if failure is not None:
                wait = call.after_exception(failure)
            elif 200 <= reply.status < 300:
                return call.after_success(reply.status, reply.headers.get, reply.content)
            else:
                outcome = call.after_response(reply.httpx_response())
                if type(outcome) is not float:
                    return outcome
                wait = outcome
            await sleep(wait)

    async def _send(
        self, session: aiohttp.ClientSession, call: Call, timeout: aiohttp.ClientTimeout
    ) -> _Reply:
        proxy, proxy_headers = self._route(call.endpoint)
        async with session.request(
            call.method,
            _yarl(call.endpoint),
            params=call.params,
            data=call.content,
            headers=call.headers,
            proxy=proxy,
            proxy_headers=proxy_headers,
            allow_redirects=False,
            timeout=timeout,
        ) as response:
            return _Reply(response, await response.read())

    def _open(self) -> aiohttp.ClientSession:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise ConvoKitError(
                "http_backend='aiohttp' runs on asyncio only; under trio (or any other "
                "event loop) use the default backend: leave http_backend out, or pass "
                "http_backend='httpx'"
            ) from None
        connector = _Connector(
            limit=_transport.MAX_CONNECTIONS,
            limit_per_host=0,
            keepalive_timeout=_transport.KEEPALIVE_EXPIRY,
            ssl=self._ssl_context,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # A server SDK carries no cookies from one call (or user) to the next.
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self._session

    def _route(self, url: httpx.URL) -> tuple[URL | None, dict[str, str] | None]:
        """The proxy for `url` (and its headers), or None for a direct connection."""
        for pattern, proxy in self._routes:
            if pattern.matches(url):
                return (None, None) if proxy is None else _aiohttp_proxy(proxy)
        return None, None

    async def aclose(self) -> None:
        """Closes the session and its connections."""
        self._closed = True
        if self._session is not None:
            await self._session.close()


def _proxy(url: str | httpx.URL | httpx.Proxy) -> httpx.Proxy:
    proxy = url if isinstance(url, httpx.Proxy) else httpx.Proxy(url)
    if proxy.url.scheme not in ("http", "https"):
        raise ValueError(
            f"http_backend='aiohttp' cannot send through a {proxy.url.scheme}:// proxy; "
            "use the default backend (http_backend='httpx') for SOCKS proxies"
        )
    return proxy


@functools.lru_cache(maxsize=16)
def _aiohttp_proxy(proxy: httpx.Proxy) -> tuple[URL, dict[str, str] | None]:
    headers = dict(proxy.headers)
    if proxy.auth is not None:
        headers["Proxy-Authorization"] = aiohttp.BasicAuth(*proxy.auth).encode()
    return URL(str(proxy.url)), headers or None


@functools.lru_cache(maxsize=64)
def _yarl(url: httpx.URL) -> URL:
    # Parsed once per endpoint, as the httpx backend parses its URLs once.
    return URL(str(url), encoded=True)


def _client_timeout(timeout: httpx.Timeout | None, deadline: float | None) -> aiohttp.ClientTimeout:
    """An attempt's limits in aiohttp's terms: `total` ends it at its deadline, from the
    wait for a connection to the last body byte (a body that trickles in included),
    `connect` bounds the wait for a free connection and the connect, `sock_connect` the
    connect alone. Never rounded up to whole seconds (ceil_threshold)."""
    # aiohttp reads a total of 0 as "no limit": an attempt already due gets a moment.
    total = None if deadline is None else max(deadline - time.monotonic(), 0.001)
    if timeout is None:
        return aiohttp.ClientTimeout(total=total, ceil_threshold=_NEVER)
    pool, connect = timeout.pool, timeout.connect
    return aiohttp.ClientTimeout(
        total=total,
        connect=None if pool is None or connect is None else pool + connect,
        sock_connect=connect,
        ceil_threshold=_NEVER,
    )


_NEVER = float("inf")


class _Reply:
    """A response read whole: its status, headers and (decoded) body."""

    __slots__ = ("_raw_headers", "_reason", "content", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, content: bytes) -> None:
        self.status = response.status
        self.headers = response.headers
        self.content = content
        self._raw_headers = response.raw_headers
        self._reason = response.reason

    def httpx_response(self) -> httpx.Response:
        """The response as httpx's, for status_error() (and APIStatusError.headers)."""
        headers = [
            (name, value)
            for name, value in self._raw_headers
            # aiohttp decoded the body already: httpx must not decode it again.
            if name.lower() != b"content-encoding"
        ]
        return httpx.Response(
            self.status,
            headers=headers,
            content=self.content,
            extensions={"reason_phrase": (self._reason or "").encode()},
        )

    def __repr__(self) -> str:
        return f"<convokit reply {self.status}, {len(self.content)} bytes>"


def _transport_error(error: BaseException, connected: bool) -> httpx.RequestError:
    """The httpx exception that means what `error` means: the retry policy
    (`_retry.py`) reads the kind of failure, and whether the request may have reached
    the server, from it."""
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    kind: type[httpx.RequestError]
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(error, aiohttp.ServerTimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(error, TimeoutError):  # the attempt's deadline (ClientTimeout.total)
        kind = httpx.ReadTimeout if connected else httpx.ConnectTimeout
        detail = "the attempt's timeout elapsed"
    elif isinstance(error, aiohttp.ClientHttpProxyError):
        kind = httpx.ProxyError
    elif isinstance(error, aiohttp.ClientConnectorError | aiohttp.ServerFingerprintMismatch):
        kind = httpx.ConnectError  # refused, DNS, TLS, the proxy's connection
    elif isinstance(error, aiohttp.ClientPayloadError):
        kind = (
            httpx.DecodingError
            if isinstance(error.__cause__, ContentEncodingError) or "encoding" in str(error)
            else httpx.RemoteProtocolError
        )
    elif isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError  # closed early, or a response that is not HTTP
    elif isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    elif isinstance(error, aiohttp.ClientConnectionError | OSError):  # reset, broken pipe
        kind = httpx.ReadError
    else:
        kind = httpx.RemoteProtocolError
    return kind(detail)
