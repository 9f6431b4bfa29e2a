"""A local ConvoKit API for demos and tests: what stripe-mock is to Stripe.

Import it explicitly (``import convokit`` does not load it)::

    from convokit import create_client
    from convokit.testing import MockServer

    with MockServer() as server:
        client = create_client("sk_test_123", base_url=server.base_url)
        res = client.chat(message="Hello")
        assert server.conversations[res.conversation_id][0]["content"] == "Hello"

The server follows ``openapi.yaml``: it serves ``POST /v1/chat`` on a background
thread, checks the ``Authorization: Bearer sk_...`` header, validates request
bodies with the rules of the ``ChatRequest`` schema, threads conversations by
``conversationId``, honours ``Idempotency-Key``, and answers every error with the
documented ``{"error": {"type", "message", "code"?, "param"?}}`` envelope. It uses
the standard library only (plus the generated ``convokit_generated`` tables), so it
adds no dependency to a user's test suite.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import re
import secrets
import selectors
import shlex
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

from convokit_generated.api.chat import create_chat
from convokit_generated.models.chat_message_role import CHAT_MESSAGE_ROLE_VALUES

from ._config import API_KEY_ENV, BASE_URL_ENV

__all__ = ["TEST_KEY", "MockServer", "RecordedRequest", "Responder", "run_mock_server"]

TEST_KEY: Final = "sk_test_123"
"""A secret key for tests: ``MockServer()`` accepts any ``sk_...`` key, and this is the one
``convokit mock-server`` and the ``convokit_mock`` pytest fixture hand out."""

Responder = Callable[[list[dict[str, str]]], str]
"""Produces the assistant's reply from the full context: a list of ``{"role", "content"}`` dicts."""

MAX_BODY_BYTES: Final = 1024 * 1024
"""Largest request body accepted; a larger one gets 413 ``request_too_large``."""

# An oversized body is still read (and thrown away) up to this size: answering
# while the client is still sending makes most clients see a reset connection
# instead of the 413, which would defeat the point of a documented error.
_DRAIN_LIMIT: Final = 16 * MAX_BODY_BYTES
_READ_CHUNK: Final = 64 * 1024
_IDEMPOTENCY_KEY_MAX: Final = 255

# The error `type` the spec documents for each status (components/responses in openapi.yaml).
_ERROR_TYPES: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "idempotency_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
}

# The two Idempotency-Key conflicts, as openapi.yaml's Conflict response shows them.
_KEY_IN_USE: Final = {
    "message": (
        "A request with this Idempotency-Key is still in progress. Retry after it completes."
    ),
    "code": "idempotency_key_in_use",
}
_KEY_REUSED: Final = {
    "message": "This Idempotency-Key was used with a different request body.",
    "code": "idempotency_key_reused",
}

# What fail_next() answers: the example error of each documented response in openapi.yaml.
_INJECTED_ERRORS: Final[dict[int, dict[str, str]]] = {
    400: {
        "message": "message: must be a non-empty string",
        "code": "invalid_value",
        "param": "message",
    },
    401: {
        "message": "Invalid API key. Use a secret key (sk_live_... or sk_test_...).",
        "code": "invalid_api_key",
    },
    403: {"message": "This key may not use instance 'my-bot'.", "param": "instanceId"},
    404: {
        "message": "No conversation with id 'conv_unknown'.",
        "code": "conversation_not_found",
        "param": "conversationId",
    },
    # A conflict that passes, as an injected fault does: the key's first request in flight.
    409: _KEY_IN_USE,
    413: {"message": "The request body exceeds 1 MiB."},
    422: {
        "message": "The conversation is too long for the model's context window.",
        "code": "context_length_exceeded",
    },
    429: {"message": "Rate limit exceeded."},
    500: {"message": "An internal error occurred."},
    503: {"message": "The service is temporarily overloaded."},
}

