"""A randomized, seeded raw-socket HTTP/1.1 chat server on 127.0.0.1, for the soak test.

Where `FaultServer` follows a script, `ChaosServer` draws how to treat each request
from one seeded `random.Random` with configurable weights (`FAULTS` names them):
reset the connection before reading the request, or after processing it; stall; send
the body in small groups with gaps; answer 503 or 429 with `Retry-After` (seconds) or
`retry-after-ms`; an HTML 5xx page; a truncated or a non-JSON 200; or simply answer.

Behind the faults sits a chat API that keeps `Idempotency-Key` as openapi.yaml
describes it: a key is processed once and its answer stored; a retry with the same
key and body gets that answer replayed (even when the first answer never reached the
client); a retry that arrives while the key's first request is still being processed
gets the 409 `idempotency_key_in_use`, and the same key with another body gets the
409 `idempotency_key_reused`, both bodies taken from the spec's examples. An answer
names the request it answers (`reply` echoes the message, `conversation_id` echoes
the request's `conversationId`), and the server keeps a ledger of every key it
processed and how often, so a test can prove that no answer was given twice, lost
or swapped.

Threads interleave, so the seed fixes the mix of faults and the order they are drawn
in, not which request meets which. Bounded in time like FaultServer: every stall and
trickle is capped, the server stops by itself after `lifetime` seconds, `close()`
stops it at once.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from _fault_server import (
    MAX_STALL_SECONDS,
    Behaviour,
    Exchange,
    FaultServer,
    Received,
    error,
    html,
    json_reply,
    raw,
    reset_on_close,
    response_head,
)
from _spec import examples_of, resolve, spec

from convokit_generated.api.chat.create_chat import METHOD, PATH

FAULTS = (
    "ok",
    "reset_before_reading",
    "reset_after_processing",
    "stall",
    "trickle",
    "unavailable",
    "rate_limited",
    "html_error",
    "truncated",
    "not_json",
)
"""Every way the server can treat a request."""

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "ok": 0.40,
    "reset_before_reading": 0.06,
    "reset_after_processing": 0.08,
    "stall": 0.08,
    "trickle": 0.06,
    "unavailable": 0.06,
    "rate_limited": 0.06,
    "html_error": 0.06,
    "truncated": 0.08,
    "not_json": 0.06,
}

MAX_TRICKLE_SECONDS = 5.0
"""A trickled body takes at most this long, however many groups it is cut into."""

# Faults a gateway in front of the API answers: the API never sees those requests.
_GATEWAY_FAULTS = frozenset({"unavailable", "rate_limited", "html_error", "not_json"})
_HTML_ERROR_STATUSES = (500, 502, 504)
_TRICKLE_GROUP_BYTES = (4, 12)


def documented_errors(status: int) -> list[Any]:
    """The example bodies openapi.yaml gives for the chat operation's `status` response."""
    operation = spec()["paths"][PATH][METHOD.lower()]
    response = resolve(operation["responses"][str(status)])
    return examples_of(response["content"]["application/json"])


def documented_conflict(code: str) -> Any:
    """The spec's 409 example whose `error.code` is `code`."""
    (body,) = [body for body in documented_errors(409) if body["error"].get("code") == code]
    return body


def is_complete(request: Received) -> bool:
    """Whether the whole body arrived: a client cancelled mid-send leaves only part of it."""
    return len(request.body) == int(request.headers.get("content-length", "0") or "0")


@dataclass
class Processed:
    """One Idempotency-Key as the server's ledger has it."""

    body: Any
    """The request body (parsed) the key was first used with."""
    answer: bytes | None = None
    """The stored answer (a ChatResponse as JSON), None while the key is being processed."""
    times: int = 0
    """How many times the server processed the key: more than 1 would be a second answer."""


