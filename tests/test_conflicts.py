"""409 over real sockets: a key reused with another message fails at once; a key whose
first request is still running, or a 409 code the spec does not name, is retried with
the same key. The documented codes and bodies are read from openapi.yaml."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _fault_server import FaultServer, json_reply, ok
from _spec import documented_errors

from convokit import AsyncClient, Client, ConflictError, create_async_client, create_client
from convokit._retry import KEY_REUSED_CODE
from convokit.testing import MockServer

KEY = "sk_test_conflicts_0123"
CONFLICTS = {error["code"]: error for error in documented_errors(409)}


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


def test_a_key_reused_with_another_message_fails_after_one_attempt(
    mock: MockServer, waits: list[float]
) -> None:
    with create_client(KEY, base_url=mock.base_url) as client:
        client.chat(message="Book a table for two", idempotency_key="order-7")
        with pytest.raises(ConflictError) as raised:
            client.chat(message="Book a table for four", idempotency_key="order-7")
    assert raised.value.code == KEY_REUSED_CODE
    assert raised.value.status_code == 409
    assert len(mock.requests) == 2  # one for each call: the conflict was not retried
    assert waits == []
    (thread,) = mock.conversations.values()
    assert [turn["role"] for turn in thread] == ["user", "assistant"]
    assert thread[0]["content"] == "Book a table for two"


@pytest.mark.anyio
async def test_async_a_key_reused_with_another_message_fails_after_one_attempt(
    mock: MockServer, waits: list[float], async_backend: str
) -> None:
    async with create_async_client(
        KEY, base_url=mock.base_url, http_backend=async_backend
    ) as client:
        await client.chat(message="Book a table for two", idempotency_key="order-8")
        with pytest.raises(ConflictError) as raised:
            await client.chat(message="Book a table for four", idempotency_key="order-8")
    assert raised.value.code == KEY_REUSED_CODE
    assert len(mock.requests) == 2
    assert waits == []


def _conflict(error: dict[str, Any]) -> Any:
    return json_reply(409, {"error": error})


@pytest.mark.parametrize("code", sorted(CONFLICTS))
def test_each_documented_409_is_retried_or_not_as_its_code_says(
    waits: list[float], code: str
) -> None:
    with FaultServer() as server:
        server.then(_conflict(CONFLICTS[code]), ok("stored answer"))
        with create_client(KEY, base_url=server.base_url) as client:
            if code == KEY_REUSED_CODE:
                with pytest.raises(ConflictError) as raised:
                    client.chat(message="Hello")
                assert raised.value.code == code
                assert raised.value.message == CONFLICTS[code]["message"]
                assert len(server.received) == 1
                assert waits == []
            else:
                assert client.chat(message="Hello").reply == "stored answer"
                first, retry = server.received
                assert first.idempotency_key == retry.idempotency_key is not None
                assert len(waits) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("code", sorted(CONFLICTS))
async def test_async_each_documented_409_is_retried_or_not_as_its_code_says(
    waits: list[float], code: str, async_backend: str
) -> None:
    with FaultServer() as server:
        server.then(_conflict(CONFLICTS[code]), ok("stored answer"))
        async with create_async_client(
            KEY, base_url=server.base_url, http_backend=async_backend
        ) as client:
            if code == KEY_REUSED_CODE:
                with pytest.raises(ConflictError):
                    await client.chat(message="Hello")
                assert len(server.received) == 1
                assert waits == []
            else:
                assert (await client.chat(message="Hello")).reply == "stored answer"
                assert len({request.idempotency_key for request in server.received}) == 1
                assert len(server.received) == 2


@pytest.mark.parametrize("code", [None, "idempotency_key_locked_for_review"])
def test_a_409_without_a_documented_code_is_retried_as_before(
    waits: list[float], code: str | None
) -> None:
    error = {"type": "idempotency_error", "message": "Conflict."}
    if code is not None:
        error["code"] = code
    with FaultServer() as server:
        server.then(*(_conflict(error) for _ in range(3)))
        with (
            create_client(KEY, base_url=server.base_url) as client,
            pytest.raises(ConflictError),
        ):
            client.chat(message="Hello")
        assert len(server.received) == 3
        assert len({request.idempotency_key for request in server.received}) == 1
    assert len(waits) == 2


def _slow_first_request() -> tuple[MockServer, threading.Event, threading.Event]:
    """A mock whose replies wait for `release`; `started` is set once one is waiting."""
    started, release = threading.Event(), threading.Event()

    def slow(messages: list[dict[str, str]]) -> str:
        started.set()
        release.wait(10)
        return "the one answer"

    return MockServer(api_key=KEY, responder=slow), started, release


def test_a_key_whose_first_request_still_runs_is_retried_with_the_same_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, started, release = _slow_first_request()
    with server, create_client(KEY, base_url=server.base_url) as client:
        first: list[str] = []
        running = threading.Thread(
            target=lambda: first.append(client.chat(message="Hi", idempotency_key="k1").reply)
        )
        running.start()
        assert started.wait(10)
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            # The in-use 409 came back: let the first request finish before the retry.
            waits.append(seconds)
            release.set()
            running.join(10)

        monkeypatch.setattr(Client, "_sleep", staticmethod(sleep))
        second = client.chat(message="Hi", idempotency_key="k1")
        running.join(10)
        requests = server.requests
        conversations = server.conversations
    assert first == [second.reply] == ["the one answer"]
    assert len(waits) == 1
    assert [request.headers["idempotency-key"] for request in requests] == ["k1"] * 3
    (thread,) = conversations.values()
    assert len(thread) == 2  # answered once, replayed to the retry


@pytest.mark.anyio
async def test_async_a_key_whose_first_request_still_runs_is_retried_with_the_same_key(
    monkeypatch: pytest.MonkeyPatch,
    async_backend: str,
) -> None:
    server, started, release = _slow_first_request()
    with server:
        sync_client = create_client(KEY, base_url=server.base_url)
        running = threading.Thread(
            target=lambda: sync_client.chat(message="Hi", idempotency_key="k2")
        )
        running.start()
        assert started.wait(10)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            release.set()
            running.join(10)  # blocks the loop briefly: nothing else runs on it here

        monkeypatch.setattr(AsyncClient, "_sleep", staticmethod(sleep))
        async with create_async_client(
            KEY, base_url=server.base_url, http_backend=async_backend
        ) as client:
            second = await client.chat(message="Hi", idempotency_key="k2")
        running.join(10)
        sync_client.close()
        requests = server.requests
    assert second.reply == "the one answer"
    assert len(waits) == 1
    assert [request.headers["idempotency-key"] for request in requests] == ["k2"] * 3


def test_an_injected_409_passes_like_the_key_in_use_it_is(
    mock: MockServer, waits: list[float]
) -> None:
    mock.fail_next(409)
    with create_client(KEY, base_url=mock.base_url) as client:
        assert client.chat(message="Hello").reply
    first, retry = mock.requests
    assert first.headers["idempotency-key"] == retry.headers["idempotency-key"]
    assert len(waits) == 1