_CHAT_MESSAGE_FIELDS: Final = ("role", "content")
_KEY_PREFIX = re.compile(r"(?:sk|pk)_(?:(?:live|test)_)?")
_DIGITS = re.compile(r"[0-9]+")
_SENSITIVE_HEADERS: Final = frozenset({"proxy-authorization", "cookie"})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the mock server received, kept in ``MockServer.requests``.

    ``method`` is the HTTP method; ``path`` the request target as sent (query
    included); ``headers`` maps lower-cased header names to values, with the
    ``Authorization`` value redacted (``"Bearer sk_test_...(redacted)"``) so the
    key appears nowhere; ``body`` is the parsed JSON body, or None when the body
    was empty, not JSON, or too large to read.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any | None


@dataclass(slots=True)
class _Incoming:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    too_large: bool = False
    framing_error: str | None = None


@dataclass(slots=True)
class _Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False
    drop: bool = False


@dataclass(slots=True)
class _Fault:
    status: int
    retry_after: int | None


@dataclass(slots=True)
class _IdempotentEntry:
    fingerprint: str
    answer: bytes | None  # None while the first request with this key is in progress


class _Reject(Exception):
    """An error answer, raised to leave request handling early."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or []


def _error_type(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def _error_body(status: int, message: str, code: str | None, param: str | None) -> bytes:
    detail: dict[str, str] = {"type": _error_type(status), "message": message}
    if code is not None:
        detail["code"] = code
    if param is not None:
        detail["param"] = param
    return _dump({"error": detail})


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON; the real API refuses them.
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(raw: bytes) -> tuple[bool, Any, str]:
    """(ok, value, problem) for a request body."""
    if not raw:
        return False, None, "the body is empty"
    try:
        return True, json.loads(raw.decode("utf-8"), parse_constant=_reject_constant), ""
    except UnicodeDecodeError:
        return False, None, "the body is not UTF-8"
    except ValueError as exc:
        return False, None, str(exc)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "an empty string" if value == "" else "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _tokens(text: str) -> int:
    """The mock's token count of a text: ``max(1, ceil(len(text) / 4))``."""
    return max(1, math.ceil(len(text) / 4))


def _redact_authorization(value: str) -> str:
    parts = value.split(None, 1)
    if len(parts) != 2:
        return "(redacted)"
    scheme, credential = parts[0], parts[1].strip()
    match = _KEY_PREFIX.match(credential)
    # Keep the key's kind (sk_test_, pk_live_, ...) for debugging, but only when
    # something follows it, so the redacted text never equals the whole key.
    prefix = match.group(0) if match and len(credential) > match.end() else ""
    return f"{scheme} {prefix}...(redacted)"


def _redact_headers(headers: dict[str, str]) -> dict[str, str]:
    redacted = dict(headers)
    if "authorization" in redacted:
        redacted["authorization"] = _redact_authorization(redacted["authorization"])
    for name in _SENSITIVE_HEADERS & redacted.keys():
        redacted[name] = "(redacted)"
    return redacted


def _check_non_empty_string(name: str, value: Any) -> None:
    if not isinstance(value, str) or value == "":
        raise _Reject(
            400,
            f"{name}: must be a non-empty string (got {_json_type(value)})",
            code="invalid_value",
            param=name,
        )


def _check_chat_history(name: str, value: Any) -> None:
    def bad(where: str, problem: str) -> _Reject:
        return _Reject(400, f"{where}: {problem}", code="invalid_value", param=name)

    if not isinstance(value, list):
        raise bad(name, f"must be an array of {{role, content}} objects (got {_json_type(value)})")
    roles = ", ".join(repr(role) for role in sorted(CHAT_MESSAGE_ROLE_VALUES))
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, dict):
            raise bad(where, f"must be an object with role and content (got {_json_type(item)})")
        for key in item:
            if key not in _CHAT_MESSAGE_FIELDS:
                raise bad(
                    f"{where}.{key}", "unknown field; a chat message has only role and content"
                )
        for key in _CHAT_MESSAGE_FIELDS:
            if key not in item:
                raise bad(f"{where}.{key}", "is required")
        role = item["role"]
        if not isinstance(role, str) or role not in CHAT_MESSAGE_ROLE_VALUES:
            got = _short(role) if isinstance(role, str) else _json_type(role)
            raise bad(f"{where}.role", f"must be one of {roles} (got {got})")
        if not isinstance(item["content"], str):
            raise bad(f"{where}.content", f"must be a string (got {_json_type(item['content'])})")


