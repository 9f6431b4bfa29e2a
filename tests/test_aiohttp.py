"""What is particular to the async client's aiohttp backend (http_backend="aiohttp").

Its semantics are the httpx backend's: the async end-to-end, retry, failure, key-secrecy
and soak tests run on both (the async_backend fixture). Here: what it sends is what
the httpx backend sends; it is optional (never imported unless asked for); it runs on
asyncio only; its options are checked before any I/O; TLS is verified; aclose()
closes its connections; a deadline before a connection means "not sent".
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
from _fault_server import FaultServer, stall
from _fds import fds_settle_at, open_fds
from _spec import ROOT

import convokit
import convokit._transport
from convokit import APIConnectionError, APITimeoutError, ConvoKitError, create_async_client
from convokit.testing import MockServer

KEY = "sk_test_aiohttp_0123"
# What each transport adds on its own, not the SDK: both send gzip and deflate.
TRANSPORT_DEFAULTS = {"accept", "accept-encoding", "connection"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_DEFAULT_CLIENT_CALL = """
import asyncio, sys
import convokit
from convokit.testing import MockServer

async def main(url):
    async with convokit.create_async_client("sk_test_abc", base_url=url) as client:
        return (await client.chat(message="hi")).reply

with MockServer() as server:
    assert asyncio.run(main(server.base_url))
"""


@pytest.mark.slow
def test_import_convokit_and_the_default_backend_never_import_aiohttp() -> None:
    result = _run_python(_DEFAULT_CLIENT_CALL + "assert 'aiohttp' not in sys.modules\n")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_without_aiohttp_the_default_backend_works_and_aiohttp_says_how_to_install() -> None:
    hide = "import sys\nsys.modules['aiohttp'] = None  # as if not installed\n"
    asks = """
try:
    convokit.create_async_client("sk_test_abc", http_backend="aiohttp")
except ImportError as error:
    print(error)
else:
    raise SystemExit("no ImportError")
