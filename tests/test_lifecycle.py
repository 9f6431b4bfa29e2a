"""Clients over their lifetime: shared by threads and tasks, closed, forked, copied with
with_options, given the caller's own httpx client; and the headers every request carries."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import select
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from _fault_server import FaultServer, redirect

import convokit
from convokit import (
    APIStatusError,
    AsyncClient,
    Client,
    ConvoKitError,
    create_async_client,
    create_client,
)
from convokit.testing import MockServer

KEY = "sk_test_lifecycle_0123"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as mock_server:
        yield mock_server


def test_one_client_shared_by_16_threads(mock: MockServer) -> None:
    client = create_client(KEY, base_url=mock.base_url)
    pool = client._pool.http
    start = threading.Barrier(16)
    threads_ids: dict[int, str] = {}
    failures: list[BaseException] = []

    def converse(number: int) -> None:
        try:
            start.wait(timeout=30)
            first = client.chat(message=f"thread {number} turn 1")
            for turn in (2, 3):
                res = client.chat(
                    message=f"thread {number} turn {turn}", conversation_id=first.conversation_id
                )
                assert res.conversation_id == first.conversation_id
            threads_ids[number] = first.conversation_id
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=converse, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    client.close()

    assert failures == []
    assert len(set(threads_ids.values())) == 16
    conversations = mock.conversations
    for number, conversation_id in threads_ids.items():
        said = [m["content"] for m in conversations[conversation_id] if m["role"] == "user"]
        assert said == [f"thread {number} turn {turn}" for turn in (1, 2, 3)]
    assert client._pool.http is pool
    keys = [request.headers["idempotency-key"] for request in mock.requests]
    assert len(keys) == len(set(keys)) == 48


def test_threads_share_one_connection_pool(server: FaultServer) -> None:
    with create_client(KEY, base_url=server.base_url) as client:
        start = threading.Barrier(16)

        def send_five() -> None:
            start.wait(timeout=30)
            for _ in range(5):
                client.chat(message="Hello")

        threads = [threading.Thread(target=send_five) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert len(server.received) == 80
    # Connections are reused: never more than the threads in flight at once.
    assert server.connections <= 16


@pytest.mark.anyio
async def test_one_async_client_shared_by_many_tasks(mock: MockServer, async_backend: str) -> None:
    async with create_async_client(
        KEY, base_url=mock.base_url, http_backend=async_backend
    ) as client:
        pool = client._pool.http

        async def converse(number: int) -> str:
            first = await client.chat(message=f"task {number} turn 1")
            await client.chat(message=f"task {number} turn 2", conversationId=first.conversation_id)
            return first.conversation_id

        ids = [""] * 40

        async def converse_into(number: int) -> None:
            ids[number] = await converse(number)

        async with anyio.create_task_group() as tasks:
            for number in range(40):
                tasks.start_soon(converse_into, number)
        assert client._pool.http is pool
    assert len(set(ids)) == 40
    conversations = mock.conversations
    for number, conversation_id in enumerate(ids):
        said = [m["content"] for m in conversations[conversation_id] if m["role"] == "user"]
        assert said == [f"task {number} turn 1", f"task {number} turn 2"]


def test_close_and_with_close_the_pool_and_a_closed_client_sends_nothing(
    server: FaultServer,
) -> None:
    with create_client(KEY, base_url=server.base_url) as client:
        client.chat(message="Hello")
        copy = client.with_options(max_retries=0)
    assert client._pool.http.is_closed
    for closed in (client, copy):  # the copy shares the pool, so it is closed too
        with pytest.raises(ConvoKitError, match="closed"):
            closed.chat(message="Hello")
    client.close()  # closing twice is fine
    assert len(server.received) == 1

    other = create_client(KEY, base_url=server.base_url)
    other.close()
    assert other._pool.http.is_closed


@pytest.mark.anyio
async def test_aclose_and_async_with_close_the_pool(
    server: FaultServer, async_backend: str
) -> None:
    async with create_async_client(
        KEY, base_url=server.base_url, http_backend=async_backend
    ) as client:
        await client.chat(message="Hello")
    assert client._pool.http.is_closed
    with pytest.raises(ConvoKitError, match="closed"):
        await client.chat(message="Hello")
    other = create_async_client(KEY, base_url=server.base_url, http_backend=async_backend)
    await other.aclose()
    await other.aclose()
    assert other._pool.http.is_closed
    assert len(server.received) == 1


def test_clients_have_no_finalizer() -> None:
    # A __del__ would run at unpredictable times (and in the wrong thread or loop).
    for client_class in (Client, AsyncClient):
        for cls in client_class.__mro__:
            assert "__del__" not in vars(cls), cls
    assert "__del__" not in vars(type(create_client(KEY)._pool))


def test_with_options_copies_share_the_pool_and_its_connections(server: FaultServer) -> None:
    with create_client(KEY, base_url=server.base_url) as client:
        copy = client.with_options(timeout=30, max_retries=5, default_headers={"X-Copy": "1"})
        assert copy._pool is client._pool
        assert copy.max_retries == 5 and client.max_retries == 2
        client.chat(message="one")
        copy.chat(message="two")
        client.chat(message="three")
    assert server.connections == 1
    assert [r.headers.get("x-copy") for r in server.received] == [None, "1", None]


def fork_and_call(client: Client | AsyncClient, call: Callable[[], str]) -> dict[str, Any]:
    """Runs `call` in a forked child; returns what the child reported through a pipe."""
    parent_http = client._pool.http
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process (the server's) may deadlock
        # the child; the child here touches only the client, never the server's locks.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: report, then leave without running any pytest machinery
        os.close(read_end)
        try:
            reply = call()
            report = {"reply": reply, "fresh_pool": client._pool.http is not parent_http}
        except BaseException as failure:
            report = {"error": repr(failure)}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 60)
        assert ready, "the forked child did not report within 60 s"
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result: dict[str, Any] = json.loads(data)
    return result


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_gets_a_fresh_pool(server: FaultServer) -> None:
    client = create_client(KEY, base_url=server.base_url, timeout=10, total_timeout=20)
    client.chat(message="parent, before the fork")  # leaves a pooled keep-alive connection
    parent_http = client._pool.http

    report = fork_and_call(client, lambda: client.chat(message="from the child").reply)

    assert report.get("error") is None, report
    assert report["fresh_pool"] is True
    assert report["reply"]
    assert client.chat(message="parent, after the fork").reply
    assert client._pool.http is parent_http
    before, in_child, after = server.received
    # The child opened its own connection; the parent's pooled one was left alone
    # and is still the one the parent uses.
    assert in_child.client_port != before.client_port
    assert after.client_port == before.client_port
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_gets_a_fresh_async_pool(server: FaultServer) -> None:
    client = create_async_client(KEY, base_url=server.base_url, timeout=10, total_timeout=20)
    parent_http = client._pool.http

    async def chat(message: str) -> str:
        return (await client.chat(message=message)).reply

    report = fork_and_call(client, lambda: asyncio.run(chat("from the child")))

    assert report.get("error") is None, report
    assert report["fresh_pool"] is True
    assert asyncio.run(chat("parent, after the fork"))
    assert client._pool.http is parent_http
    assert len(server.received) == 2


def test_every_request_carries_the_sdk_headers(server: FaultServer) -> None:
    with create_client(KEY, base_url=server.base_url) as client:
        client.chat(message="Hello")
    (request,) = server.received
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == f"convokit-python/{convokit.__version__}"
    runtime = request.headers["x-convokit-client-runtime"]
    assert platform.python_version() in runtime
    assert platform.python_implementation() in runtime
    assert request.headers["content-type"] == "application/json"
    assert request.request_line == "POST /v1/chat HTTP/1.1"
    assert request.json() == {"message": "Hello"}


def test_default_headers_and_per_call_extra_headers(server: FaultServer) -> None:
    with create_client(
        KEY, base_url=server.base_url, default_headers={"X-Team": "support", "X-Env": "test"}
    ) as client:
        client.chat(message="one")
        client.chat(message="two", extra_headers={"X-Env": "canary", "X-Trace": "abc"})
        client.with_options(default_headers={"X-Region": "eu"}).chat(message="three")
        # The SDK's informational headers are the caller's to replace (tests/test_headers.py).
        client.chat(message="four", extra_headers={"User-Agent": "mine"})
    one, two, three, four = (r.headers for r in server.received)
    assert (one["x-team"], one["x-env"], one.get("x-trace")) == ("support", "test", None)
    assert (two["x-team"], two["x-env"], two["x-trace"]) == ("support", "canary", "abc")
    assert (three["x-team"], three["x-region"]) == ("support", "eu")
    assert four["user-agent"] == "mine"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer sk_test_other"},
        {"authorization": "x"},
        {"Idempotency-Key": "mine"},
        {"IDEMPOTENCY-KEY": "mine"},
    ],
)
def test_headers_the_sdk_owns_cannot_be_set(server: FaultServer, headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="the SDK sets it"):
        create_client(KEY, base_url=server.base_url, default_headers=headers)
    with create_client(KEY, base_url=server.base_url) as client:
        with pytest.raises(ValueError, match="the SDK sets it"):
            client.chat(message="Hello", extra_headers=headers)
        with pytest.raises(ValueError, match="the SDK sets it"):
            client.with_options(default_headers=headers)
    assert server.received == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Injected": "a\r\nX-Other: b"},
        {"X-Nul": "a\x00b"},
        {"X-Accent": "café"},
        {"X-Padded": " padded-token"},
        {"Bad Name": "x"},
        {"": "x"},
        {"X:Colon": "x"},
        {"X-Ünicode": "x"},
    ],
)
def test_headers_http_cannot_carry_are_refused_before_sending(
    server: FaultServer, headers: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="invalid"):
        create_client(KEY, base_url=server.base_url, default_headers=headers)
    with (
        create_client(KEY, base_url=server.base_url) as client,
        pytest.raises(ValueError, match="invalid") as refused,
    ):
        client.chat(message="Hello", extra_headers=headers)
    assert server.received == []
    for value in headers.values():
        if len(value) > 1:
            assert value not in str(refused.value)  # header values may be credentials


def test_ordinary_header_values_are_sent_as_given(server: FaultServer) -> None:
    headers = {"X-Empty": "", "X-Spaced": "a  b\tc", "X-Symbols": "!#$%&'*+-.^_`|~\"()"}
    with create_client(KEY, base_url=server.base_url, default_headers=headers) as client:
        client.chat(message="Hello")
    (request,) = server.received
    for name, value in headers.items():
        assert request.headers[name.lower()] == value


class CountingTransport(httpx.BaseTransport):
    """A caller's custom transport: sends through a real one and keeps what it sent."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_callers_http_client_gets_auth_and_sdk_headers(server: FaultServer) -> None:
    transport = CountingTransport()
    hooked: list[httpx.Request] = []
    own = httpx.Client(
        transport=transport,
        headers={"X-Mine": "yes"},
        event_hooks={"request": [hooked.append]},
        follow_redirects=True,
    )
    with create_client(KEY, base_url=server.base_url, http_client=own) as client:
        assert client._pool.http is own
        client.chat(message="one")
        client.with_options(max_retries=0).chat(message="two")
        server.then(redirect(f"{server.base_url}/v1/elsewhere"))
        with pytest.raises(APIStatusError) as raised:
            client.chat(message="redirected")
    assert raised.value.status_code == 302
    assert len(transport.sent) == len(hooked) == 3
    for request in hooked:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.headers["user-agent"].startswith("convokit-python/")
        assert "x-convokit-client-runtime" in request.headers
        assert "idempotency-key" in request.headers
    assert [r.headers["x-mine"] for r in server.received] == ["yes"] * 3
    # The caller's follow_redirects=True did not make the SDK follow the 302.
    assert [r.path for r in server.received] == ["/v1/chat"] * 3
    # Closing the SDK client leaves the caller's own client open: it is theirs.
    assert not own.is_closed
    assert own.get(f"{server.base_url}/anything").status_code == 200
    own.close()


@pytest.mark.anyio
async def test_a_callers_async_http_client_gets_auth_and_sdk_headers(
    server: FaultServer,
) -> None:
    hooked: list[httpx.Request] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(request)

    own = httpx.AsyncClient(event_hooks={"request": [hook]})
    async with create_async_client(KEY, base_url=server.base_url, http_client=own) as client:
        await client.chat(message="Hello")
    assert len(hooked) == 1
    assert hooked[0].headers["authorization"] == f"Bearer {KEY}"
    assert hooked[0].headers["user-agent"].startswith("convokit-python/")
    assert not own.is_closed
    await own.aclose()


def test_http_client_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(TypeError, match=r"httpx\.Client"):
        create_client(KEY, http_client=httpx.AsyncClient())
    with pytest.raises(TypeError, match=r"httpx\.AsyncClient"):
        create_async_client(KEY, http_client=httpx.Client())
    with pytest.raises(TypeError, match="http_client"):
        create_client(KEY).with_options(http_client=httpx.Client())
