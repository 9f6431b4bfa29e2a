"""convokit.testing.MockServer over real HTTP on 127.0.0.1, checked against openapi.yaml."""

from __future__ import annotations

import http.client
import json
import math
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from _spec import ROOT, documented_errors, schema_validator
from _strategies import chat_body_schema, chat_operation, valid_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit._retry import KEY_REUSED_CODE
from convokit.testing import MAX_BODY_BYTES, MockServer, RecordedRequest, run_mock_server
from convokit_generated.api import OPERATIONS
from convokit_generated.api.chat import create_chat

KEY = "sk_test_mockserver_4f9a2b7c"
AUTH = {"Authorization": f"Bearer {KEY}"}
AUTH_LINE = f"Authorization: Bearer {KEY}\r\n".encode()
REQUEST_ID = re.compile(r"req_[0-9a-f]+")

CHAT_REQUEST = schema_validator("ChatRequest")
CHAT_RESPONSE = schema_validator("ChatResponse")
ERROR = schema_validator("Error")


def _documented_error_types() -> dict[int, str]:
    """Status -> error type, from the example of each error response in openapi.yaml."""
    return {
        int(status): documented_errors(int(status))[0]["type"]
        for status in chat_operation()["responses"]
        if int(status) >= 400
    }


ERROR_TYPES = _documented_error_types()
CONVERSATION_ID = create_chat.BODY_FIELDS["conversation_id"]
"""The wire name of the field that threads a conversation."""
IDEMPOTENCY_KEY = OPERATIONS[create_chat.NAME].idempotency_key
assert IDEMPOTENCY_KEY is not None, "the chat operation declares an Idempotency-Key header"


# Every request here is plain HTTP to 127.0.0.1, but each httpx.Client builds a TLS
# context (~0.1 s) unless given one: share one so the file stays fast.
TLS = ssl.create_default_context()


def new_client(**kwargs: Any) -> httpx.Client:
    kwargs.setdefault("timeout", 5)
    return httpx.Client(verify=TLS, **kwargs)


def check(response: httpx.Response) -> Any:
    """Asserts what every answer must satisfy, then returns the JSON body."""
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    body = response.json()
    if response.status_code == 200:
        CHAT_RESPONSE.validate(body)
    else:
        ERROR.validate(body)
        assert set(body) == {"error"}
        assert set(body["error"]) <= {"type", "message", "code", "param"}
        if response.status_code in ERROR_TYPES:
            assert body["error"]["type"] == ERROR_TYPES[response.status_code]
    return body


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer() as mock:
        yield mock


@pytest.fixture
def client(server: MockServer) -> Iterator[httpx.Client]:
    with new_client(base_url=server.base_url, headers=AUTH, timeout=5) as http:
        yield http


def chat(client: httpx.Client, body: Any, **kwargs: Any) -> httpx.Response:
    return client.post("/v1/chat", json=body, **kwargs)


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    detail: dict[str, str] = check(response)["error"]
    return detail


# -- threads and replies ---------------------------------------------------------


def test_new_conversation_gets_an_id_a_deterministic_reply_and_usage(
    server: MockServer, client: httpx.Client
) -> None:
    response = chat(client, {"message": "What are your support hours?"})
    assert response.status_code == 200
    body = check(response)
    reply = 'You said: "What are your support hours?" (turn 1 of this conversation)'
    assert body["reply"] == reply
    assert re.fullmatch(r"conv_[0-9a-f]+", body["conversation_id"])
    prompt = tokens("What are your support hours?")
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": tokens(reply),
        "total_tokens": prompt + tokens(reply),
    }
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 18, "total_tokens": 25}
    assert server.conversations == {
        body["conversation_id"]: [
            {"role": "user", "content": "What are your support hours?"},
            {"role": "assistant", "content": reply},
        ]
    }
    assert "idempotent-replayed" not in response.headers


