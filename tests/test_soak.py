"""A seeded fault soak: one sync client from several threads and one async client with a
few hundred tasks (some cancelled at random moments) against ChaosServer.

Whatever the server does, every call returns its own answer or raises a ConvoKitError;
no key is processed twice; no answer is lost or swapped; no descriptor or pool slot
leaks; no call outlives its total_timeout. `make test` runs a small soak;
`make soak SEED=123 CALLS=5000` a long one (SOAK_SEED, SOAK_CALLS). A run draws a new
seed unless given one and prints it, so a failing run can be replayed.
"""

from __future__ import annotations

import json
import os
import random
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anyio
import httpx
import pytest
from _chaos_server import ChaosServer, documented_conflict, is_complete
from _fds import fds_settle_at, open_fds
from _pools import connections_in_use

import convokit
import convokit._transport
from convokit import ChatResponse, ConvoKitError

TIMEOUT = 0.5
TOTAL_TIMEOUT = 2.0
MAX_RETRIES = 3
# How far past total_timeout a call may return. The SDK's own deadline is exact; what
# is added is the OS and the event loop getting round to the woken call: on this shared
# 2-core machine, with the in-process server's threads contending for the GIL, the
# async soak's event loop was measured falling up to ~0.2 s behind (~0.7 s with
# hundreds of connections, hence ASYNC_CONNECTIONS). 0.5 s is above that and well
# below what a deadline that does not hold costs (a trickled body runs seconds past).
SCHEDULING_MARGIN = 0.5
SYNC_THREADS = 8
SYNC_CALLS = 80
ASYNC_CALLS = 300
# Calls in flight at once, however many a long soak makes, on fewer connections than
# that: calls also queue on the SDK's pool, and some are cancelled while they wait.
ASYNC_IN_FLIGHT = 150
ASYNC_CONNECTIONS = 50
CANCELLED_SHARE = 0.2
# Chaos lets some calls fail for good (retries spent, a non-JSON 200); a soak where
# (nearly) none succeeded would prove nothing about answers.
MIN_SUCCESS_SHARE = 0.25


@dataclass(frozen=True)
class Soak:
    """One soak run's seed and size."""

    seed: int
    calls: int | None
    """SOAK_CALLS when set: how many calls each soak makes."""

    def calls_or(self, default: int) -> int:
        return default if self.calls is None else self.calls

    def replay(self, calls: int) -> str:
        """How to run this soak again: part of every failure message."""
        return f"replay with: make soak SEED={self.seed} CALLS={calls}"


@dataclass(frozen=True)
class Outcome:
    """How one call ended."""

    message: str
    conversation_id: str
    result: ChatResponse | BaseException | None
    """The answer, the exception the call raised, or None when it was cancelled."""
    seconds: float
    allowed: float = TOTAL_TIMEOUT
    """How long the call may take: its total_timeout, or less when it is cancelled sooner."""


@pytest.fixture
def soak() -> Soak:
    seed = int(os.environ.get("SOAK_SEED") or random.SystemRandom().randrange(2**32))
    calls = os.environ.get("SOAK_CALLS")
    # Captured, and shown by pytest when the test fails.
    print(f"soak seed {seed}")
    return Soak(seed, int(calls) if calls else None)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def server(soak: Soak) -> Iterator[ChaosServer]:
    # Outlives any soak (make soak allows 30 minutes); the fixture closes it anyway.
    with ChaosServer(soak.seed, lifetime=1800) as running:
        yield running


def _call(part: str, soak: Soak, n: int) -> tuple[str, str]:
    """The message and conversation id of call `n`: each names its call alone."""
    return f"soak {soak.seed} {part} call {n}", f"conv_{part}_{n}"


def _describe(error: BaseException) -> str:
    """The exception with its traceback, for a failure message."""
    return "".join(traceback.format_exception(error)).strip()


