"""Retries over real local HTTP: what is retried, how long the client waits, one
Idempotency-Key per logical call, per-attempt timeout and total_timeout."""

from __future__ import annotations

import email.utils
import logging
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from _fault_server import (
    FaultServer,
    error,
    json_reply,
    ok,
    request_id_for,
    reset,
    stall,
    valid_body,
)

import convokit
import convokit._deadline
import convokit._transport
from convokit import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    Client,
    ConflictError,
    InternalServerError,
    RateLimitError,
    _call,
    create_async_client,
    create_client,
)
from convokit.testing import MockServer

KEY = "sk_test_retries_0123"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def client_for(server: FaultServer | MockServer, **options: object) -> Client:
    return create_client(KEY, base_url=server.base_url, **options)


def keys_of(server: FaultServer) -> list[str | None]:
    return [request.idempotency_key for request in server.received]


def assert_backoff(waits: list[float]) -> None:
    """Each wait is min(0.5 * 2**n, 8) s times a jitter in [0.75, 1]."""
    for retry_number, wait in enumerate(waits):
        full = min(0.5 * 2**retry_number, 8)
        assert 0.75 * full <= wait <= full, (retry_number, wait)


def test_503_503_200_is_one_answer_after_three_attempts_with_one_key(
    server: FaultServer, waits: list[float]
) -> None:
    server.then(error(503), error(503), ok("third time lucky"))
    with client_for(server) as client:
        res = client.chat(message="Hello")
    assert res.reply == "third time lucky"
    assert res.request_id == request_id_for(3)
    (key,) = set(keys_of(server))
    assert key is not None and uuid.UUID(key).version == 4
    assert len(server.received) == 3
    assert len({request.body for request in server.received}) == 1
    assert len(waits) == 2
    assert_backoff(waits)


@pytest.mark.anyio
async def test_async_503_503_200_is_one_answer_after_three_attempts_with_one_key(
    server: FaultServer, waits: list[float], async_backend: str
) -> None:
    server.then(error(503), error(503), ok("third time lucky"))
    async with create_async_client(
        KEY, base_url=server.base_url, http_backend=async_backend
    ) as client:
        res = await client.chat(message="Hello")
    assert res.reply == "third time lucky"
    assert len(server.received) == 3
    assert len(set(keys_of(server))) == 1
    assert len(waits) == 2
    assert_backoff(waits)


def test_each_call_gets_a_new_key_and_a_callers_key_is_used_on_every_retry(
    server: FaultServer, waits: list[float]
) -> None:
    with client_for(server) as client:
        client.chat(message="one")
        client.chat(message="two")
        server.then(error(500), error(500))
        client.chat(message="three", idempotency_key="order-42-message-3")
    first, second, *third = keys_of(server)
    assert first != second
    assert third == ["order-42-message-3"] * 3


def test_a_message_retried_after_a_lost_response_is_answered_once(waits: list[float]) -> None:
    with MockServer(api_key=KEY) as server:
        server.drop_next()
        with client_for(server) as client:
            res = client.chat(message="Book me a table")
        (thread,) = server.conversations.values()
        requests = server.requests
    assert res.reply
    assert [turn["role"] for turn in thread] == ["user", "assistant"]
    assert thread[1]["content"] == res.reply
    assert len(requests) == 2
    assert requests[0].headers["idempotency-key"] == requests[1].headers["idempotency-key"]
    assert len(waits) == 1


@pytest.mark.anyio
async def test_async_message_retried_after_a_lost_response_is_answered_once(
    waits: list[float],
    async_backend: str,
) -> None:
    with MockServer(api_key=KEY) as server:
        server.drop_next()
        async with create_async_client(
            KEY, base_url=server.base_url, http_backend=async_backend
        ) as client:
            res = await client.chat(message="Book me a table")
        (thread,) = server.conversations.values()
        requests = server.requests
    assert [turn["content"] for turn in thread] == ["Book me a table", res.reply]
    assert len({request.headers["idempotency-key"] for request in requests}) == 1
    assert len(requests) == 2