def test_follow_up_appends_to_the_thread(server: MockServer, client: httpx.Client) -> None:
    first = check(chat(client, {"message": "Hi"}))
    conversation_id = first["conversation_id"]
    second = check(chat(client, {"message": "And on weekends?", "conversationId": conversation_id}))
    assert second["conversation_id"] == conversation_id
    assert second["reply"] == 'You said: "And on weekends?" (turn 2 of this conversation)'
    thread = ["Hi", first["reply"], "And on weekends?"]
    assert second["usage"]["prompt_tokens"] == sum(tokens(text) for text in thread)
    assert [m["content"] for m in server.conversations[conversation_id]] == [
        *thread,
        second["reply"],
    ]
    assert [m["role"] for m in server.conversations[conversation_id]] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    other = check(chat(client, {"message": "Hi"}))
    assert other["conversation_id"] != conversation_id
    assert len(server.conversations) == 2


def test_unknown_conversation_is_404(server: MockServer, client: httpx.Client) -> None:
    error = error_of(chat(client, {"message": "Hi", CONVERSATION_ID: "conv_unknown"}), 404)
    # The code of the spec's own example of this answer, and the field at fault.
    assert error["code"] == documented_errors(404)[0]["code"]
    assert error["param"] == CONVERSATION_ID
    assert "conv_unknown" in error["message"]
    assert server.conversations == {}


def test_responder_gets_history_then_thread_then_message(client: httpx.Client) -> None:
    seen: list[list[dict[str, str]]] = []

    def responder(messages: list[dict[str, str]]) -> str:
        seen.append(messages)
        return f"{len(messages)} messages"

    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Earlier question"},
    ]
    with MockServer(responder=responder) as mock, new_client(headers=AUTH) as http:
        first = check(http.post(f"{mock.base_url}/v1/chat", json={"message": "One"}))
        assert first["reply"] == "1 messages"
        body = {
            "message": "Two",
            "conversationId": first["conversation_id"],
            "chatHistory": history,
        }
        second = check(http.post(f"{mock.base_url}/v1/chat", json=body))
    context = [
        *history,
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "1 messages"},
        {"role": "user", "content": "Two"},
    ]
    assert seen[1] == context
    assert second["reply"] == "5 messages"
    assert second["usage"]["prompt_tokens"] == sum(tokens(m["content"]) for m in context)
    assert second["usage"]["completion_tokens"] == tokens("5 messages")
    # chatHistory is context for this turn only; the stored thread holds the turns.
    stored = [*context[2:], {"role": "assistant", "content": "5 messages"}]
    assert mock.conversations[first["conversation_id"]] == stored


@pytest.mark.parametrize("outcome", ["raises", "not a string"])
def test_a_failing_responder_is_a_500_and_stores_nothing(outcome: str) -> None:
    def responder(messages: list[dict[str, str]]) -> Any:
        if outcome == "raises":
            raise ValueError("model unavailable")
        return 42

    with MockServer(responder=responder) as mock, new_client(headers=AUTH) as http:
        response = http.post(f"{mock.base_url}/v1/chat", json={"message": "Hi"})
        error = error_of(response, 500)
        assert ("model unavailable" if outcome == "raises" else "int") in error["message"]
        assert mock.conversations == {}


# -- validation ------------------------------------------------------------------