def check_outcomes(soak: Soak, server: ChaosServer, outcomes: list[Outcome], calls: int) -> None:
    """What must hold after any soak, however the calls ended."""
    replay = soak.replay(calls)
    assert len(outcomes) == calls, f"{calls - len(outcomes)} calls never ended; {replay}"
    escaped = [
        outcome.result
        for outcome in outcomes
        if isinstance(outcome.result, BaseException)
        and not isinstance(outcome.result, ConvoKitError)
    ]
    assert not escaped, (
        f"{len(escaped)} calls raised something else than a ConvoKitError; {replay}\n"
        + "\n\n".join(_describe(error) for error in escaped[:3])
    )

    ledger = server.ledger
    twice = {key: entry.times for key, entry in ledger.items() if entry.times > 1}
    assert not twice, f"keys processed more than once: {twice}; {replay}"

    # Every attempt of one call carries the call's one key, and no other call's.
    keys_of: dict[str, set[str | None]] = defaultdict(set)
    for request in filter(is_complete, server.received):
        keys_of[request.json()["message"]].add(request.idempotency_key)
    several = [message for message, keys in keys_of.items() if len(keys) != 1 or None in keys]
    assert not several, f"calls that sent other than one key: {several[:5]}; {replay}"
    key_of = {message: keys.pop() for message, keys in keys_of.items()}
    assert len(set(key_of.values())) == len(key_of), f"calls shared a key; {replay}"

    answered = [outcome for outcome in outcomes if isinstance(outcome.result, ChatResponse)]
    cancelled = sum(outcome.result is None for outcome in outcomes)
    print(
        f"{len(answered)} of {calls} calls answered, {cancelled} cancelled, "
        f"{len(server.received)} requests read; faults drawn: {server.drawn}"
    )
    for outcome in answered:
        assert isinstance(outcome.result, ChatResponse)
        mine = (outcome.result.reply, outcome.result.conversation_id)
        assert mine == (f"echo: {outcome.message}", outcome.conversation_id), (
            f"{outcome.message!r} got another call's answer {mine}; {replay}"
        )
        # The answer is the one the server stored for this call's key, processed once:
        # a retry got the replay, not a second answer.
        stored = ledger[str(key_of[outcome.message])]
        assert stored.times == 1, replay
        assert stored.answer is not None
        assert json.loads(stored.answer)["reply"] == outcome.result.reply, replay
    assert len(answered) >= MIN_SUCCESS_SHARE * calls, (
        f"only {len(answered)} of {calls} calls were answered; {replay}"
    )

    late = sorted(
        (round(outcome.seconds, 2), outcome.message, _ending(outcome.result))
        for outcome in outcomes
        if outcome.seconds > outcome.allowed + SCHEDULING_MARGIN
    )
    assert not late, (
        f"{len(late)} calls ran past total_timeout={TOTAL_TIMEOUT}s (or their cancellation) "
        f"+ {SCHEDULING_MARGIN}s, the longest {late[-3:]}; {replay}"
    )


def _ending(result: ChatResponse | BaseException | None) -> str:
    """How a call ended, in a few words: what a failure message needs."""
    if isinstance(result, BaseException):
        return f"{type(result).__name__}: {result}"
    return "answered" if result is not None else "cancelled"


def _client_options(server: ChaosServer) -> dict[str, object]:
    return {
        "api_key": "sk_test_soak",
        "base_url": server.base_url,
        "timeout": TIMEOUT,
        "total_timeout": TOTAL_TIMEOUT,
        "max_retries": MAX_RETRIES,
    }