"""
    result = _run_python(hide + _DEFAULT_CLIENT_CALL + asks)
    assert result.returncode == 0, result.stderr
    assert "pip install 'convokit-server[aiohttp]'" in result.stdout


@pytest.mark.anyio
async def test_it_sends_what_the_httpx_backend_sends(server: FaultServer) -> None:
    options = {"extra_headers": {"X-Trace": "abc"}, "idempotency_key": "order-42"}
    for backend in ("httpx", "aiohttp"):
        async with create_async_client(
            KEY,
            base_url=server.base_url,
            default_headers={"X-Team": "support"},
            http_backend=backend,
        ) as client:
            reply = await client.chat(
                {"message": "Héllo ✓", "chatHistory": [{"role": "user", "content": "Hi"}]},
                **options,
            )
            assert reply.reply
    by_httpx, by_aiohttp = server.received
    assert by_aiohttp.body == by_httpx.body  # the same JSON bytes, non-ASCII text included
    assert (by_aiohttp.method, by_aiohttp.path) == (by_httpx.method, by_httpx.path)

    def own(headers: dict[str, str]) -> dict[str, str]:
        return {name: value for name, value in headers.items() if name not in TRANSPORT_DEFAULTS}

    assert own(by_aiohttp.headers) == own(by_httpx.headers)
    assert by_aiohttp.headers["authorization"] == f"Bearer {KEY}"
    assert by_aiohttp.headers["idempotency-key"] == "order-42"
    assert {"x-team", "x-trace", "user-agent", "content-type"} <= by_aiohttp.headers.keys()


@pytest.mark.anyio
async def test_aclose_closes_its_connections_and_the_client() -> None:
    fds = open_fds()
    with MockServer() as server:
        client = create_async_client(KEY, base_url=server.base_url, http_backend="aiohttp")
        replies = await asyncio.gather(*(client.chat(message=f"m{n}") for n in range(20)))
        assert len(replies) == 20
        assert open_fds() > fds  # its connections stay open for the next calls
        await client.aclose()
        with pytest.raises(ConvoKitError, match="closed"):
            await client.chat(message="after aclose")
    assert fds_settle_at(fds)


def test_under_trio_it_says_to_use_the_default_backend() -> None:
    with MockServer() as server:
        client = create_async_client(KEY, base_url=server.base_url, http_backend="aiohttp")

        async def chat() -> object:
            return await client.chat(message="Hello")

        with pytest.raises(ConvoKitError, match="asyncio only") as raised:
            trio.run(chat)
        assert "http_backend='httpx'" in str(raised.value)
        assert type(raised.value) is ConvoKitError
        assert server.requests == []
        # The same client still works under asyncio.
        assert asyncio.run(chat())


@pytest.mark.parametrize(
    ("make", "options", "error", "says"),
    [
        (convokit.create_client, {"http_backend": "aiohttp"}, ValueError, "create_async_client"),
        (create_async_client, {"http_backend": "requests"}, ValueError, "'httpx' or 'aiohttp'"),
        (
            create_async_client,
            {"http_backend": "aiohttp", "http_client": httpx.AsyncClient()},
            TypeError,
            "leave it out",
        ),
        (
            create_async_client,
            {"http_backend": "aiohttp", "proxy": "socks5://127.0.0.1:1080"},
            ValueError,
            "SOCKS",
        ),
    ],
)
def test_its_options_are_checked_before_any_io(
    make: object, options: dict[str, object], error: type[Exception], says: str
) -> None:
    assert callable(make)
    with pytest.raises(error, match=says):
        make(KEY, base_url="http://127.0.0.1:9", **options)


def test_with_options_cannot_change_the_backend() -> None:
    client = create_async_client(KEY, base_url="http://127.0.0.1:9", http_backend="aiohttp")
    with pytest.raises(TypeError, match="http_backend"):
        client.with_options(http_backend="httpx")
    assert client.with_options(max_retries=0)._pool is client._pool


@pytest.mark.anyio
async def test_an_untrusted_certificate_is_refused(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with FaultServer(tls=tls) as tls_server:
        async with create_async_client(
            KEY, base_url=tls_server.base_url, max_retries=0, http_backend="aiohttp"
        ) as client:
            with pytest.raises(APIConnectionError) as raised:
                await client.chat(message="Hello")
        assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
        assert isinstance(raised.value.__cause__, httpx.ConnectError)
        assert tls_server.received == []


@pytest.mark.anyio
async def test_a_deadline_before_a_connection_means_the_request_was_not_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(convokit._transport, "MAX_CONNECTIONS", 1)
    with FaultServer(stall(3)) as slow:
        async with create_async_client(
            KEY, base_url=slow.base_url, max_retries=0, http_backend="aiohttp"
        ) as client:
            holder = asyncio.create_task(client.chat(message="holds the only connection"))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            with pytest.raises(APITimeoutError) as raised:
                await client.chat(message="queued", timeout=0.3)
            elapsed = time.monotonic() - started
            holder.cancel()
    # The retry policy reads "cannot have reached the server" from the cause
    # (convokit/_retry.py): a POST without an Idempotency-Key may be sent again.
    assert isinstance(raised.value.__cause__, httpx.ConnectTimeout)
    assert elapsed < 1.5
    assert len(slow.received) == 1


def test_one_client_serves_several_asyncio_event_loops_in_turn() -> None:
    with MockServer() as server:
        client = create_async_client(KEY, base_url=server.base_url, http_backend="aiohttp")

        async def chat(message: str) -> str:
            return (await client.chat(message=message)).reply

        # A session (and its connections) for each loop: the first is closed by now.
        first, second = asyncio.run(chat("first loop")), asyncio.run(chat("second loop"))
        asyncio.run(client.aclose())
    assert [first, second] == [
        'You said: "first loop" (turn 1 of this conversation)',
        'You said: "second loop" (turn 1 of this conversation)',
    ]