INVALID_BODIES: list[tuple[Any, str, str]] = [
    # body, param, part of the message (the schema checker's words, not the spec's)
    ({}, "message", "message: is required"),
    ({"conversationId": "conv_1"}, "message", "message: is required"),
    ({"message": ""}, "message", "message: must not be empty"),
    ({"message": " \t\n"}, "message", "message: must match the pattern"),
    ({"message": 5}, "message", "got integer"),
    ({"message": None}, "message", "got null"),
    ({"message": ["hi"]}, "message", "got array"),
    ({"message": "Hi", "conversationId": ""}, "conversationId", "must not be empty"),
    ({"message": "Hi", "conversationId": 7}, "conversationId", "must be a string"),
    ({"message": "Hi", "widgetId": True}, "widgetId", "got boolean"),
    ({"message": "Hi", "instanceId": ""}, "instanceId", "instanceId: must not be empty"),
    ({"message": "Hi", "chatHistory": "earlier"}, "chatHistory", "must be an array"),
    ({"message": "Hi", "chatHistory": [1]}, "chatHistory", "chatHistory[0]: must be an object"),
    (
        {"message": "Hi", "chatHistory": [{"role": "bot", "content": "x"}]},
        "chatHistory",
        "chatHistory[0].role: must be one of",
    ),
    (
        {"message": "Hi", "chatHistory": [{"role": "user", "content": "a"}, {"role": "user"}]},
        "chatHistory",
        "chatHistory[1].content: is required",
    ),
    (
        {"message": "Hi", "chatHistory": [{"role": "user", "content": 3}]},
        "chatHistory",
        "chatHistory[0].content: must be a string",
    ),
    (
        {"message": "Hi", "chatHistory": [{"role": "user", "content": "x", "noSuchKey": "a"}]},
        "chatHistory",
        "chatHistory[0].noSuchKey: is an unknown key",
    ),
    (
        {"message": "Hi", "conversation_id": "conv_1"},
        "conversation_id",
        "Did you mean 'conversationId'?",
    ),
    ({"message": "Hi", "conversationid": "conv_1"}, "conversationid", "Did you mean"),
    ({"message": "Hi", "noSuchField": True}, "noSuchField", "noSuchField: is an unknown key"),
    ({"message": "Hi", "a.b[0]": 1}, "a.b[0]", "a.b[0]: is an unknown key"),
]


@pytest.mark.parametrize(("body", "param", "text"), INVALID_BODIES)
def test_invalid_body_is_400_naming_the_field(
    server: MockServer, client: httpx.Client, body: Any, param: str, text: str
) -> None:
    assert not CHAT_REQUEST.is_valid(body)
    error = error_of(chat(client, body), 400)
    documented = documented_errors(400)[0]
    # The kind and code of the spec's example of a 400; the field at fault; what is wrong.
    assert (error["type"], error.get("code")) == (documented["type"], documented.get("code"))
    assert error["param"] == param
    assert text in error["message"]
    assert server.conversations == {}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "invalid_json"),
        (b"not json", "invalid_json"),
        (b'{"message": "Hi"', "invalid_json"),
        (b'{"message": NaN}', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[]", "invalid_body"),
        (b'"Hi"', "invalid_body"),
        (b"null", "invalid_body"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(
    server: MockServer, client: httpx.Client, content: bytes, code: str
) -> None:
    response = client.post(
        "/v1/chat", content=content, headers={"Content-Type": "application/json"}
    )
    error = error_of(response, 400)
    assert error["code"] == code
    assert "request body" in error["message"]
    assert "param" not in error


def test_content_type_other_than_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/v1/chat", content=b'{"message": "Hi"}', headers={"Content-Type": "text/plain"}
    )
    assert error_of(response, 400)["code"] == "unsupported_content_type"
    ok = client.post(
        "/v1/chat",
        content=b'{"message": "Hi"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


def _idempotency_keys() -> list[str]:
    """Keys at and just past the limits of the spec's Idempotency-Key schema."""
    schema = IDEMPOTENCY_KEY.schema
    shortest, longest = schema.get("minLength", 1), schema.get("maxLength", 64)
    return [
        "k" * (shortest - 1),
        "k" * shortest,
        "k" * longest,
        "k" * (longest + 1),
        "a b",
        "5f0c8a3e-9d7b-4c52-b1e4-2a6f0d9e8c17",
    ]


@pytest.mark.parametrize("key", _idempotency_keys(), ids=lambda key: f"{len(key)} chars")
def test_idempotency_key_is_checked_against_its_schema(client: httpx.Client, key: str) -> None:
    valid = jsonschema.Draft202012Validator(IDEMPOTENCY_KEY.schema).is_valid(key)
    response = chat(client, {"message": "Hi"}, headers={IDEMPOTENCY_KEY.wire_name: key})
    if valid:
        assert response.status_code == 200, response.text
    else:
        assert error_of(response, 400)["param"] == IDEMPOTENCY_KEY.wire_name


def test_body_over_1_mib_is_413_and_the_connection_stays_usable(
    server: MockServer, client: httpx.Client
) -> None:
    # A valid body padded with JSON white space: valid whatever limits the spec sets on
    # the message.
    body = json.dumps({"message": "Hi"}).encode()
    exactly_1_mib = body + b" " * (MAX_BODY_BYTES - len(body))
    assert len(exactly_1_mib) == MAX_BODY_BYTES
    headers = {"Content-Type": "application/json"}
    assert client.post("/v1/chat", content=exactly_1_mib, headers=headers).status_code == 200
    too_big = client.post("/v1/chat", content=exactly_1_mib + b" ", headers=headers)
    error_of(too_big, 413)
    assert server.requests[-1].body is None
    assert chat(client, {"message": "still here"}).status_code == 200
    assert len(server.conversations) == 2


def test_chunked_body_is_read(client: httpx.Client) -> None:
    def parts() -> Iterator[bytes]:
        yield b'{"message":'
        yield b' "chunked"}'

    response = client.post(
        "/v1/chat", content=parts(), headers={"Content-Type": "application/json"}
    )
    assert check(response)["reply"].startswith('You said: "chunked"')


def _raw_exchange(server: MockServer, request: bytes) -> tuple[int, http.client.HTTPMessage, Any]:
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # the client has nothing more to send
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers, json.loads(response.read())


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/chat HTTP/1.1\r\nContent-Length: abc\r\n",
        b"POST /v1/chat HTTP/1.1\r\nTransfer-Encoding: gzip\r\n",
        b"POST /v1/chat HTTP/1.1\r\nContent-Length: 50\r\n",
    ],
)
def test_broken_framing_is_a_json_400_that_closes_the_connection(
    server: MockServer, head: bytes
) -> None:
    request = head + AUTH_LINE + b"\r\n" + b'{"message": "Hi"}'
    status, headers, body = _raw_exchange(server, request)
    assert status == 400
    ERROR.validate(body)
    assert body["error"]["code"] == "malformed_request"
    assert headers["Connection"] == "close"
    assert REQUEST_ID.fullmatch(headers["X-Request-Id"])
    assert server.conversations == {}


