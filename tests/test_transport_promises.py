"""The transport's promises in every runtime and on every network (issue 10, items 1-4):
deadlines that hold while a body trickles in, asyncio and trio, one async client across
event loops, and proxies from the environment. Every test runs over real sockets on
127.0.0.1: the raw-socket fault server, MockServer, and a CONNECT proxy of the tests' own.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import trio
from _connect_proxy import ConnectProxy
from _fault_server import FaultServer, ok, stall, trickle
from _pools import connections_in_use

import convokit
import convokit._transport
from convokit import APITimeoutError, ConvoKitError, create_async_client, create_client
from convokit.testing import MockServer

KEY = "sk_test_transport_promises_1234"
# What a deadline may be overshot by: a thread switch and a socket close on a loaded
# 2-core machine. The bug this guards against overshot by seconds.
MARGIN = 0.4
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# --- 1. deadlines --------------------------------------------------------------------


def test_a_trickling_body_is_cut_off_at_the_attempt_timeout() -> None:
    # Each 0.2 s gap is shorter than the timeout; the whole body takes 5 s.
    with FaultServer(default=trickle(0.2)) as server:
        client = create_client(KEY, base_url=server.base_url, max_retries=0)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"longer than its 0\.5s"):
            client.chat(message="hi", timeout=0.5)
        elapsed = time.monotonic() - started
        client.close()
    assert 0.45 <= elapsed <= 0.5 + MARGIN


@pytest.mark.anyio
async def test_a_trickling_body_is_cut_off_at_the_attempt_timeout_async(async_backend: str) -> None:
    with FaultServer(default=trickle(0.2)) as server:
        async with create_async_client(
            KEY, base_url=server.base_url, max_retries=0, http_backend=async_backend
        ) as client:
            started = time.monotonic()
            with pytest.raises(APITimeoutError, match=r"longer than its 0\.5s"):
                await client.chat(message="hi", timeout=0.5)
            elapsed = time.monotonic() - started
    assert 0.45 <= elapsed <= 0.5 + MARGIN


def test_total_timeout_bounds_the_call_with_its_retries_and_waits() -> None:
    # Attempt 1 is cut at 0.5 s and the wait before attempt 2 is 0.375-0.5 s, so attempt 2
    # starts by 1.0 s, even 0.3 s late on a loaded machine, and total_timeout (1.3 s) ends
    # it before its own 0.5 s do: the error is total_timeout's, whatever the jitter.
    with FaultServer(default=trickle(0.2)) as server:
        client = create_client(KEY, base_url=server.base_url, max_retries=5)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="total_timeout"):
            client.chat(message="hi", timeout=0.5, total_timeout=1.3)
        elapsed = time.monotonic() - started
        client.close()
    assert 1.25 <= elapsed <= 1.3 + MARGIN


@pytest.mark.anyio
async def test_total_timeout_bounds_the_call_with_its_retries_and_waits_async(
    async_backend: str,
) -> None:
    with FaultServer(default=trickle(0.2)) as server:
        async with create_async_client(
            KEY, base_url=server.base_url, max_retries=5, http_backend=async_backend
        ) as client:
            started = time.monotonic()
            with pytest.raises(APITimeoutError):
                await client.chat(message="hi", timeout=0.5, total_timeout=1.0)
            elapsed = time.monotonic() - started
    assert elapsed <= 1.0 + MARGIN


def test_an_attempt_cut_off_is_retried_with_the_same_key_while_the_total_allows() -> None:
    with FaultServer(trickle(0.2), ok()) as server:
        client = create_client(KEY, base_url=server.base_url, max_retries=2)
        reply = client.chat(message="hi", timeout=0.5, total_timeout=5)
        client.close()
    assert reply.reply
    first, second = server.received
    assert first.idempotency_key == second.idempotency_key is not None


@pytest.mark.anyio
async def test_an_attempt_cut_off_is_retried_while_the_total_allows_async(
    async_backend: str,
) -> None:
    with FaultServer(trickle(0.2), ok()) as server:
        async with create_async_client(
            KEY, base_url=server.base_url, http_backend=async_backend
        ) as client:
            reply = await client.chat(message="hi", timeout=0.5, total_timeout=5)
    assert reply.reply
    assert len(server.received) == 2


def test_each_attempt_gets_its_own_deadline_on_a_reused_connection() -> None:
    # Two calls of 0.6 s each on one keep-alive connection, each within its 1.5 s: a
    # deadline left over from the first call must not cut off the second.
    with FaultServer(default=trickle(0.1, pieces=6)) as server:
        client = create_client(KEY, base_url=server.base_url, timeout=1.5, max_retries=0)
        client.chat(message="one")
        time.sleep(1.0)
        client.chat(message="two")
        client.close()
    assert server.connections == 1


def test_a_slow_body_within_the_timeout_is_read_whole() -> None:
    with FaultServer(default=trickle(0.05, pieces=8)) as server:
        client = create_client(KEY, base_url=server.base_url, max_retries=0)
        assert client.chat(message="hi", timeout=3).reply == "Hello from the fault server"
        client.close()


def test_a_callers_own_http_client_is_held_to_the_deadline_too() -> None:
    # Each 0.2 s gap is within httpx's read timeout; the deadline is checked at each chunk.
    with FaultServer(default=trickle(0.2)) as server, httpx.Client() as own:
        client = create_client(KEY, base_url=server.base_url, http_client=own)
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.chat(message="hi", timeout=0.5, max_retries=0)
        elapsed = time.monotonic() - started
    assert elapsed <= 0.5 + MARGIN


@pytest.mark.anyio
async def test_a_callers_own_async_http_client_is_held_to_the_deadline_too() -> None:
    with FaultServer(default=trickle(0.2)) as server:
        async with (
            httpx.AsyncClient() as own,
            create_async_client(KEY, base_url=server.base_url, http_client=own) as client,
        ):
            started = time.monotonic()
            with pytest.raises(APITimeoutError):
                await client.chat(message="hi", timeout=0.5, max_retries=0)
            elapsed = time.monotonic() - started
    assert elapsed <= 0.5 + MARGIN


def test_a_stalled_head_is_cut_off_at_the_total_timeout() -> None:
    with FaultServer(default=stall(5)) as server:
        client = create_client(KEY, base_url=server.base_url, timeout=3)
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.chat(message="hi", total_timeout=0.8)
        elapsed = time.monotonic() - started
        client.close()
    assert elapsed <= 0.8 + MARGIN


# --- 2. asyncio and trio ------------------------------------------------------------


@pytest.mark.anyio
async def test_a_retry_waits_under_either_event_loop(
    anyio_backend: str, async_backend: str
) -> None:
    with MockServer() as server:
        server.fail_next(503, retry_after=1)
        async with create_async_client(
            KEY, base_url=server.base_url, http_backend=async_backend
        ) as client:
            started = time.monotonic()
            reply = await client.chat(message="after a 503")
            assert time.monotonic() - started >= 0.9  # the Retry-After was slept, not skipped
        assert reply.reply
        assert len(server.requests) == 2


@pytest.mark.anyio
async def test_calls_queue_for_a_free_connection_under_either_event_loop(
    monkeypatch: pytest.MonkeyPatch,
    async_backend: str,
) -> None:
    monkeypatch.setattr(convokit._transport, "MAX_CONNECTIONS", 2)
    with FaultServer(default=stall(0.05, then=ok())) as server:
        async with create_async_client(
            KEY, base_url=server.base_url, http_backend=async_backend
        ) as client:
            replies: list[str] = []

            async def call(number: int) -> None:
                replies.append((await client.chat(message=f"call {number}")).reply)

            async with anyio.create_task_group() as tasks:
                for number in range(12):
                    tasks.start_soon(call, number)
            assert connections_in_use(client) == 0
        assert server.connections <= 2
        messages = sorted(request.json()["message"] for request in server.received)
    assert len(replies) == 12
    assert messages == sorted(f"call {n}" for n in range(12))


@pytest.mark.anyio
async def test_the_pool_wait_is_held_to_the_deadline(
    monkeypatch: pytest.MonkeyPatch, async_backend: str
) -> None:
    monkeypatch.setattr(convokit._transport, "MAX_CONNECTIONS", 1)
    with FaultServer(stall(3)) as server:
        async with create_async_client(
            KEY, base_url=server.base_url, max_retries=0, http_backend=async_backend
        ) as client:
            holder = client.with_options(timeout=5)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(holder.chat, "holds the only connection")
                await anyio.sleep(0.2)
                started = time.monotonic()
                with pytest.raises(APITimeoutError, match="total_timeout"):
                    await client.chat(message="queued", total_timeout=0.5)
                elapsed = time.monotonic() - started
                tasks.cancel_scope.cancel()
    assert elapsed <= 0.5 + MARGIN
    assert len(server.received) == 1  # the queued call never reached the server


# --- 3. one async client, several event loops -----------------------------------------


def test_one_async_client_serves_several_event_loops_in_turn() -> None:
    with MockServer() as server:
        client = create_async_client(KEY, base_url=server.base_url)

        async def chat(message: str) -> str:
            return (await client.chat(message=message)).reply

        first = asyncio.run(chat("first loop"))
        second = asyncio.run(chat("second loop"))  # the first loop is closed by now
        third = trio.run(chat, "a trio loop")
        asyncio.run(client.aclose())
    assert [first, second, third] == [
        'You said: "first loop" (turn 1 of this conversation)',
        'You said: "second loop" (turn 1 of this conversation)',
        'You said: "a trio loop" (turn 1 of this conversation)',
    ]
    assert len(server.requests) == 3


def test_a_callers_http_client_from_a_closed_loop_is_a_convokit_error() -> None:
    with MockServer() as server:
        own = httpx.AsyncClient()
        client = create_async_client(KEY, base_url=server.base_url, http_client=own)
        asyncio.run(client.chat(message="opens a connection in this loop"))
        with pytest.raises(ConvoKitError, match="event loop") as raised:
            asyncio.run(client.chat(message="the connection's loop is closed"))
    assert "created in the event loop that uses it" in str(raised.value)
    assert type(raised.value) is ConvoKitError


def test_nothing_but_a_convokit_error_leaves_chat(self_signed: tuple[Path, Path]) -> None:
    class Broken(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise RuntimeError("a bug in someone's transport")

    with httpx.Client(transport=Broken()) as own:
        client = create_client(KEY, base_url="http://127.0.0.1:9", http_client=own)
        with pytest.raises(ConvoKitError, match="RuntimeError: a bug") as raised:
            client.chat(message="hi")
    assert isinstance(raised.value.__cause__, RuntimeError)


# --- 4. proxies -------------------------------------------------------------------------


@pytest.fixture
def tls_server(
    self_signed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, no_proxy_environment: None
) -> Iterator[FaultServer]:
    """An https server on 127.0.0.1 whose certificate the SDK trusts via SSL_CERT_FILE
    (which httpx, and so the SDK's pool, reads)."""
    cert, key = self_signed
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with FaultServer(tls=tls) as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy() as running:
        yield running


def _assert_tunnelled(proxy: ConnectProxy, server: FaultServer) -> None:
    assert proxy.log.tunnels == [f"127.0.0.1:{server.port}"]
    assert len(server.received) == 1
    # The proxy saw the CONNECT head, then only TLS bytes: never the key.
    assert KEY.encode() not in b"".join(proxy.log.heads)
    assert KEY.encode() not in bytes(proxy.log.relayed)
    assert b"authorization" not in b"".join(proxy.log.heads).lower()
    assert server.received[0].headers["authorization"] == f"Bearer {KEY}"


def test_https_proxy_from_the_environment_tunnels_the_call(
    tls_server: FaultServer, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with create_client(KEY, base_url=tls_server.base_url) as client:
        assert client.chat(message="through the tunnel").reply
    _assert_tunnelled(proxy, tls_server)


@pytest.mark.anyio
async def test_https_proxy_from_the_environment_tunnels_the_call_async(
    tls_server: FaultServer,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    async_backend: str,
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url)
    async with create_async_client(
        KEY, base_url=tls_server.base_url, http_backend=async_backend
    ) as client:
        assert (await client.chat(message="through the tunnel")).reply
    _assert_tunnelled(proxy, tls_server)


def test_all_proxy_applies_when_no_scheme_proxy_is_set(
    tls_server: FaultServer, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    with create_client(KEY, base_url=tls_server.base_url) as client:
        client.chat(message="through the tunnel")
    _assert_tunnelled(proxy, tls_server)


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost,127.0.0.1"])
def test_no_proxy_bypasses_the_proxy(
    tls_server: FaultServer, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    with create_client(KEY, base_url=tls_server.base_url) as client:
        assert client.chat(message="direct").reply
    assert proxy.log.heads == []
    assert len(tls_server.received) == 1


@pytest.mark.anyio
async def test_no_proxy_bypasses_the_proxy_async(
    tls_server: FaultServer,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    async_backend: str,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    async with create_async_client(
        KEY, base_url=tls_server.base_url, http_backend=async_backend
    ) as client:
        assert (await client.chat(message="direct")).reply
    assert proxy.log.heads == []
    assert len(tls_server.received) == 1


def test_http_proxy_carries_plain_http_calls(
    proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch, no_proxy_environment: None
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with (
        FaultServer() as server,
        create_client(KEY, base_url=server.base_url, max_retries=0) as client,
        pytest.raises(convokit.InternalServerError),  # the test proxy answers 502
    ):
        client.chat(message="via the proxy")
    assert server.received == []
    assert proxy.log.heads[0].startswith(f"POST {server.base_url}/v1/chat ".encode())


def test_the_proxy_option_sends_through_the_proxy_whatever_the_environment(
    tls_server: FaultServer, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    with create_client(KEY, base_url=tls_server.base_url, proxy=proxy.url) as client:
        client.chat(message="through the tunnel")
    _assert_tunnelled(proxy, tls_server)


@pytest.mark.anyio
async def test_the_proxy_option_async(
    tls_server: FaultServer, proxy: ConnectProxy, async_backend: str
) -> None:
    async with create_async_client(
        {"apiKey": KEY, "baseUrl": tls_server.base_url}, http_backend=async_backend
    ) as client:
        with pytest.raises(TypeError, match="proxy"):
            client.with_options(proxy=proxy.url)
    async with create_async_client(
        KEY, base_url=tls_server.base_url, proxy=proxy.url, http_backend=async_backend
    ) as client:
        await client.chat(message="through the tunnel")
    _assert_tunnelled(proxy, tls_server)


def test_a_bad_proxy_option_is_refused_before_any_io() -> None:
    with pytest.raises(ValueError, match="proxy"):
        create_client(KEY, proxy="ftp://127.0.0.1:21")
    with pytest.raises(TypeError, match="proxy"):
        create_client(KEY, proxy=3128)
    with pytest.raises(TypeError, match="http_client"):
        create_client(KEY, proxy="http://127.0.0.1:3128", http_client=httpx.Client())