@dataclass(frozen=True)
class _Plan:
    """Everything drawn for one request, drawn at once under the lock."""

    fault: str
    stall_seconds: float
    trickle_group_bytes: int
    trickle_gap_seconds: float
    retry_header: tuple[str, str]
    html_status: int


class ChaosServer(FaultServer):
    """The randomized server; use as a context manager.

    `weights` maps names from FAULTS to relative weights (absent names weigh 0);
    `stall_seconds` and `trickle_gap_seconds` are (low, high) ranges to draw from.
    """

    def __init__(
        self,
        seed: int,
        weights: Mapping[str, float] = DEFAULT_WEIGHTS,
        *,
        stall_seconds: tuple[float, float] = (0.2, 1.2),
        trickle_gap_seconds: tuple[float, float] = (0.1, 0.3),
        lifetime: float = 120.0,
    ) -> None:
        unknown = set(weights) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; choose from {FAULTS}")
        self._random = random.Random(seed)
        self._weights = dict(weights)
        self._stall_seconds = stall_seconds
        self._trickle_gap_seconds = trickle_gap_seconds
        self._draw_lock = threading.Lock()
        self._ledger_lock = threading.Lock()
        self._ledger: dict[str, Processed] = {}
        self._drawn = dict.fromkeys(FAULTS, 0)
        self._in_use = json.dumps(documented_conflict("idempotency_key_in_use")).encode()
        self._reused = json.dumps(documented_conflict("idempotency_key_reused")).encode()
        self._unavailable = documented_errors(503)[0]
        self._rate_limited = documented_errors(429)[0]
        super().__init__(default=self._answer, lifetime=lifetime)

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Replaces the weights of the faults to come."""
        with self._draw_lock:
            self._weights = dict(weights)

    @property
    def ledger(self) -> dict[str, Processed]:
        """A snapshot of every Idempotency-Key processed (or being processed)."""
        with self._ledger_lock:
            return {
                key: Processed(entry.body, entry.answer, entry.times)
                for key, entry in self._ledger.items()
            }

    @property
    def drawn(self) -> dict[str, int]:
        """How often each fault was drawn so far."""
        with self._draw_lock:
            return dict(self._drawn)

    def _plan(self, faults: Iterable[str]) -> _Plan:
        with self._draw_lock:
            names = [name for name in faults if self._weights.get(name, 0) > 0]
            draw = self._random
            fault = (
                draw.choices(names, [self._weights[name] for name in names])[0] if names else "ok"
            )
            self._drawn[fault] += 1
            retry_header = (
                ("Retry-After", str(draw.randint(0, 1)))
                if draw.random() < 0.5
                else ("retry-after-ms", str(draw.randint(10, 400)))
            )
            return _Plan(
                fault=fault,
                stall_seconds=min(draw.uniform(*self._stall_seconds), MAX_STALL_SECONDS),
                trickle_group_bytes=draw.randint(*_TRICKLE_GROUP_BYTES),
                trickle_gap_seconds=draw.uniform(*self._trickle_gap_seconds),
                retry_header=retry_header,
                html_status=draw.choice(_HTML_ERROR_STATUSES),
            )

    def _admit(self, connection: socket.socket) -> bool:
        # Whether to reset unread is drawn first, on its own; how to answer a request
        # that is read is drawn after, among the other faults: together one draw.
        with self._draw_lock:
            total = sum(self._weights.values())
            before = self._weights.get("reset_before_reading", 0)
            resets = total > 0 and self._random.random() < before / total
            if resets:
                self._drawn["reset_before_reading"] += 1
        if not resets:
            return True
        # Waits for the request's first bytes, so the reset meets a request in flight.
        with contextlib.suppress(OSError):
            if connection.recv(1, socket.MSG_PEEK):
                reset_on_close(connection)
        return False

    def _answer(self, exchange: Exchange) -> bool:
        if not is_complete(exchange.request):
            return False  # the client gave up while sending: nobody is left to answer
        plan = self._plan(name for name in FAULTS if name != "reset_before_reading")
        if plan.fault in _GATEWAY_FAULTS:
            return self._gateway_fault(plan)(exchange)
        try:
            body = exchange.request.json()
        except ValueError:
            return error(400, "The body is not JSON.", error_type="invalid_request_error")(exchange)
        status, answer = self._process(exchange, body, plan)
        if status is None:
            return False  # the server is stopping
        if status != 200:
            return raw(status, answer, [("Content-Type", "application/json")])(exchange)
        return self._deliver(exchange, answer, plan)

    def _gateway_fault(self, plan: _Plan) -> Behaviour:
        if plan.fault == "unavailable":
            return json_reply(503, self._unavailable, [plan.retry_header])
        if plan.fault == "rate_limited":
            return json_reply(429, self._rate_limited, [plan.retry_header])
        if plan.fault == "html_error":
            status = plan.html_status
            return html(status, f"{status} {HTTPStatus(status).phrase}")
        page = b"<html><body>Service is up.</body></html>"
        return raw(200, page, [("Content-Type", "text/html")])

    def _process(self, exchange: Exchange, body: Any, plan: _Plan) -> tuple[int | None, bytes]:
        """The key's idempotency as openapi.yaml describes it: (status, JSON body), or
        (None, b"") when the server stops during a stall."""
        key = exchange.request.idempotency_key
        if key is None:
            return 200, self._compose(exchange.request, body)
        with self._ledger_lock:
            entry = self._ledger.get(key)
            if entry is None:
                entry = self._ledger[key] = Processed(body)
            elif entry.body != body:
                return 409, self._reused
            elif entry.answer is None:
                return 409, self._in_use
            stored = entry.answer
        # A stall while the key is new keeps it in progress (a retry meanwhile gets the
        # in-use 409); on a replay it only delays the delivery.
        if plan.fault == "stall" and exchange.stop.wait(plan.stall_seconds):
            return None, b""
        if stored is not None:
            return 200, stored
        answer = self._compose(exchange.request, body)
        with self._ledger_lock:
            entry.answer = answer
            entry.times += 1
        return 200, answer

    @staticmethod
    def _compose(request: Received, body: Any) -> bytes:
        """A ChatResponse that names the request it answers."""
        message = str(body.get("message", ""))
        prompt_tokens = len(message.split())
        return json.dumps(
            {
                "reply": f"echo: {message}",
                "conversation_id": body.get("conversationId") or f"conv_chaos_{request.index}",
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": prompt_tokens + 1,
                    "total_tokens": 2 * prompt_tokens + 1,
                },
            }
        ).encode()

    def _deliver(self, exchange: Exchange, answer: bytes, plan: _Plan) -> bool:
        """Sends a 200 `answer` the way `plan` says; returns whether to keep the connection."""
        if plan.fault == "reset_after_processing":
            reset_on_close(exchange.connection)
            return False
        if plan.fault == "truncated":
            # Content-Length promises the whole answer; half of it comes, then the close.
            _send_head(exchange, len(answer))
            exchange.send(answer[: len(answer) // 2])
            return False
        if plan.fault == "trickle":
            _send_head(exchange, len(answer))
            group = plan.trickle_group_bytes
            groups = range(0, len(answer), group)
            gap = min(plan.trickle_gap_seconds, MAX_TRICKLE_SECONDS / len(groups))
            for start in groups:
                if exchange.stop.wait(gap):
                    return False
                exchange.send(answer[start : start + group])
            return True
        return raw(200, answer, [("Content-Type", "application/json")])(exchange)


def _send_head(exchange: Exchange, content_length: int) -> None:
    """Sends a JSON 200's status line and headers, its body still to come."""
    headers = [
        ("X-Request-Id", exchange.request_id),
        ("Content-Type", "application/json"),
        ("Content-Length", str(content_length)),
    ]
    exchange.send(response_head(200, headers))