# -- routes ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/v1/chat/", "/v1/chats", "/v2/chat"])
def test_other_paths_are_404(client: httpx.Client, path: str) -> None:
    error = error_of(client.post(path, json={"message": "Hi"}), 404)
    assert error["code"] == "route_not_found"
    assert f"POST {path}" in error["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"])
def test_other_methods_on_v1_chat_are_405(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/v1/chat")
    error = error_of(response, 405)
    # The spec documents no 405: it is a bad request of its own kind.
    assert error["type"] == ERROR_TYPES[400]
    assert error["code"] == "method_not_allowed"
    assert response.headers["allow"] == create_chat.METHOD


def test_head_gets_headers_without_a_body(client: httpx.Client) -> None:
    response = client.head("/v1/chat")
    assert response.status_code == 405
    assert response.content == b""
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])


# -- authentication --------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_api_key"),
        ("sk_test_123", "invalid_authorization"),
        ("Token sk_test_123", "invalid_authorization"),
        ("Bearer", "invalid_authorization"),
        ("Bearer sk_test_1 extra", "invalid_authorization"),
        ("Bearer sk_", documented_errors(401)[0]["code"]),
        ("Bearer live_123", documented_errors(401)[0]["code"]),
        ("Bearer pk_test_123", "secret_key_required"),
    ],
)
def test_bad_credentials_are_401(server: MockServer, authorization: str | None, code: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with new_client(base_url=server.base_url) as http:
        response = http.post("/v1/chat", json={"message": "Hi"}, headers=headers)
    error = error_of(response, 401)
    assert error["code"] == code
    assert server.conversations == {}


def test_public_key_error_explains_public_versus_secret(server: MockServer) -> None:
    with new_client(base_url=server.base_url) as http:
        response = http.post(
            "/v1/chat", json={"message": "Hi"}, headers={"Authorization": "Bearer pk_live_abc"}
        )
    message = error_of(response, 401)["message"]
    assert "public key" in message.lower()
    assert "browser widget" in message
    assert "secret key" in message
    assert "pk_live_abc" not in message


@pytest.mark.parametrize("key", ["sk_test_abc", "sk_live_abc", "sk_x"])
def test_any_secret_key_is_accepted_by_default(server: MockServer, key: str) -> None:
    with new_client(base_url=server.base_url) as http:
        response = http.post(
            "/v1/chat", json={"message": "Hi"}, headers={"Authorization": f"bearer {key}"}
        )
    assert response.status_code == 200


def test_a_fixed_api_key_accepts_only_that_key() -> None:
    with MockServer(api_key=KEY) as mock, new_client(base_url=mock.base_url) as http:
        ok = http.post("/v1/chat", json={"message": "Hi"}, headers=AUTH)
        assert ok.status_code == 200
        wrong = http.post(
            "/v1/chat", json={"message": "Hi"}, headers={"Authorization": "Bearer sk_test_other"}
        )
        error = error_of(wrong, 401)
        assert error["code"] == documented_errors(401)[0]["code"]
        assert KEY not in error["message"]


@pytest.mark.parametrize("key", ["pk_test_123", "abc", "sk_", ""])
def test_the_fixed_api_key_must_be_a_secret_key(key: str) -> None:
    with pytest.raises(ValueError, match="secret key"):
        MockServer(api_key=key)


def test_recorded_requests_never_contain_the_key() -> None:
    lines: list[str] = []
    with MockServer(log=lines.append) as mock, new_client(base_url=mock.base_url) as http:
        http.post("/v1/chat", json={"message": "Hi"}, headers=AUTH)
        http.post("/nowhere", headers=AUTH)
        http.post(
            "/v1/chat", json={"message": "Hi"}, headers={"Authorization": "Bearer pk_live_x1y2"}
        )
        http.post("/v1/chat", json={"message": "Hi"}, headers={"Authorization": "Token zzz9"})
        requests = mock.requests
    assert len(requests) == 4
    assert requests[0].headers["authorization"] == "Bearer sk_test_...(redacted)"
    assert requests[2].headers["authorization"] == "Bearer pk_live_...(redacted)"
    for secret in (KEY, "pk_live_x1y2", "x1y2", "zzz9"):
        assert secret not in repr(requests)
        assert secret not in "\n".join(lines)
    first = requests[0]
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path, first.body) == ("POST", "/v1/chat", {"message": "Hi"})
    assert requests[1].body is None
    with pytest.raises(AttributeError):
        first.method = "GET"  # type: ignore[misc]


