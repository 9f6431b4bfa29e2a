"""Every way a server or network can fail, sync and async: the caller gets one typed
ConvoKit error (with the request id when the server sent one), never a raw httpx
exception, a KeyError or a JSONDecodeError."""

from __future__ import annotations

import gzip
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from _fault_server import (
    Behaviour,
    FaultServer,
    empty,
    html,
    json_reply,
    raw,
    redirect,
    request_id_for,
    reset,
    stall,
    truncated,
    valid_body,
)

from convokit import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    InternalServerError,
    NotFoundError,
    create_async_client,
    create_client,
)
from convokit_generated.api import OPERATIONS

KEY = "sk_test_failures_0123"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


pytestmark = pytest.mark.usefixtures("no_sleep")


def missing(*names: str) -> Behaviour:
    body = valid_body()
    for name in names:
        body.pop(name)
    return json_reply(200, body)


def with_usage(**usage: object) -> Behaviour:
    body = valid_body()
    body["usage"] = {**body["usage"], **usage} if usage else None
    return json_reply(200, body)


def with_fields(**fields: object) -> Behaviour:
    return json_reply(200, {**valid_body(), **fields})


def json_200(text: bytes) -> Behaviour:
    return raw(200, text, [("Content-Type", "application/json")])


def garbage_gzip() -> Behaviour:
    return raw(200, b"this is not gzip", [("Content-Encoding", "gzip")])


@dataclass(frozen=True)
class Case:
    """One failure: what the server does, the error the caller must get, and what it holds."""

    behaviour: Behaviour
    error_class: type[APIError]
    says: tuple[str, ...] = ()
    """Text the error's message must contain."""
    status: int | None = None
    has_request_id: bool = True
    cause: type[BaseException] | None = None
    options: dict[str, object] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "reset": Case(reset(), APIConnectionError, has_request_id=False, cause=httpx.ReadError),
    "stall past the timeout": Case(
        stall(5),
        APITimeoutError,
        has_request_id=False,
        cause=httpx.ReadTimeout,
        options={"timeout": 0.2},
    ),
    # The connection closed before the promised body: a cut-off response, not a bad one.
    "truncated (short of Content-Length)": Case(
        truncated(), APIConnectionError, has_request_id=False, cause=httpx.RemoteProtocolError
    ),
    "truncated JSON": Case(
        json_200(json.dumps(valid_body()).encode()[:-7]), APIResponseValidationError, ("JSON",)
    ),
    "HTML 502 from a proxy": Case(html(502), InternalServerError, ("502 Bad Gateway",), 502),
    "HTML 404 from a proxy": Case(
        html(404, "404 Not Found"), NotFoundError, ("404 Not Found",), 404
    ),
    "empty 503": Case(empty(503), InternalServerError, ("Service Unavailable",), 503),
    "empty 401": Case(empty(401), AuthenticationError, ("Unauthorized",), 401),
    "empty 400 without a reason phrase": Case(
        raw(400, reason=" "), BadRequestError, ("no response body",), 400
    ),
    "plain-text 500": Case(
        raw(500, b"upstream connect error", [("Content-Type", "text/plain")]),
        InternalServerError,
        ("upstream connect error",),
        500,
    ),
    "error body that is JSON but not the envelope": Case(
        json_reply(500, {"error": "boom"}), InternalServerError, ('"error": "boom"',), 500
    ),
    "error envelope with a non-string message": Case(
        json_reply(400, {"error": {"type": "x", "message": 5}}), BadRequestError, (), 400
    ),
    "error body nested past the recursion limit": Case(
        raw(500, b"[" * 100_000), InternalServerError, ("[[[",), 500
    ),
    "302 redirect": Case(redirect("/v1/somewhere-else"), APIStatusError, ("Found",), 302),
    "200 that is not JSON": Case(raw(200, b"OK"), APIResponseValidationError, ("not JSON",)),
    "200 with an empty body": Case(raw(200), APIResponseValidationError, ("not JSON",)),
    "204 No Content": Case(raw(204), APIResponseValidationError, ("204",)),
    "200 that is not UTF-8": Case(json_200(b"\xff\xfe{}"), APIResponseValidationError),
    "200 that is a JSON array": Case(json_reply(200, [1, 2]), APIResponseValidationError),
    "200 that is JSON null": Case(json_200(b"null"), APIResponseValidationError),
    "200 nested past the recursion limit": Case(
        json_200(b"[" * 100_000), APIResponseValidationError
    ),
    "200 without reply": Case(missing("reply"), APIResponseValidationError, ("reply",)),
    "200 without usage": Case(missing("usage"), APIResponseValidationError, ("usage",)),
    "200 with usage missing a count": Case(
        json_reply(200, {**valid_body(), "usage": {"prompt_tokens": 1}}),
        APIResponseValidationError,
        ("completion_tokens",),
    ),
    "200 with reply a number": Case(with_fields(reply=5), APIResponseValidationError, ("reply",)),
    "200 with conversation_id null": Case(
        with_fields(conversation_id=None), APIResponseValidationError, ("conversation_id",)
    ),
    "200 with usage null": Case(with_usage(), APIResponseValidationError),
    "200 with usage a string": Case(with_fields(usage="lots"), APIResponseValidationError),
    # dict() accepts a list of pairs: the generated model alone would build Usage from one.
    "200 with usage a list of pairs": Case(
        with_fields(usage=[["a", 1]]), APIResponseValidationError, ("usage", "object")
    ),
    "200 with a token count as a string": Case(
        with_usage(total_tokens="8"), APIResponseValidationError, ("total_tokens",)
    ),
    "200 with a token count as a bool": Case(
        with_usage(prompt_tokens=True), APIResponseValidationError, ("prompt_tokens",)
    ),
    "200 with a token count as a float": Case(
        with_usage(completion_tokens=5.5), APIResponseValidationError, ("completion_tokens",)
    ),
    "200 with a body that is not what its Content-Encoding says": Case(
        garbage_gzip(), APIConnectionError, has_request_id=False, cause=httpx.DecodingError
    ),
}