def test_429_retry_after_seconds_is_honoured(server: FaultServer, waits: list[float]) -> None:
    server.then(error(429, headers=[("Retry-After", "3")], error_type="rate_limit_error"))
    with client_for(server) as client:
        client.chat(message="Hello")
    assert waits == [3.0]


def test_retry_after_ms_is_honoured(server: FaultServer, waits: list[float]) -> None:
    server.then(error(503, headers=[("retry-after-ms", "1500")]))
    with client_for(server) as client:
        client.chat(message="Hello")
    assert waits == [1.5]


def test_retry_after_as_an_http_date_is_honoured(server: FaultServer, waits: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.then(error(429, headers=[("Retry-After", when)]))
    with client_for(server) as client:
        client.chat(message="Hello")
    (wait,) = waits
    # The date has a one-second resolution, and the clock moves on between the two reads.
    assert 25 < wait <= 30


@pytest.mark.parametrize("retry_after", ["61", "3600", "0", "-1", "tomorrow"])
def test_retry_after_outside_0_to_60_seconds_falls_back_to_backoff(
    server: FaultServer, waits: list[float], retry_after: str
) -> None:
    server.then(error(503, headers=[("Retry-After", retry_after)]))
    with client_for(server) as client:
        client.chat(message="Hello")
    assert len(waits) == 1
    assert_backoff(waits)


@pytest.mark.anyio
async def test_async_retry_after_is_honoured(
    server: FaultServer, waits: list[float], async_backend: str
) -> None:
    server.then(error(429, headers=[("Retry-After", "2")]), error(503))
    async with create_async_client(
        KEY, base_url=server.base_url, http_backend=async_backend
    ) as client:
        await client.chat(message="Hello")
    assert waits[0] == 2.0
    assert 0.75 <= waits[1] <= 1.0


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, convokit.BadRequestError),
        (401, convokit.AuthenticationError),
        (403, convokit.PermissionDeniedError),
        (404, convokit.NotFoundError),
        (405, APIStatusError),
        (413, convokit.RequestTooLargeError),
        (418, APIStatusError),
        (422, convokit.UnprocessableEntityError),
    ],
)
def test_other_4xx_are_tried_once(
    server: FaultServer, waits: list[float], status: int, error_class: type[APIStatusError]
) -> None:
    server.then(error(status, "nope"))
    with client_for(server) as client, pytest.raises(error_class) as raised:
        client.chat(message="Hello")
    assert type(raised.value) is error_class
    assert raised.value.status_code == status
    assert len(server.received) == 1
    assert waits == []


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (408, APIStatusError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
        (599, InternalServerError),
    ],
)
def test_retried_statuses_raise_the_last_error_when_retries_run_out(
    server: FaultServer, waits: list[float], status: int, error_class: type[APIStatusError]
) -> None:
    server.then(*(error(status, f"failure {n}") for n in (1, 2, 3)))
    with client_for(server) as client, pytest.raises(error_class) as raised:
        client.chat(message="Hello")
    assert type(raised.value) is error_class
    assert raised.value.message == "failure 3"
    assert raised.value.request_id == request_id_for(3)
    assert len(server.received) == 3
    assert len(set(keys_of(server))) == 1
    assert_backoff(waits)
    assert len(waits) == 2


@pytest.mark.parametrize(
    ("client_options", "call_options", "attempts"),
    [
        ({}, {}, 3),
        ({"max_retries": 4}, {}, 5),
        ({"max_retries": 0}, {}, 1),
        ({}, {"max_retries": 0}, 1),
        ({}, {"maxRetries": 1}, 2),
        ({"max_retries": 0}, {"max_retries": 3}, 4),
    ],
)
def test_max_retries_per_client_and_per_call(
    server: FaultServer,
    waits: list[float],
    client_options: dict[str, int],
    call_options: dict[str, int],
    attempts: int,
) -> None:
    server.then(*(error(500) for _ in range(10)))
    with client_for(server, **client_options) as client, pytest.raises(InternalServerError):
        client.chat(message="Hello", **call_options)
    assert len(server.received) == attempts
    assert len(waits) == attempts - 1