# -- fault injection -------------------------------------------------------------


def test_fail_next_with_retry_after(server: MockServer, client: httpx.Client) -> None:
    server.fail_next(503, times=2, retry_after=1)
    for _ in range(2):
        response = chat(client, {"message": "Hi"})
        assert error_of(response, 503) in documented_errors(503)
        assert response.headers["retry-after"] == "1"
    assert server.conversations == {}
    ok = chat(client, {"message": "Hi"})
    assert ok.status_code == 200
    assert "retry-after" not in ok.headers
    assert len(server.requests) == 3
    assert len(server.conversations) == 1


def test_fail_next_calls_queue_up_in_order(server: MockServer, client: httpx.Client) -> None:
    server.fail_next(429, retry_after=2)
    server.fail_next(500)
    server.fail_next(503, times=2)
    statuses = [chat(client, {"message": "Hi"}).status_code for _ in range(5)]
    assert statuses == [429, 500, 503, 503, 200]


def test_fail_next_applies_before_any_processing(server: MockServer, client: httpx.Client) -> None:
    server.fail_next(500)
    # Even an invalid request gets the injected failure: nothing is looked at first.
    assert client.get("/nowhere").status_code == 500
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", sorted(ERROR_TYPES))
def test_fail_next_answers_the_documented_error_for_each_status(
    server: MockServer, client: httpx.Client, status: int
) -> None:
    server.fail_next(status)
    error = error_of(chat(client, {"message": "Hi"}), status)
    assert error in documented_errors(status)


@pytest.mark.parametrize("status", [418, 502, 599])
def test_fail_next_with_a_status_the_spec_does_not_document_answers_an_envelope(
    server: MockServer, client: httpx.Client, status: int
) -> None:
    assert status not in ERROR_TYPES
    server.fail_next(status)
    error = error_of(chat(client, {"message": "Hi"}), status)  # check(): the Error schema
    assert str(status) in error["message"]
    assert error["type"] == ERROR_TYPES[400 if status < 500 else 500]