# Type rules by wire name. A field the spec gains later (and the generated
# BODY_FIELDS lists) but that is not here is accepted with any JSON value.
_FIELD_RULES: Final[dict[str, Callable[[str, Any], None]]] = {
    "message": _check_non_empty_string,
    "conversationId": _check_non_empty_string,
    "widgetId": _check_non_empty_string,
    "instanceId": _check_non_empty_string,
    "chatHistory": _check_chat_history,
}


def _validate_body(body: dict[str, Any]) -> None:
    """Raise _Reject(400) for the first way ``body`` breaks the ChatRequest schema."""
    # Read at request time, not import time, so the mock always follows the generated tables.
    python_to_wire = dict(create_chat.BODY_FIELDS)
    allowed = set(python_to_wire.values())
    for name in body:
        if name not in allowed:
            hint = python_to_wire.get(name) or next(
                iter(difflib.get_close_matches(name, sorted(allowed), n=1)), None
            )
            did_you_mean = f" Did you mean {hint!r}?" if hint else ""
            raise _Reject(
                400,
                f"{name}: unknown field.{did_you_mean} "
                f"Allowed fields: {', '.join(sorted(allowed))}.",
                code="unknown_field",
                param=name,
            )
    for python_name in sorted(create_chat.REQUIRED_BODY_FIELDS):
        wire = python_to_wire.get(python_name, python_name)
        if wire not in body:
            raise _Reject(400, f"{wire}: is required", code="missing_field", param=wire)
    for name, value in body.items():
        rule = _FIELD_RULES.get(name)
        if rule is not None:
            rule(name, value)