def test_with_options_changes_max_retries_of_the_copy_only(
    server: FaultServer, waits: list[float]
) -> None:
    server.then(*(error(500) for _ in range(10)))
    with client_for(server) as client:
        with pytest.raises(InternalServerError):
            client.with_options(max_retries=5).chat(message="Hello")
        assert len(server.received) == 6
        with pytest.raises(InternalServerError):
            client.chat(message="Hello")
        assert len(server.received) == 9


def test_reset_connection_then_success(server: FaultServer, waits: list[float]) -> None:
    server.then(reset())
    with client_for(server) as client:
        res = client.chat(message="Hello")
    assert res.request_id == request_id_for(2)
    assert len(set(keys_of(server))) == 1
    assert len(waits) == 1


@pytest.mark.anyio
async def test_async_reset_connection_then_success(
    server: FaultServer, waits: list[float], async_backend: str
) -> None:
    server.then(reset(), reset())
    async with create_async_client(
        KEY, base_url=server.base_url, http_backend=async_backend
    ) as client:
        res = await client.chat(message="Hello")
    assert res.request_id == request_id_for(3)
    assert len(set(keys_of(server))) == 1


def test_resets_until_retries_run_out_raise_a_connection_error(
    server: FaultServer, waits: list[float]
) -> None:
    server.then(reset(), reset(), reset())
    with client_for(server) as client, pytest.raises(APIConnectionError) as raised:
        client.chat(message="Hello")
    assert type(raised.value) is APIConnectionError
    assert isinstance(raised.value.__cause__, httpx.TransportError)
    assert raised.value.request_id is None
    assert len(server.received) == 3


def test_an_attempt_slower_than_timeout_times_out_and_is_retried(
    server: FaultServer, waits: list[float]
) -> None:
    server.then(stall(5), stall(5))
    # Half a second: short next to the stall, long enough for the final reply on a busy CI box.
    with client_for(server, timeout=0.5) as client:
        res = client.chat(message="Hello")
    assert res.request_id == request_id_for(3)
    assert len(set(keys_of(server))) == 1
    assert len(waits) == 2


@pytest.mark.parametrize("timeout", [0.2, httpx.Timeout(0.2)])
def test_timeouts_until_retries_run_out_raise_a_timeout_error(
    server: FaultServer, waits: list[float], timeout: float | httpx.Timeout
) -> None:
    server.then(stall(5), stall(5), stall(5))
    with client_for(server) as client, pytest.raises(APITimeoutError) as raised:
        client.chat(message="Hello", timeout=timeout)
    assert isinstance(raised.value.__cause__, httpx.TimeoutException)
    assert len(server.received) == 3