def test_fail_next_409_answers_a_documented_conflict_that_a_retry_may_pass(
    server: MockServer, client: httpx.Client
) -> None:
    server.fail_next(409)
    error = error_of(chat(client, {"message": "Hi"}), 409)
    assert error in documented_errors(409)
    # An injected fault passes (the next request succeeds): the conflict that does is the
    # key in use, not the key reused, which no retry can fix.
    assert error["code"] != KEY_REUSED_CODE


@pytest.mark.parametrize(
    ("status", "times", "retry_after"),
    [(200, 1, None), (302, 1, None), (503, 0, None), (503, 1, -1)],
)
def test_fail_next_refuses_nonsense(
    server: MockServer, status: int, times: int, retry_after: int | None
) -> None:
    with pytest.raises(ValueError):
        server.fail_next(status, times=times, retry_after=retry_after)
    with pytest.raises(ValueError):
        server.drop_next(times=0)


def test_drop_next_processes_the_request_but_sends_nothing(
    server: MockServer, client: httpx.Client
) -> None:
    server.drop_next()
    headers = {"Idempotency-Key": "idem-drop-1"}
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        chat(client, {"message": "Lost reply"}, headers=headers)
    [thread] = server.conversations.values()
    assert thread[0] == {"role": "user", "content": "Lost reply"}
    # The retry a client makes with the same key gets the stored answer, not a second turn.
    retry = chat(client, {"message": "Lost reply"}, headers=headers)
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert check(retry)["reply"] == thread[1]["content"]
    assert len(server.conversations) == 1
    assert len(next(iter(server.conversations.values()))) == 2
    assert len(server.requests) == 2


def test_drop_next_times(server: MockServer, client: httpx.Client) -> None:
    server.drop_next(times=2)
    for _ in range(2):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            chat(client, {"message": "Hi"})
    assert chat(client, {"message": "Hi"}).status_code == 200
    assert len(server.conversations) == 3


# -- idempotency -----------------------------------------------------------------


