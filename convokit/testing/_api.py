"""The mock's API behaviour, without sockets: a request in, a reply out.

Everything it knows of the API it reads from the generated operation descriptors
(``convokit_generated.api.OPERATIONS``): the routes, the schemas its checks compile, the
documented error bodies whose ``type`` (and ``code``) its errors carry, and the examples
it answers with. The chat operation gets real behaviour (threads, usage,
``Idempotency-Key``); every other operation answers its documented 2xx example once the
request passes the checks, as Prism does.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

from convokit_generated.api import OPERATIONS, DocumentedResponse, Operation
from convokit_generated.api.chat import create_chat
from convokit_generated.models import ChatMessage, ChatRequest, ChatResponse, Usage
from convokit_generated.types import Unset

from .._retry import KEY_REUSED_CODE
from .._secrets import redact, redact_authorization
from ._checks import (
    Json,
    Reject,
    check_body,
    check_parameters,
    compile_checks,
    parse_json,
    short,
)
from ._faults import Fault, Faults, injected_body
from ._routes import Route, Routes

Responder = Callable[[list[dict[str, str]]], str]
"""Produces the assistant's reply from the full context: a list of ``{"role", "content"}`` dicts."""

MAX_BODY_BYTES: Final = 1024 * 1024
"""Largest request body accepted; a larger one gets the documented 413."""

# The kind of an error when the spec documents neither its status nor its class's main
# one (400 or 500): never, with openapi.yaml as it is.
_UNDOCUMENTED_TYPE: Final = "api_error"
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
class Request:
    """A request as the HTTP layer read it."""

    method: str
    target: str
    headers: dict[str, str]
    """Lower-cased names; a repeated header's values joined with ", "."""
    body: bytes
    too_large: bool = False
    """The body was over the size limit (and was not kept)."""
    framing_error: str | None = None
    """Why the request's framing (Content-Length, chunks) cannot be trusted, if it cannot."""