def check(raised: BaseException, case: Case, server: FaultServer) -> None:
    assert isinstance(raised, case.error_class), repr(raised)
    assert raised.__class__.__module__ == "convokit._exceptions"
    text = str(raised)
    for snippet in case.says:
        assert snippet in text, (snippet, text)
    if case.has_request_id:
        expected_id = request_id_for(len(server.received))
        assert raised.request_id == expected_id
        assert expected_id in text
    else:
        assert raised.request_id is None
    if case.status is not None:
        assert isinstance(raised, APIStatusError)
        assert type(raised) is case.error_class
        assert raised.status_code == case.status
    if case.cause is not None:
        assert isinstance(raised.__cause__, case.cause)
    if isinstance(raised, APIResponseValidationError):
        assert 200 <= raised.status_code < 300


@pytest.mark.parametrize("name", CASES)
def test_failure_surfaces_sync(server: FaultServer, name: str) -> None:
    case = CASES[name]
    server.then(case.behaviour)
    with create_client(KEY, base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(APIError) as raised:
            client.chat(message="Hello", **case.options)
        check(raised.value, case, server)
        assert len(server.received) == 1
        # The client is still usable after any failure.
        assert client.chat(message="Hello again").reply


@pytest.mark.anyio
@pytest.mark.parametrize("name", CASES)
async def test_failure_surfaces_async(server: FaultServer, name: str, async_backend: str) -> None:
    case = CASES[name]
    server.then(case.behaviour)
    async with create_async_client(
        KEY, base_url=server.base_url, max_retries=0, http_backend=async_backend
    ) as client:
        with pytest.raises(APIError) as raised:
            await client.chat(message="Hello", **case.options)
        check(raised.value, case, server)
        assert len(server.received) == 1
        assert (await client.chat(message="Hello again")).reply


def bounded_numbers(
    schema: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Where the schema's objects hold a number with a `minimum`, as paths of keys."""
    for name, part in schema.get("properties", {}).items():
        if "minimum" in part:
            yield (*path, name)
        yield from bounded_numbers(part, (*path, name))


def below_minimum(path: tuple[str, ...]) -> dict[str, Any]:
    body = valid_body()
    holder, schema = body, OPERATIONS["create_chat"].responses[200].schema or {}
    for key in path[:-1]:
        holder, schema = holder[key], schema["properties"][key]
    holder[path[-1]] = schema["properties"][path[-1]]["minimum"] - 1
    return body


REPLY_BOUNDS = list(bounded_numbers(OPERATIONS["create_chat"].responses[200].schema or {}))


@pytest.mark.parametrize("path", REPLY_BOUNDS, ids=".".join)
def test_a_reply_that_breaks_a_bound_of_the_spec_is_refused(
    server: FaultServer, path: tuple[str, ...]
) -> None:
    # Each bound comes from openapi.yaml: a constraint added there is checked with no edit.
    server.then(json_reply(200, below_minimum(path)))
    refused = pytest.raises(APIResponseValidationError, match=re.escape(".".join(path)))
    with create_client(KEY, base_url=server.base_url, max_retries=0) as client, refused:
        client.chat(message="Hello")


def test_the_reply_schema_has_bounds_to_check() -> None:
    assert REPLY_BOUNDS, "the chat reply's schema bounds no number: the test above is empty"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_a_connection_error_after_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(Client, "_sleep", staticmethod(waits.append))
    with (
        create_client(KEY, base_url=f"http://127.0.0.1:{closed_port()}") as client,
        pytest.raises(APIConnectionError) as raised,
    ):
        client.chat(message="Hello")
    assert type(raised.value) is APIConnectionError
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert raised.value.request_id is None
    assert len(waits) == 2


@pytest.mark.anyio
async def test_async_connection_refused_is_a_connection_error(async_backend: str) -> None:
    async with create_async_client(
        KEY, base_url=f"http://127.0.0.1:{closed_port()}", http_backend=async_backend
    ) as client:
        with pytest.raises(APIConnectionError) as raised:
            await client.chat(message="Hello")
    assert type(raised.value) is APIConnectionError
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_the_documented_error_envelope_fills_every_field(server: FaultServer) -> None:
    envelope = {
        "error": {
            "type": "invalid_request_error",
            "message": "conversationId: no such conversation",
            "code": "conversation_not_found",
            "param": "conversationId",
        }
    }
    server.then(json_reply(404, envelope))
    with (
        create_client(KEY, base_url=server.base_url) as client,
        pytest.raises(NotFoundError) as raised,
    ):
        client.chat(message="Hello", conversation_id="conv_gone")
    error_ = raised.value
    assert error_.error_type == "invalid_request_error"
    assert error_.message == "conversationId: no such conversation"
    assert error_.code == "conversation_not_found"
    assert error_.param == "conversationId"
    assert error_.body == envelope
    assert error_.headers["x-request-id"] == request_id_for(1)
    assert str(error_) == (
        "404 invalid_request_error: conversationId: no such conversation "
        f"(request id {request_id_for(1)})"
    )


def test_an_error_without_a_request_id_says_nothing_about_one(server: FaultServer) -> None:
    server.then(raw(400, b'{"error": {"type": "t", "message": "m"}}', request_id=False))
    with (
        create_client(KEY, base_url=server.base_url) as client,
        pytest.raises(BadRequestError) as raised,
    ):
        client.chat(message="Hello")
    assert raised.value.request_id is None
    assert str(raised.value) == "400 t: m"


def test_an_html_error_page_gives_a_short_text_snippet(server: FaultServer) -> None:
    server.then(raw(503, b"<html>" + b"x" * 10_000 + b"</html>", [("Content-Type", "text/html")]))
    with (
        create_client(KEY, base_url=server.base_url, max_retries=0) as client,
        pytest.raises(InternalServerError) as raised,
    ):
        client.chat(message="Hello")
    assert raised.value.error_type is None
    assert raised.value.message.startswith("<html>xxx")
    assert len(raised.value.message) < 400
    assert isinstance(raised.value.body, str) and len(raised.value.body) > 10_000


def test_a_redirect_is_not_followed(server: FaultServer) -> None:
    server.then(redirect(f"{server.base_url}/v1/chat-moved", status=307))
    with (
        create_client(KEY, base_url=server.base_url) as client,
        pytest.raises(APIStatusError) as raised,
    ):
        client.chat(message="Hello")
    assert raised.value.status_code == 307
    assert raised.value.headers["location"].endswith("/v1/chat-moved")
    assert [request.path for request in server.received] == ["/v1/chat"]


def test_a_gzip_reply_is_decoded(server: FaultServer) -> None:
    body = gzip.compress(json.dumps(valid_body("zipped")).encode())
    server.then(raw(200, body, [("Content-Encoding", "gzip")]))
    with create_client(KEY, base_url=server.base_url) as client:
        assert client.chat(message="Hello").reply == "zipped"