def test_idempotent_retry_is_answered_once(server: MockServer, client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "5f0c8a3e-9d7b-4c52-b1e4-2a6f0d9e8c17"}
    first = chat(client, {"message": "Once"}, headers=headers)
    second = chat(client, {"message": "Once"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert check(first) == check(second)
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    [thread] = server.conversations.values()
    assert len(thread) == 2


def test_same_key_with_a_different_body_is_409(server: MockServer, client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "key-1"}
    assert chat(client, {"message": "One"}, headers=headers).status_code == 200
    error = error_of(chat(client, {"message": "Two"}, headers=headers), 409)
    assert error["code"] == KEY_REUSED_CODE
    assert error in documented_errors(409)  # openapi.yaml's own example of this conflict
    assert len(server.conversations) == 1


def test_same_key_while_the_first_request_runs_is_409() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(messages: list[dict[str, str]]) -> str:
        started.set()
        release.wait(5)
        return "done"

    headers = {**AUTH, "Idempotency-Key": "key-busy"}
    with MockServer(responder=slow) as mock, new_client(base_url=mock.base_url) as http:
        results: list[httpx.Response] = []
        first = threading.Thread(
            target=lambda: results.append(
                http.post("/v1/chat", json={"message": "Hi"}, headers=headers)
            )
        )
        first.start()
        assert started.wait(5)
        busy = http.post("/v1/chat", json={"message": "Hi"}, headers=headers)
        release.set()
        first.join(5)
        error = error_of(busy, 409)
        assert error["code"] != KEY_REUSED_CODE  # the conflict a retry may pass
        assert error in documented_errors(409)
        assert results[0].status_code == 200
        assert len(mock.conversations) == 1


def test_errors_are_not_stored_under_the_key(server: MockServer, client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "key-after-error"}
    server.fail_next(500)
    assert chat(client, {"message": "Hi"}, headers=headers).status_code == 500
    assert (
        chat(client, {"message": "Hi", "conversationId": "x"}, headers=headers).status_code == 404
    )
    assert chat(client, {"message": "Hi"}, headers=headers).status_code == 200
    replay = chat(client, {"message": "Hi"}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"


# -- transport -------------------------------------------------------------------


def test_concurrent_clients_all_succeed_in_their_own_threads(server: MockServer) -> None:
    failures: list[BaseException] = []
    conversation_ids: list[str] = []

    def user(number: int, http: httpx.Client) -> None:
        try:
            conversation_id: str | None = None
            for turn in range(1, 11):
                body: dict[str, str] = {"message": f"user {number} turn {turn}"}
                if conversation_id is not None:
                    body["conversationId"] = conversation_id
                answer = check(http.post("/v1/chat", json=body))
                assert answer["reply"].endswith(f"(turn {turn} of this conversation)")
                conversation_id = answer["conversation_id"]
            assert conversation_id is not None
            conversation_ids.append(conversation_id)
        except BaseException as exc:
            failures.append(exc)

    # One shared pool with room for every thread: with fewer connections than threads,
    # httpcore 1.0.9 may close an idle connection another thread was just given (EBADF).
    with new_client(base_url=server.base_url, headers=AUTH, timeout=10) as http:
        threads = [threading.Thread(target=user, args=(n, http)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
    assert failures == []
    assert len(set(conversation_ids)) == 16
    conversations = server.conversations
    assert set(conversations) == set(conversation_ids)
    for thread_messages in conversations.values():
        assert len(thread_messages) == 20
    assert len(server.requests) == 160


def test_one_keep_alive_connection_serves_successes_and_errors(server: MockServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))
    request_ids = set()
    sock = None
    for path, body in [
        ("/v1/chat", {"message": "Hi"}),
        ("/v1/chat", {"message": ""}),
        ("/missing", {"message": "Hi"}),
        ("/v1/chat", {"message": "Hi", "conversationId": "conv_none"}),
        ("/v1/chat", {"message": "Bye"}),
    ]:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={**AUTH, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        json.loads(response.read())
        assert response.getheader("Connection") != "close"
        request_ids.add(response.getheader("X-Request-Id"))
        sock = sock or connection.sock
        assert connection.sock is sock, "the server closed a keep-alive connection"
    connection.close()
    assert len(request_ids) == 5


def test_close_stops_serving_and_is_idempotent() -> None:
    mock = MockServer().start()
    base_url = mock.base_url
    assert repr(mock) == f"<MockServer {base_url}>"
    with new_client(base_url=base_url, headers=AUTH) as http:
        assert http.post("/v1/chat", json={"message": "Hi"}).status_code == 200
        mock.close()
        # The pooled keep-alive connection must not keep answering after close().
        with pytest.raises(httpx.TransportError):
            http.post("/v1/chat", json={"message": "Hi"})
    mock.close()
    with pytest.raises(RuntimeError, match="not running"):
        _ = mock.base_url
    with pytest.raises(RuntimeError, match="closed"):
        mock.start()
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{base_url}/v1/chat", json={"message": "Hi"}, headers=AUTH, verify=TLS)


def test_start_twice_is_an_error() -> None:
    with MockServer() as mock, pytest.raises(RuntimeError, match="already running"):
        mock.start()


def test_log_gets_one_line_per_request_without_secrets_or_content() -> None:
    lines: list[str] = []
    with MockServer(log=lines.append) as mock, new_client(base_url=mock.base_url) as http:
        http.post("/v1/chat", json={"message": "confidential words"}, headers=AUTH)
        http.get("/v1/chat?x=1", headers=AUTH)
        mock.drop_next()
        with pytest.raises(httpx.TransportError):
            http.post("/v1/chat", json={"message": "Hi"}, headers=AUTH)
    assert len(lines) == 3
    assert re.fullmatch(r"POST /v1/chat 200 req_[0-9a-f]+", lines[0])
    assert re.fullmatch(r"GET /v1/chat 405 req_[0-9a-f]+", lines[1])
    assert lines[2].startswith("POST /v1/chat 200 req_") and "dropped" in lines[2]
    assert "confidential" not in "\n".join(lines)


def test_importing_convokit_does_not_import_the_mock_server() -> None:
    code = "import sys, convokit; sys.exit('convokit.testing' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=30)


def test_run_mock_server_serves_in_the_foreground_until_ctrl_c() -> None:
    code = (
        "import sys; from convokit.testing import run_mock_server; "
        "sys.exit(run_mock_server('127.0.0.1', 0))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.fullmatch(
            r"ConvoKit mock server on (http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)\n", banner
        )
        assert match, banner
        url = f"{match.group(1)}/v1/chat"
        response = httpx.post(url, json={"message": "Hi"}, headers=AUTH, verify=TLS)
        assert response.status_code == 200
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert re.fullmatch(r"POST /v1/chat 200 req_[0-9a-f]+\n", stderr), stderr
    assert KEY not in stderr


def test_run_mock_server_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run_mock_server("127.0.0.1", port) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


# -- the mock and the spec agree -------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
BODY_SCHEMA = chat_body_schema()
_field_names = st.sampled_from(sorted(BODY_SCHEMA["properties"]))
_other_names = st.sampled_from(
    [*create_chat.BODY_FIELDS, *(name.upper() for name in BODY_SCHEMA["properties"])]
) | st.text(max_size=10)


def _nearly(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of `schema` and values near them: any JSON, and for an object or an array,
    one whose keys or items are each right, nearly right, or extra."""
    near: st.SearchStrategy[Any] = valid_values(schema) | _json | st.just("")
    properties = schema.get("properties")
    if properties:
        near |= st.fixed_dictionaries(
            {},
            optional={
                **{name: _nearly(part) for name, part in properties.items()},
                "extra": _json,
            },
        )
    items = schema.get("items")
    if isinstance(items, dict):
        near |= st.lists(_nearly(items), min_size=1, max_size=3)
    return near


def _bodies(known_conversation: str) -> st.SearchStrategy[Any]:
    """Valid bodies (every field of the spec's schema), bodies one change away from
    valid, and arbitrary JSON.

    Whether each one is valid is not decided here: the spec's schema is the oracle.
    """
    # A conversation id that exists, so that valid bodies get a 200 and not a 404.
    valid = valid_values(BODY_SCHEMA).map(
        lambda body: (
            {**body, CONVERSATION_ID: known_conversation} if CONVERSATION_ID in body else body
        )
    )
    wrong_values = st.one_of([_nearly(part) for part in BODY_SCHEMA["properties"].values()])
    changed = st.builds(
        lambda body, name, value: {**body, name: value},
        valid,
        _field_names | _other_names,
        wrong_values,
    )
    without = st.builds(
        lambda body, name: {key: value for key, value in body.items() if key != name},
        valid,
        _field_names,
    )
    arbitrary = st.dictionaries(_field_names | _other_names, wrong_values, max_size=4)
    return valid | changed | changed | without | arbitrary | _json


def test_mock_accepts_exactly_what_the_spec_accepts() -> None:
    seen: dict[int, int] = {}
    fields_sent: set[str] = set()
    with MockServer() as mock, new_client(base_url=mock.base_url, headers=AUTH) as http:
        known = check(http.post("/v1/chat", json={"message": "seed"}))["conversation_id"]

        @settings(
            max_examples=250,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(body=_bodies(known))
        def agrees(body: Any) -> None:
            response = http.post("/v1/chat", json=body)
            answer = check(response)
            if not CHAT_REQUEST.is_valid(body):
                expected = 400
            elif isinstance(body, dict) and body.get(CONVERSATION_ID, known) != known:
                expected = 404
            else:
                expected = 200
                fields_sent.update(body)
            assert response.status_code == expected, (body, answer)
            param = answer.get("error", {}).get("param")
            if param is not None:
                assert param in body or param in BODY_SCHEMA.get("required", ())
            seen[expected] = seen.get(expected, 0) + 1

        agrees()
    assert seen.get(200, 0) > 10
    assert seen.get(400, 0) > 10
    # Every field of the spec was sent in some accepted request.
    assert fields_sent == set(BODY_SCHEMA["properties"])