class MockServer:
    """A local ConvoKit chat API on a background thread, for demos and tests.

    ``MockServer(api_key=None, responder=None, host="127.0.0.1", port=0, *, log=None)``:
    ``api_key=None`` accepts any secret key (``sk_...``), a given key only that key;
    ``responder(messages) -> str`` replaces the default reply; ``port=0`` picks a
    free port; ``log`` receives one line per request (method, path, status,
    request id); nothing is logged by default.

    Use it as a context manager (or ``start()`` / ``close()``); ``base_url`` is the
    address to give the client. State (``conversations``, ``requests``) is shared by
    all connections and guarded by one lock.

    The default reply is deterministic and shows what was heard, e.g.
    ``'You said: "Hi" (turn 2 of this conversation)'``, where the turn counts the
    user messages of the stored thread, this one included.

    ``usage`` is a deterministic approximation of a tokenizer:
    ``tokens(text) = max(1, ceil(len(text) / 4))``; ``prompt_tokens`` is the sum of
    ``tokens(content)`` over the context (the request's ``chatHistory``, then the
    stored thread, then the new message: the list a responder receives);
    ``completion_tokens = tokens(reply)``; ``total_tokens`` is their sum.

    Requests to one conversation run concurrently: each sees the thread as it
    was when it arrived, and its two turns are appended when its reply is ready.
    """

    def __init__(
        self,
        api_key: str | None = None,
        responder: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if api_key is not None and not (api_key.startswith("sk_") and len(api_key) > 3):
            raise ValueError(
                "MockServer(api_key=...) must be a secret key such as 'sk_test_123' "
                "(the real API refuses every other kind of key)"
            )
        self._api_key = api_key
        self._responder = responder
        self._host = host
        self._port = port
        self._log = log
        self._lock = threading.Lock()
        self._conversations: dict[str, list[dict[str, str]]] = {}
        self._requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._drops = 0
        self._idempotency: dict[str, _IdempotentEntry] = {}
        # Accepted connections and the thread serving each (None until it starts).
        self._connections: dict[socket.socket, threading.Thread | None] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and serve on a daemon thread; returns the server itself."""
        if self._closed:
            raise RuntimeError("this MockServer was closed; create a new one")
        if self._httpd is not None:
            raise RuntimeError("this MockServer is already running")
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.mock = self
        self._httpd = httpd
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve,
            args=(httpd, self._wake_reader),
            name=f"convokit-mock-server:{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    @staticmethod
    def _serve(httpd: _HTTPServer, wake: socket.socket) -> None:
        # Not serve_forever(): its shutdown() waits up to a poll interval, and a test
        # suite starts and stops many servers. A byte on `wake` stops this at once.
        with selectors.DefaultSelector() as selector:
            selector.register(httpd.socket, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if wake in ready:
                    return
                httpd.handle_request()

    def close(self) -> None:
        """Stop serving, close open connections and join the server thread (idempotent)."""
        self._closed = True
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._httpd = None
        if self._wake_writer is not None:
            self._wake_writer.send(b"x")
        thread.join()
        httpd.server_close()
        for wake in (self._wake_reader, self._wake_writer):
            if wake is not None:
                wake.close()
        with self._lock:
            open_connections = dict(self._connections)
        # Keep-alive connections would otherwise keep answering from a pool after close().
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for handler_thread in open_connections.values():
            if handler_thread is not None:
                handler_thread.join(timeout=5)

    def __enter__(self) -> Self:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "not running"
        return f"<MockServer {where}>"

    # -- what tests look at --------------------------------------------------

    @property
    def base_url(self) -> str:
        """``"http://127.0.0.1:<port>"``: the URL to pass to the client as ``base_url``."""
        if self._httpd is None:
            raise RuntimeError("MockServer is not running: call start() or use `with MockServer()`")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def conversations(self) -> dict[str, list[dict[str, str]]]:
        """A snapshot: conversation id -> its ``{"role", "content"}`` messages in order."""
        with self._lock:
            return {cid: [dict(m) for m in thread] for cid, thread in self._conversations.items()}

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, failed and dropped ones included, in order."""
        with self._lock:
            return list(self._requests)

    # -- fault injection -----------------------------------------------------

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` and its documented error body.

        The request is recorded but not processed (no turn is stored).
        ``retry_after`` (seconds) adds a ``Retry-After`` header. Calls queue up in
        order; a queued failure is used before a queued ``drop_next``. A 409 is the
        passing conflict (``idempotency_key_in_use``, which clients retry); the final
        one (``idempotency_key_reused``) is what reusing a key with another body gets.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next(status={status}): status must be an HTTP error (400-599)")
        if times < 1:
            raise ValueError(f"fail_next(times={times}): times must be at least 1")
        if retry_after is not None and (isinstance(retry_after, bool) or retry_after < 0):
            raise ValueError(f"fail_next(retry_after={retry_after}): must be seconds >= 0")
        with self._lock:
            self._faults.extend(_Fault(status, retry_after) for _ in range(times))

    def drop_next(self, times: int = 1) -> None:
        """Process the next ``times`` requests fully, then close the connection unanswered.

        The turn is stored and an idempotent answer saved, as if the response had
        been lost on the network: a retry with the same ``Idempotency-Key`` gets it.
        """
        if times < 1:
            raise ValueError(f"drop_next(times={times}): times must be at least 1")
        with self._lock:
            self._drops += times

    # -- request handling (called on the connection's thread) -----------------

    def _connection_accepted(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections[connection] = None

    def _connection_served(self, connection: socket.socket) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections[connection] = threading.current_thread()

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.pop(connection, None)

    def _respond(self, incoming: _Incoming) -> _Reply:
        request_id = "req_" + secrets.token_hex(12)
        ok, value, problem = _parse_json(incoming.body)
        recorded = RecordedRequest(
            method=incoming.method,
            path=incoming.target,
            headers=_redact_headers(incoming.headers),
            body=value if ok else None,
        )
        with self._lock:
            self._requests.append(recorded)
            fault = self._faults.popleft() if self._faults else None
            drop = fault is None and self._drops > 0
            if drop:
                self._drops -= 1
        try:
            if fault is not None:
                raise _injected(fault)
            reply = self._dispatch(incoming, ok, value, problem)
        except _Reject as rejection:
            reply = _Reply(
                rejection.status,
                _error_body(rejection.status, rejection.message, rejection.code, rejection.param),
                list(rejection.headers),
            )
        except Exception as exc:  # noqa: BLE001 (a mock bug or a responder error becomes a 500)
            reply = _Reply(500, _error_body(500, _describe(exc), "mock_server_error", None))
        # After a framing error the rest of the stream cannot be trusted as requests.
        reply.close = incoming.framing_error is not None
        reply.drop = drop
        reply.headers[:0] = [("Content-Type", "application/json"), ("X-Request-Id", request_id)]
        if self._log is not None:
            path = urlsplit(incoming.target).path
            dropped = " (dropped: connection closed without a response)" if drop else ""
            self._log(f"{incoming.method} {path} {reply.status} {request_id}{dropped}")
        return reply

    def _dispatch(self, incoming: _Incoming, ok: bool, body: Any, problem: str) -> _Reply:
        if incoming.framing_error is not None:
            raise _Reject(400, incoming.framing_error, code="malformed_request")
        path = urlsplit(incoming.target).path
        if path != create_chat.PATH:
            raise _Reject(
                404,
                f"No endpoint {incoming.method} {path}. "
                f"The ConvoKit API has one: {create_chat.METHOD} {create_chat.PATH}.",
                code="route_not_found",
            )
        if incoming.method != create_chat.METHOD:
            raise _Reject(
                405,
                f"{incoming.method} is not allowed on {path}; use {create_chat.METHOD}.",
                code="method_not_allowed",
                headers=[("Allow", create_chat.METHOD)],
            )
        self._authenticate(incoming.headers.get("authorization"))
        if incoming.too_large:
            raise _Reject(413, f"The request body exceeds 1 MiB ({MAX_BODY_BYTES} bytes).")
        idempotency_key = incoming.headers.get("idempotency-key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= _IDEMPOTENCY_KEY_MAX:
            raise _Reject(
                400,
                f"Idempotency-Key: must be 1 to {_IDEMPOTENCY_KEY_MAX} characters "
                f"(got {len(idempotency_key)})",
                code="invalid_value",
                param="Idempotency-Key",
            )
        content_type = incoming.headers.get("content-type")
        if content_type is not None:
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type != "application/json" and not media_type.endswith("+json"):
                raise _Reject(
                    400,
                    f"Content-Type must be application/json (got {_short(media_type)}).",
                    code="unsupported_content_type",
                )
        if not ok:
            raise _Reject(
                400, f"The request body must be a JSON object ({problem}).", code="invalid_json"
            )
        if not isinstance(body, dict):
            raise _Reject(
                400,
                f"The request body must be a JSON object (got {_json_type(body)}).",
                code="invalid_body",
            )
        _validate_body(body)
        return self._chat(body, idempotency_key)

    def _authenticate(self, authorization: str | None) -> None:
        usage = "Send your secret key as 'Authorization: Bearer sk_...'."
        if authorization is None:
            raise _Reject(401, f"No API key provided. {usage}", code="missing_api_key")
        parts = authorization.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise _Reject(
                401, f"Malformed Authorization header. {usage}", code="invalid_authorization"
            )
        key = parts[1]
        if key.startswith("pk_"):
            raise _Reject(
                401,
                "This is a public key (pk_...). Public keys are for the browser widget; "
                "the server API needs a secret key (sk_live_... or sk_test_...). "
                "Keep the secret key on your server.",
                code="secret_key_required",
            )
        if self._api_key is None:
            valid = key.startswith("sk_") and len(key) > 3
        else:
            valid = secrets.compare_digest(key.encode(), self._api_key.encode())
        if not valid:
            expected = (
                "This mock server accepts only the secret key it was started with."
                if self._api_key is not None and key.startswith("sk_")
                else "Use a secret key (sk_live_... or sk_test_...)."
            )
            raise _Reject(401, f"Invalid API key. {expected}", code="invalid_api_key")

    def _chat(self, body: dict[str, Any], idempotency_key: str | None) -> _Reply:
        if idempotency_key is None:
            return _Reply(200, self._answer(body))
        fingerprint = json.dumps(body, sort_keys=True, separators=(",", ":"))
        with self._lock:
            entry = self._idempotency.get(idempotency_key)
            if entry is None:
                self._idempotency[idempotency_key] = _IdempotentEntry(fingerprint, None)
            elif entry.fingerprint != fingerprint:
                raise _Reject(409, _KEY_REUSED["message"], code=_KEY_REUSED["code"])
            elif entry.answer is None:
                raise _Reject(409, _KEY_IN_USE["message"], code=_KEY_IN_USE["code"])
            else:
                return _Reply(200, entry.answer, [("Idempotent-Replayed", "true")])
        try:
            answer = self._answer(body)
        except BaseException:
            # Errors are not stored: the key stays free for a retry.
            with self._lock:
                del self._idempotency[idempotency_key]
            raise
        with self._lock:
            self._idempotency[idempotency_key].answer = answer
        return _Reply(200, answer)

    def _answer(self, body: dict[str, Any]) -> bytes:
        message: str = body["message"]
        conversation_id: str | None = body.get("conversationId")
        with self._lock:
            if conversation_id is None:
                thread: list[dict[str, str]] = []
            elif conversation_id in self._conversations:
                thread = [dict(m) for m in self._conversations[conversation_id]]
            else:
                raise _Reject(
                    404,
                    f"No conversation with id {_short(conversation_id)}. Omit conversationId "
                    "to start a new conversation.",
                    code="conversation_not_found",
                    param="conversationId",
                )
        history = [
            {"role": m["role"], "content": m["content"]} for m in body.get("chatHistory", [])
        ]
        turn = {"role": "user", "content": message}
        context = [*history, *thread, turn]
        if self._responder is None:
            number = 1 + sum(1 for m in thread if m["role"] == "user")
            reply = f'You said: "{message}" (turn {number} of this conversation)'
        else:
            reply = self._responder([dict(m) for m in context])
            if not isinstance(reply, str):
                raise TypeError(f"the responder returned {type(reply).__name__}, expected str")
        prompt_tokens = sum(_tokens(m["content"]) for m in context)
        completion_tokens = _tokens(reply)
        with self._lock:
            if conversation_id is None:
                conversation_id = "conv_" + secrets.token_hex(8)
                while conversation_id in self._conversations:
                    conversation_id = "conv_" + secrets.token_hex(8)
                self._conversations[conversation_id] = []
            self._conversations[conversation_id] += [turn, {"role": "assistant", "content": reply}]
        return _dump(
            {
                "reply": reply,
                "conversation_id": conversation_id,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )


def _injected(fault: _Fault) -> _Reject:
    detail = _INJECTED_ERRORS.get(fault.status, {})
    message = detail.get("message", f"Injected failure (HTTP {fault.status}).")
    if fault.retry_after is not None and fault.status in (429, 503):
        message = f"{message.rstrip('.')}. Retry after {fault.retry_after} seconds."
    headers = [] if fault.retry_after is None else [("Retry-After", str(fault.retry_after))]
    return _Reject(
        fault.status,
        message,
        code=detail.get("code"),
        param=detail.get("param"),
        headers=headers,
    )


def _describe(exc: Exception) -> str:
    text = str(exc)
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"The mock server failed while answering ({what})."


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # handle_request() runs only once the socket is readable; the timeout just
    # bounds the wait if that connection vanished before accept().
    timeout = 1.0
    mock: MockServer

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered here, on the accepting thread, so close() knows every connection.
        self.mock._connection_accepted(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.mock._connection_closed(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response are normal here; never print tracebacks.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm the
        # second one waits for the client's delayed ACK (~40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.mock._connection_served(self.connection)

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Every method (GET, DELETE, even made-up ones) reaches the router, so an
        # unsupported one gets the JSON 405/404 instead of http.server's HTML 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        incoming = self._read_request()
        reply = self.server.mock._respond(incoming)
        if reply.drop:
            self.close_connection = True
            return
        if reply.close:
            self.close_connection = True
        self._write(reply)

    def _read_request(self) -> _Incoming:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        incoming = _Incoming(self.command, self.path, headers, b"")
        transfer_encoding = headers.get("transfer-encoding")
        content_length = headers.get("content-length")
        if transfer_encoding is not None:
            if transfer_encoding.strip().lower() == "chunked":
                self._read_chunked(incoming)
            else:
                incoming.framing_error = f"Unsupported Transfer-Encoding {transfer_encoding!r}."
        elif content_length is not None:
            if _DIGITS.fullmatch(content_length.strip()) is None:
                incoming.framing_error = f"Invalid Content-Length {_short(content_length)}."
            else:
                self._read_sized(incoming, int(content_length))
        return incoming

    def _read_sized(self, incoming: _Incoming, length: int) -> None:
        if length <= MAX_BODY_BYTES:
            incoming.body = self.rfile.read(length)
            if len(incoming.body) < length:
                incoming.framing_error = "The request body ended before its Content-Length."
            return
        incoming.too_large = True
        if length > _DRAIN_LIMIT:
            self.close_connection = True
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, _READ_CHUNK))
            if not chunk:
                self.close_connection = True
                return
            remaining -= len(chunk)

    def _read_chunked(self, incoming: _Incoming) -> None:
        body = bytearray()
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                incoming.framing_error = "Malformed chunked request body."
                return
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the mock needs
                break
            total += size
            if total > _DRAIN_LIMIT:
                incoming.too_large = True
                self.close_connection = True
                return
            data = self.rfile.read(size)
            self.rfile.readline(8)
            if len(data) < size:
                incoming.framing_error = "The chunked request body ended early."
                return
            if total <= MAX_BODY_BYTES:
                body += data
        if total > MAX_BODY_BYTES:
            incoming.too_large = True
        else:
            incoming.body = bytes(body)

    def _write(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server calls this for requests it cannot parse; answer in the API's envelope.
        self.close_connection = True
        text = message or self.responses.get(code, ("Error",))[0]
        body = _error_body(code, f"{text}.", "malformed_request", None)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", "req_" + secrets.token_hex(12))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def version_string(self) -> str:
        return "ConvoKitMock/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        # Silent by default; MockServer(log=...) gets one line per request instead.
        return


def run_mock_server(
    host: str,
    port: int,
    *,
    api_key: str | None = None,
    fail_status: int | None = None,
    fail_times: int = 1,
) -> int:
    """Run a MockServer in the foreground until Ctrl-C; the body of ``convokit mock-server``.

    Prints ``ConvoKit mock server on http://HOST:PORT (Ctrl-C to stop)`` to stdout
    (the real port when ``port`` is 0), then the shell lines that point the CLI and
    the SDK at it: ``export CONVOKIT_BASE_URL=...`` and ``export CONVOKIT_SECRET_KEY=...``
    (``api_key``, or ``TEST_KEY`` when any secret key is accepted); then one line per
    request to stderr. ``api_key`` and ``fail_status`` / ``fail_times`` are
    MockServer's ``api_key`` and ``fail_next(status, times)``. Returns 0 after Ctrl-C,
    1 if the address cannot be bound; raises ValueError for a bad key or status.
    """

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    server = MockServer(api_key=api_key, host=host, port=port, log=log)
    if fail_status is not None:
        server.fail_next(fail_status, times=fail_times)
    try:
        server.start()
    except OSError as exc:
        print(
            f"convokit mock-server: cannot listen on {host}:{port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    try:
        print(f"ConvoKit mock server on {server.base_url} (Ctrl-C to stop)")
        print(f"export {BASE_URL_ENV}={shlex.quote(server.base_url)}")
        print(f"export {API_KEY_ENV}={shlex.quote(api_key or TEST_KEY)}", flush=True)
        if fail_status is not None:
            log(f"(the next {fail_times} request(s) will be answered with {fail_status})")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