def test_sync_client_soak(soak: Soak, server: ChaosServer) -> None:
    calls = soak.calls_or(SYNC_CALLS)
    # A long soak keeps the calls per thread (and so its duration) in bounds.
    threads = max(SYNC_THREADS, min(64, calls // 100))
    fds = open_fds()
    client = convokit.create_client(**_client_options(server))

    def one(n: int) -> Outcome:
        message, conversation_id = _call("sync", soak, n)
        started = time.monotonic()
        result: ChatResponse | BaseException
        try:
            result = client.chat(message=message, conversation_id=conversation_id)
        except Exception as error:
            result = error
        return Outcome(message, conversation_id, result, time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(one, range(calls)))
    assert connections_in_use(client) == 0, soak.replay(calls)
    client.close()
    assert fds_settle_at(fds), f"descriptors left open after close(); {soak.replay(calls)}"
    check_outcomes(soak, server, outcomes, calls)


@pytest.mark.anyio
async def test_async_client_soak(
    soak: Soak, server: ChaosServer, monkeypatch: pytest.MonkeyPatch, async_backend: str
) -> None:
    monkeypatch.setattr(convokit._transport, "MAX_CONNECTIONS", ASYNC_CONNECTIONS)
    calls = soak.calls_or(ASYNC_CALLS)
    moments = random.Random(soak.seed)
    cancel_after = [
        moments.uniform(0, TOTAL_TIMEOUT) if moments.random() < CANCELLED_SHARE else None
        for _ in range(calls)
    ]
    fds = open_fds()
    client = convokit.create_async_client(**_client_options(server), http_backend=async_backend)
    in_flight = anyio.CapacityLimiter(ASYNC_IN_FLIGHT)
    outcomes: list[Outcome] = []

    async def one(n: int) -> None:
        message, conversation_id = _call("async", soak, n)
        async with in_flight:
            started = time.monotonic()
            result: ChatResponse | BaseException | None = None
            delay = cancel_after[n]
            # Only this call's own cancellation is caught here: a BaseException, or a
            # cancellation that is not this scope's, fails the task group.
            with anyio.CancelScope() as scope:
                if delay is not None:
                    scope.deadline = anyio.current_time() + delay
                try:
                    result = await client.chat(message=message, conversation_id=conversation_id)
                except Exception as error:
                    result = error
            seconds = time.monotonic() - started
            allowed = TOTAL_TIMEOUT if delay is None else min(delay, TOTAL_TIMEOUT)
            outcomes.append(Outcome(message, conversation_id, result, seconds, allowed))

    async with anyio.create_task_group() as tasks:
        for n in range(calls):
            tasks.start_soon(one, n)

    cancelled = sum(outcome.result is None for outcome in outcomes)
    assert cancelled > 0 or not any(cancel_after), f"no call was cancelled; {soak.replay(calls)}"
    assert connections_in_use(client) == 0, soak.replay(calls)
    await client.aclose()
    assert fds_settle_at(fds), f"descriptors left open after aclose(); {soak.replay(calls)}"
    check_outcomes(soak, server, outcomes, calls)


# The server the soak trusts: its idempotency is what openapi.yaml describes.


def _post(server: ChaosServer, key: str, body: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/chat", json=body, headers={"Idempotency-Key": key})


def test_the_chaos_server_replays_a_key_and_refuses_it_with_another_body() -> None:
    with ChaosServer(1, {"ok": 1}) as server:
        first = _post(server, "key-1", {"message": "hi", "conversationId": "conv_1"})
        again = _post(server, "key-1", {"message": "hi", "conversationId": "conv_1"})
        other = _post(server, "key-1", {"message": "something else"})
    assert first.status_code == again.status_code == 200
    assert (first.json()["reply"], first.json()["conversation_id"]) == ("echo: hi", "conv_1")
    assert again.content == first.content
    assert other.status_code == 409
    assert other.json() == documented_conflict("idempotency_key_reused")
    assert server.ledger["key-1"].times == 1


def test_the_chaos_server_answers_a_key_in_progress_with_the_in_use_409() -> None:
    with ChaosServer(2, {"stall": 1}, stall_seconds=(1.0, 1.0)) as server:
        with ThreadPoolExecutor(max_workers=1) as pool:
            stalled = pool.submit(_post, server, "key-2", {"message": "slow"})
            time.sleep(0.3)  # the first request is in its stall
            during = _post(server, "key-2", {"message": "slow"})
            first = stalled.result(timeout=10)
        server.set_weights({"ok": 1})
        after = _post(server, "key-2", {"message": "slow"})
    assert during.status_code == 409
    assert during.json() == documented_conflict("idempotency_key_in_use")
    assert first.status_code == after.status_code == 200
    assert after.content == first.content
    assert server.ledger["key-2"].times == 1


def test_the_chaos_server_replays_an_answer_whose_connection_was_reset() -> None:
    with ChaosServer(3, {"reset_after_processing": 1}) as server:
        with pytest.raises(httpx.TransportError):
            _post(server, "key-3", {"message": "lost on the way back"})
        server.set_weights({"ok": 1})
        retried = _post(server, "key-3", {"message": "lost on the way back"})
    assert retried.json()["reply"] == "echo: lost on the way back"
    assert server.ledger["key-3"].times == 1