@dataclass(slots=True)
class Reply:
    """The answer to a request."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False
    """Close the connection after the reply."""
    drop: bool = False
    """Close the connection instead of sending the reply."""


@dataclass(slots=True)
class _IdempotentEntry:
    fingerprint: str
    answer: bytes | None  # None while the first request with this key is in progress


class MockApi:
    """The API's behaviour and state (threads, recorded requests, idempotent answers),
    shared by every connection and guarded by one lock.

    ``operations`` (default: every operation of the spec) are the routes served; the
    one named like the generated chat endpoint gets the chat behaviour.
    """

    def __init__(
        self,
        api_key: str | None = None,
        responder: Responder | None = None,
        *,
        operations: Mapping[str, Operation] = OPERATIONS,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._api_key = api_key
        self._responder = responder
        self._log = log
        self.faults = Faults()
        self._lock = threading.Lock()
        self._conversations: dict[str, list[dict[str, str]]] = {}
        self._requests: list[RecordedRequest] = []
        self._idempotency: dict[str, _IdempotentEntry] = {}
        self._routes = Routes(operations.values())
        self._checks = {
            operation.name: compile_checks(operation) for operation in operations.values()
        }
        # For an answer no operation owns (an unknown path): the first documented body.
        self._shared_errors: dict[int, tuple[Any, ...]] = {}
        for operation in operations.values():
            for status, response in operation.errors.items():
                if response.examples:
                    self._shared_errors.setdefault(status, response.examples)
        chat = next((op for op in operations.values() if op.name == create_chat.NAME), None)
        self._chat = chat
        self._conversation_field = None if chat is None else _wire_name(chat, "conversation_id")

    # -- state -------------------------------------------------------------------

    def conversations(self) -> dict[str, list[dict[str, str]]]:
        """A snapshot: conversation id -> its messages in order."""
        with self._lock:
            return {cid: [dict(m) for m in thread] for cid, thread in self._conversations.items()}

    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in order."""
        with self._lock:
            return list(self._requests)

    # -- one request ----------------------------------------------------------

    def respond(self, request: Request) -> Reply:
        """The reply to ``request`` (after any injected fault), recorded and logged."""
        request_id = "req_" + secrets.token_hex(12)
        parsed = parse_json(request.body)
        target = urlsplit(request.target)
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.target,
                    headers=_redact_headers(request.headers),
                    body=parsed.value if parsed.ok else None,
                )
            )
        fault, drop = self.faults.take()
        # Found before the fault applies: an injected error is the one its operation documents.
        route = self._routes.find(request.method, target.path)
        operation = None if route is None else route.operation
        try:
            if fault is not None:
                raise self._injected(fault, operation)
            reply = self._dispatch(request, target.path, target.query, route, parsed)
        except Reject as rejection:
            reply = self._error_reply(rejection, operation)
        except Exception as exc:  # noqa: BLE001 (a mock bug or a responder error becomes a 500)
            reply = self._error_reply(Reject(500, _describe(exc), code="mock_server_error"), None)
        # After a framing error the rest of the stream cannot be trusted as requests.
        reply.close = request.framing_error is not None
        reply.drop = drop
        reply.headers.insert(0, ("X-Request-Id", request_id))
        if self._log is not None:
            dropped = " (dropped: connection closed without a response)" if drop else ""
            self._log(f"{request.method} {target.path} {reply.status} {request_id}{dropped}")
        return reply

    def error_reply(self, status: int, message: str, code: str) -> Reply:
        """An error reply in the API's envelope, for errors found outside ``respond()``."""
        reply = self._error_reply(Reject(status, message, code=code), None)
        reply.headers.insert(0, ("X-Request-Id", "req_" + secrets.token_hex(12)))
        return reply

    def _dispatch(
        self, request: Request, path: str, query: str, route: Route | None, parsed: Json
    ) -> Reply:
        if request.framing_error is not None:
            raise Reject(400, request.framing_error, code="malformed_request")
        if route is None:
            self._refuse_route(request.method, path)
        operation = route.operation
        self._authenticate(request.headers.get("authorization"))
        if request.too_large:
            raise Reject(413, f"The request body exceeds the limit of {MAX_BODY_BYTES} bytes.")
        checks = self._checks[operation.name]
        check_parameters(checks, route.path_values, query, request.headers)
        body = check_body(operation, checks, request.headers.get("content-type"), parsed)
        if operation is self._chat:
            return self._chat_reply(operation, body, request.headers)
        return _example_reply(operation)

    def _refuse_route(self, method: str, path: str) -> NoReturn:
        allowed = self._routes.methods(path)
        if allowed:
            raise Reject(
                405,
                f"{method} is not allowed on {path}; use {', '.join(allowed)}.",
                code="method_not_allowed",
                headers=[("Allow", ", ".join(allowed))],
            )
        raise Reject(404, f"The API has no endpoint {method} {path}.", code="route_not_found")

    def _authenticate(self, authorization: str | None) -> None:
        usage = "Send your secret key as 'Authorization: Bearer sk_...'."
        if authorization is None:
            raise Reject(401, f"No API key provided. {usage}", code="missing_api_key")
        parts = authorization.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise Reject(
                401, f"Malformed Authorization header. {usage}", code="invalid_authorization"
            )
        key = parts[1]
        if key.startswith("pk_"):
            raise Reject(
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
            raise Reject(401, f"Invalid API key. {expected}")

    # -- the chat operation -----------------------------------------------------

    def _chat_reply(self, operation: Operation, body: Any, headers: Mapping[str, str]) -> Reply:
        key_parameter = operation.idempotency_key
        key = None if key_parameter is None else headers.get(key_parameter.wire_name.lower())
        status = _success(operation)[0]
        if key is None:
            return _json_reply(status, self._answer(body))
        fingerprint = json.dumps(body, sort_keys=True, separators=(",", ":"))
        with self._lock:
            entry = self._idempotency.get(key)
            if entry is None:
                self._idempotency[key] = _IdempotentEntry(fingerprint, None)
            elif entry.fingerprint != fingerprint:
                raise self._conflict(operation, reused=True)
            elif entry.answer is None:
                raise self._conflict(operation, reused=False)
            else:
                return _json_reply(status, entry.answer, [("Idempotent-Replayed", "true")])
        try:
            answer = self._answer(body)
        except BaseException:
            # Errors are not stored: the key stays free for a retry.
            with self._lock:
                del self._idempotency[key]
            raise
        with self._lock:
            self._idempotency[key].answer = answer
        return _json_reply(status, answer)

    def _conflict(self, operation: Operation, *, reused: bool) -> Reject:
        """The documented 409 for a key reused with another body, or one still in flight."""
        examples = self._error_examples(409, operation)
        for example in examples:
            if (_detail(example).get("code") == KEY_REUSED_CODE) == reused:
                return Reject(409, body=example)
        if reused:
            message = "This Idempotency-Key was already used with another request body."
            return Reject(409, message, code=KEY_REUSED_CODE)
        return Reject(409, "This Idempotency-Key's first request is still in progress.")

    def _answer(self, body: Any) -> bytes:
        request = ChatRequest.from_dict(body)
        conversation_id = (
            None if isinstance(request.conversation_id, Unset) else request.conversation_id
        )
        with self._lock:
            if conversation_id is None:
                thread: list[ChatMessage] = []
            elif conversation_id in self._conversations:
                thread = [ChatMessage.from_dict(m) for m in self._conversations[conversation_id]]
            else:
                raise Reject(
                    404,
                    f"No conversation with id {short(conversation_id)}. Omit "
                    f"{self._conversation_field} to start a new conversation.",
                    param=self._conversation_field,
                )
        history = [] if isinstance(request.chat_history, Unset) else request.chat_history
        turn = ChatMessage(role="user", content=request.message)
        context = [*history, *thread, turn]
        if self._responder is None:
            number = 1 + sum(1 for m in thread if m.role == "user")
            reply = f'You said: "{request.message}" (turn {number} of this conversation)'
        else:
            reply = self._responder([m.to_dict() for m in context])
            if not isinstance(reply, str):
                raise TypeError(f"the responder returned {type(reply).__name__}, expected str")
        prompt_tokens = sum(_tokens(m.content) for m in context)
        completion_tokens = _tokens(reply)
        with self._lock:
            if conversation_id is None:
                conversation_id = "conv_" + secrets.token_hex(8)
                while conversation_id in self._conversations:
                    conversation_id = "conv_" + secrets.token_hex(8)
                self._conversations[conversation_id] = []
            answered = ChatMessage(role="assistant", content=reply)
            self._conversations[conversation_id] += [turn.to_dict(), answered.to_dict()]
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        response = ChatResponse(reply=reply, conversation_id=conversation_id, usage=usage)
        return _dump(response.to_dict())

    # -- errors ------------------------------------------------------------------

    def _injected(self, fault: Fault, operation: Operation | None) -> Reject:
        body = injected_body(self._error_examples(fault.status, operation))
        message = "" if body is not None else f"Injected failure (HTTP {fault.status})."
        return Reject(fault.status, message, headers=fault.headers, body=body)

    def _error_examples(self, status: int, operation: Operation | None) -> tuple[Any, ...]:
        """The examples the spec gives for ``status``: those of ``operation``, else the
        first operation's that documents it."""
        if operation is not None:
            documented = operation.errors.get(status)
            if documented is not None and documented.examples:
                return documented.examples
        return self._shared_errors.get(status, ())

    def _error_reply(self, rejection: Reject, operation: Operation | None) -> Reply:
        body = rejection.body
        if body is None:
            status = rejection.status
            exact = [_detail(example) for example in self._error_examples(status, operation)]
            # A status the spec does not document takes the kind of its class's main one.
            main = self._error_examples(400 if status < 500 else 500, operation)
            kind = next(iter(exact or [_detail(example) for example in main]), {})
            detail: dict[str, Any] = {
                "type": kind.get("type", _UNDOCUMENTED_TYPE),
                "message": rejection.message,
            }
            code = rejection.code or next(iter(exact), {}).get("code")
            if code is not None:
                detail["code"] = code
            if rejection.param is not None:
                detail["param"] = rejection.param
            body = {"error": detail}
        return _json_reply(rejection.status, _dump(body), rejection.headers)


def _wire_name(operation: Operation, python_name: str) -> str | None:
    return next((f.wire_name for f in operation.body_fields if f.python_name == python_name), None)


def _success(operation: Operation) -> tuple[int, DocumentedResponse | None]:
    """The operation's first documented 2xx status and response (200, None: it has none)."""
    statuses = sorted(status for status in operation.responses if 200 <= status < 300)
    return (statuses[0], operation.responses[statuses[0]]) if statuses else (200, None)


def _example_reply(operation: Operation) -> Reply:
    """The operation's first documented 2xx answer, with its example (Prism-style)."""
    status, response = _success(operation)
    if response is None or not response.examples or status == 204:
        return Reply(status)
    example = response.examples[0]
    content_type = response.content_type or "application/json"
    if isinstance(example, str) and "json" not in content_type:
        return Reply(status, example.encode("utf-8"), [("Content-Type", content_type)])
    return Reply(status, _dump(example), [("Content-Type", content_type)])


def _json_reply(status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> Reply:
    return Reply(status, body, [("Content-Type", "application/json"), *headers])


def _detail(example: Any) -> Mapping[str, Any]:
    detail = example.get("error") if isinstance(example, Mapping) else None
    return detail if isinstance(detail, Mapping) else {}


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    redacted = {name: redact(value) for name, value in headers.items()}
    if "authorization" in redacted:
        redacted["authorization"] = redact_authorization(headers["authorization"])
    for name in _SENSITIVE_HEADERS & redacted.keys():
        redacted[name] = "(redacted)"
    return redacted


def _tokens(text: str) -> int:
    """The mock's token count of a text: ``max(1, ceil(len(text) / 4))``."""
    return max(1, math.ceil(len(text) / 4))


def _describe(exc: Exception) -> str:
    text = str(exc)
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"The mock server failed while answering ({what})."