@pytest.mark.anyio
async def test_async_timeouts_are_retried_then_raised(
    server: FaultServer, waits: list[float], async_backend: str
) -> None:
    server.then(stall(5), stall(5), stall(5), stall(5))
    async with create_async_client(
        KEY, base_url=server.base_url, timeout=0.2, http_backend=async_backend
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.chat(message="Hello", max_retries=1)
        assert len(server.received) == 2
        with pytest.raises(APITimeoutError):
            await client.chat(message="Hello", max_retries=1)
        assert len(server.received) == 4


def test_the_default_timeout_is_60s_per_attempt_and_5s_to_connect(server: FaultServer) -> None:
    with client_for(server) as client:
        assert client.timeout == httpx.Timeout(60.0, connect=5.0)
        seconds = client.with_options(timeout=12.5).timeout
        assert seconds == httpx.Timeout(12.5, connect=5.0)


class FakeClock:
    """Stands in for convokit._call's `time`: only the injected sleep moves it."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 1000.0
        self.oversleep = oversleep
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds + self.oversleep


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    # The call object computes deadlines that the pool's network backend checks: both
    # must read the same clock.
    for module in (_call, convokit._deadline, convokit._transport):
        monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=fake.monotonic))
    monkeypatch.setattr(Client, "_sleep", staticmethod(fake.sleep))
    return fake


def test_total_timeout_stops_retrying_before_a_wait_would_pass_it(
    server: FaultServer, clock: FakeClock
) -> None:
    # Backoffs are ~0.5 s then ~1 s: the second wait would end past the 1 s budget.
    server.then(*(error(503, f"failure {n}") for n in range(1, 11)))
    with client_for(server, max_retries=10) as client, pytest.raises(InternalServerError) as raised:
        client.chat(message="Hello", total_timeout=1.0)
    assert len(server.received) == 2
    assert len(clock.slept) == 1
    assert sum(clock.slept) < 1.0
    # The caller gets the real failure, not a generic timeout.
    assert raised.value.message == "failure 2"


def test_total_timeout_refuses_a_retry_after_longer_than_what_is_left(
    server: FaultServer, clock: FakeClock
) -> None:
    server.then(error(429, headers=[("Retry-After", "30")]))
    with client_for(server, total_timeout=10) as client, pytest.raises(RateLimitError):
        client.chat(message="Hello")
    assert clock.slept == []
    assert len(server.received) == 1


def test_no_attempt_starts_after_total_timeout(server: FaultServer, clock: FakeClock) -> None:
    clock.oversleep = 5.0  # the process was suspended while it slept
    server.then(error(503), error(503))
    with client_for(server) as client, pytest.raises(APITimeoutError, match="total_timeout"):
        client.chat(message="Hello", total_timeout=2.0)
    assert len(server.received) == 1
    assert len(clock.slept) == 1


def test_total_timeout_cuts_a_slow_attempt_short(server: FaultServer, waits: list[float]) -> None:
    # The stalled reply would arrive after 3 s; the per-attempt timeout (60 s) alone
    # would wait for it and succeed.
    server.then(stall(3, then=ok("too late")))
    with client_for(server) as client, pytest.raises(APITimeoutError):
        client.chat(message="Hello", total_timeout=0.3, max_retries=3)
    assert len(server.received) == 1
    assert waits == []


@pytest.mark.anyio
async def test_async_total_timeout_cuts_a_slow_attempt_short(
    server: FaultServer, waits: list[float], async_backend: str
) -> None:
    server.then(stall(3, then=ok("too late")))
    async with create_async_client(
        KEY, base_url=server.base_url, total_timeout=0.3, http_backend=async_backend
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.chat(message="Hello")
    assert len(server.received) == 1


def test_one_log_record_per_attempt(
    server: FaultServer, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    server.then(error(503, headers=[("Retry-After", "2")]), reset())
    caplog.set_level(logging.INFO, logger="convokit")
    with client_for(server) as client:
        client.chat(message="a message nobody should log")
    records = [r for r in caplog.records if r.name == "convokit"]
    assert len(records) == 3
    first, second, third = (record.getMessage() for record in records)
    for number, text in enumerate((first, second, third), start=1):
        assert text.startswith("POST /v1/chat ")
        assert f"attempt={number}" in text
        assert "elapsed_ms=" in text
        assert "a message nobody" not in text
    assert "status=503" in first and f"request_id={request_id_for(1)}" in first
    assert "retry_in=2.00s" in first
    assert "status=ReadError" in second and "request_id=-" in second
    assert "retry_in=" in second
    assert "status=200" in third and f"request_id={request_id_for(3)}" in third
    assert "retry_in" not in third


def test_a_2xx_with_a_valid_body_is_not_retried(server: FaultServer, waits: list[float]) -> None:
    server.then(json_reply(201, valid_body("created")))
    with client_for(server) as client:
        assert client.chat(message="Hello").reply == "created"
    assert len(server.received) == 1
