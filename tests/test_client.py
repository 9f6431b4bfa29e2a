"""The client end to end against MockServer over real HTTP, sync and async."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import convokit
from convokit import (
    AsyncClient,
    ChatMessage,
    ChatResponse,
    Client,
    Usage,
    create_async_client,
    create_client,
)
from convokit.testing import MockServer

KEY = "sk_test_client_suite"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONVOKIT_SECRET_KEY", "CONVOKIT_BASE_URL", "CONVOKIT_LOG"):
        monkeypatch.delenv(name, raising=False)


class Caller:
    """Makes chat() calls through the sync or the async client, so each test runs on both."""

    def __init__(self, mode: str, base_url: str) -> None:
        self.mode = mode
        self.base_url = base_url
        self.http_backend = mode.partition("-")[2] or "httpx"

    def chat(self, *args: Any, client_options: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        options = {"base_url": self.base_url, **(client_options or {})}
        if self.mode == "sync":
            with create_client(KEY, **options) as client:
                return client.chat(*args, **kwargs)

        async def call() -> ChatResponse:
            async with create_async_client(
                KEY, http_backend=self.http_backend, **options
            ) as client:
                return await client.chat(*args, **kwargs)

        return asyncio.run(call())


@pytest.fixture(params=["sync", "async", "async-aiohttp"])
def caller(request: pytest.FixtureRequest, server: MockServer) -> Caller:
    return Caller(request.param, server.base_url)


# --- the JS README's flows ----------------------------------------------------------


def test_new_conversation_then_follow_up(caller: Caller, server: MockServer) -> None:
    first = caller.chat(message="What are your support hours?")
    second = caller.chat({"message": "And on weekends?", "conversationId": first.conversation_id})

    assert isinstance(first, ChatResponse)
    assert isinstance(first.usage, Usage)
    assert second.conversation_id == first.conversation_id
    assert "And on weekends?" in second.reply
    assert [turn["role"] for turn in server.conversations[first.conversation_id]] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert first.request_id is not None and first.request_id.startswith("req_")
    assert first.request_id != second.request_id


def test_typescript_style_options_and_history(caller: Caller, server: MockServer) -> None:
    res = caller.chat(
        {
            "message": "What did I just ask?",
            "instanceId": "my-bot",
            "widgetId": "support",
            "chatHistory": [
                {"role": "user", "content": "What are your support hours?"},
                {"role": "assistant", "content": "We are open 9am–5pm Monday to Friday."},
                {"role": "system", "content": "Be brief."},
            ],
        }
    )
    body = server.requests[-1].body
    assert body == {
        "message": "What did I just ask?",
        "instanceId": "my-bot",
        "widgetId": "support",
        "chatHistory": [
            {"role": "user", "content": "What are your support hours?"},
            {"role": "assistant", "content": "We are open 9am–5pm Monday to Friday."},
            {"role": "system", "content": "Be brief."},
        ],
    }
    assert res.reply


def test_snake_case_keywords_are_sent_as_wire_names(caller: Caller, server: MockServer) -> None:
    first = caller.chat(message="Hi", widget_id="w1", instance_id="i1")
    caller.chat(
        message="Again",
        conversation_id=first.conversation_id,
        chat_history=[ChatMessage(role="user", content="Hi")],
    )
    assert server.requests[-2].body == {"message": "Hi", "widgetId": "w1", "instanceId": "i1"}
    assert server.requests[-1].body == {
        "message": "Again",
        "conversationId": first.conversation_id,
        "chatHistory": [{"role": "user", "content": "Hi"}],
    }


def test_dict_and_keywords_combine(caller: Caller, server: MockServer) -> None:
    caller.chat({"message": "Hello"}, instance_id="my-bot", conversation_id=None)
    assert server.requests[-1].body == {"message": "Hello", "instanceId": "my-bot"}


def test_the_same_option_twice_with_the_same_value_is_fine(caller: Caller) -> None:
    res = caller.chat({"message": "Hello", "instanceId": "b"}, message="Hello", instance_id="b")
    assert res.reply


def test_message_can_be_passed_positionally(caller: Caller, server: MockServer) -> None:
    caller.chat("Just the message")
    assert server.requests[-1].body == {"message": "Just the message"}


def test_per_call_headers_and_idempotency_key(caller: Caller, server: MockServer) -> None:
    caller.chat(
        message="Hi",
        extra_headers={"X-Trace": "abc"},
        idempotency_key="my-key-1",
        client_options={"default_headers": {"X-App": "shop"}},
    )
    headers = server.requests[-1].headers
    assert headers["x-trace"] == "abc"
    assert headers["x-app"] == "shop"
    assert headers["idempotency-key"] == "my-key-1"
    assert headers["user-agent"] == f"convokit-python/{convokit.__version__}"
    assert "python" in headers["x-convokit-client-runtime"].lower()


# --- refused before any I/O -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "says"),
    [
        ((), {}, ValueError, "'message'"),
        ((), {"message": ""}, ValueError, "'message' must not be empty"),
        ((), {"message": "   "}, ValueError, "'message' must match the pattern"),
        (({"message": None},), {}, ValueError, "'message'"),
        ((), {"message": 42}, TypeError, "must be a string"),
        ((), {"message": "hi", "conversation_id": ""}, ValueError, "must not be empty"),
        ((), {"message": "hi", "conversation_id": 7}, TypeError, "must be a string"),
        ((), {"message": "hi", "chat_history": "user: hi"}, TypeError, "list"),
        (
            (),
            {"message": "hi", "chat_history": [{"role": "bot", "content": "x"}]},
            ValueError,
            "role",
        ),
        (
            (),
            {"message": "hi", "chat_history": [{"role": "user", "content": 1}]},
            ValueError,
            "content",
        ),
        ((), {"message": "hi", "chat_history": [{"role": "user"}]}, ValueError, "content"),
        ((), {"message": "hi", "chat_history": ["hi"]}, ValueError, "chat_history[0]"),
        (
            (),
            {"message": "hi", "chat_history": [{"role": "user", "content": "x", "name": "bo"}]},
            ValueError,
            "unknown key",
        ),
        ((), {"mesage": "hi"}, TypeError, "did you mean 'message'?"),
        ((), {"message": "hi", "conversationID": "c"}, TypeError, "did you mean 'conversationId'?"),
        ((), {"message": "hi", "convo_id": "c"}, TypeError, "unknown option 'convo_id'"),
        ((), {"message": "hi", "chatHistroy": []}, TypeError, "did you mean 'chatHistory'?"),
        (
            ({"message": "hi", "conversationId": "a"},),
            {"conversation_id": "b"},
            TypeError,
            "twice with different values",
        ),
        ((), {"message": "hi", "timeout": -1}, ValueError, "'timeout'"),
        ((), {"message": "hi", "total_timeout": "soon"}, TypeError, "'total_timeout'"),
        ((), {"message": "hi", "max_retries": -1}, ValueError, "'max_retries'"),
        ((), {"message": "hi", "max_retries": 1.5}, TypeError, "'max_retries'"),
        ((), {"message": "hi", "extra_headers": {"Authorization": "x"}}, ValueError, "api_key"),
        ((), {"message": "hi", "idempotency_key": ""}, ValueError, "idempotency_key"),
        ((), {"message": "hi", "idempotency_key": "a b"}, ValueError, "idempotency_key"),
        ((["message", "hi"],), {}, TypeError, "dict of options"),
    ],
)
def test_bad_input_is_refused_before_any_io(
    caller: Caller,
    server: MockServer,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    says: str,
) -> None:
    received = len(server.requests)
    with pytest.raises(error) as raised:
        caller.chat(*args, **kwargs)
    assert says in str(raised.value)
    assert len(server.requests) == received


# --- every documented status -> its class ------------------------------------------------

STATUS_CLASSES = {
    400: convokit.BadRequestError,
    401: convokit.AuthenticationError,
    403: convokit.PermissionDeniedError,
    404: convokit.NotFoundError,
    409: convokit.ConflictError,
    413: convokit.RequestTooLargeError,
    422: convokit.UnprocessableEntityError,
    429: convokit.RateLimitError,
    500: convokit.InternalServerError,
    503: convokit.InternalServerError,
}


@pytest.mark.parametrize(("status", "error_class"), sorted(STATUS_CLASSES.items()))
def test_each_documented_status_raises_its_class(
    caller: Caller, server: MockServer, status: int, error_class: type[convokit.APIStatusError]
) -> None:
    server.fail_next(status, retry_after=2 if status in (429, 503) else None)
    with pytest.raises(error_class) as raised:
        caller.chat(message="Hi", max_retries=0)
    error = raised.value
    assert isinstance(error, convokit.APIStatusError)
    assert isinstance(error, convokit.APIError)
    assert isinstance(error, convokit.ConvoKitError)
    assert error.status_code == status
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert error.request_id in str(error)
    assert isinstance(error.body, dict)
    assert error.error_type == error.body["error"]["type"]
    assert error.message == error.body["error"]["message"]
    assert error.headers["x-request-id"] == error.request_id
    if status in (429, 503):
        assert error.headers["retry-after"] == "2"


def test_unknown_conversation_is_not_found_with_param(caller: Caller) -> None:
    with pytest.raises(convokit.NotFoundError) as raised:
        caller.chat(message="Hi", conversation_id="conv_nope")
    assert raised.value.param == "conversationId"
    assert raised.value.error_type == "not_found_error"


def test_a_wrong_key_is_an_authentication_error() -> None:
    with MockServer(api_key="sk_test_the_right_one") as server:
        client = create_client("sk_test_the_wrong_one", base_url=server.base_url)
        with pytest.raises(convokit.AuthenticationError) as raised:
            client.chat(message="Hi")
        assert raised.value.error_type == "authentication_error"
        assert len(server.requests) == 1  # 401 is never retried


# --- create_client ---------------------------------------------------------------------


def test_create_client_forms(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from_string = create_client(KEY, base_url=server.base_url)
    from_dict = create_client({"apiKey": KEY, "baseUrl": server.base_url, "maxRetries": 5})
    from_keywords = Client(api_key=KEY, base_url=server.base_url)
    monkeypatch.setenv("CONVOKIT_SECRET_KEY", KEY)
    monkeypatch.setenv("CONVOKIT_BASE_URL", server.base_url)
    from_env = create_client()
    for client in (from_string, from_dict, from_keywords, from_env):
        assert isinstance(client, Client)
        assert client.base_url == server.base_url
        assert client.chat(message="Hi").reply
        client.close()
    assert from_dict.max_retries == 5
    assert isinstance(create_async_client(KEY), AsyncClient)


def test_default_base_url_is_the_production_api() -> None:
    assert create_client(KEY).base_url == "https://api.convokit.dev"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "says"),
    [
        ((), {}, ValueError, "CONVOKIT_SECRET_KEY"),
        (("pk_live_abc",), {}, ValueError, "public key"),
        (("",), {}, ValueError, "empty"),
        (("sk_live_a b",), {}, ValueError, "whitespace"),
        (("sk_live_ab\x00",), {}, ValueError, "control"),
        (("not-a-key",), {}, ValueError, "sk_live_"),
        ((123,), {}, TypeError, "API key or a dict"),
        ((KEY,), {"api_key": "sk_test_other"}, TypeError, "twice"),
        ((KEY,), {"baseURL": "https://x"}, TypeError, "did you mean 'baseUrl'?"),
        ((KEY,), {"base_url": "http://api.example.com"}, ValueError, "allow_insecure"),
        ((KEY,), {"base_url": "ftp://127.0.0.1"}, ValueError, "http(s)"),
        ((KEY,), {"http_client": httpx.AsyncClient()}, TypeError, "httpx.Client"),
        ((KEY,), {"max_retries": -1}, ValueError, "max_retries"),
    ],
)
def test_create_client_refuses_bad_options(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as raised:
        create_client(*args, **kwargs)
    assert says in str(raised.value)


def test_plain_http_is_allowed_to_loopback_or_when_insecure_is_explicit() -> None:
    for url in ("http://localhost:1", "http://127.0.0.5:1", "http://[::1]:1"):
        assert create_client(KEY, base_url=url).base_url == url
    client = create_client(KEY, base_url="http://api.internal", allow_insecure=True)
    assert client.base_url == "http://api.internal"


def test_with_options_shares_the_pool(server: MockServer) -> None:
    client = create_client(KEY, base_url=server.base_url)
    fast = client.with_options(max_retries=0, timeout=5.0)
    assert fast.max_retries == 0 and client.max_retries == 2
    assert fast._pool is client._pool
    assert fast.chat(message="Hi").reply
    with pytest.raises(TypeError, match="did you mean"):
        client.with_options(max_retires=1)
    client.close()
    with pytest.raises(convokit.ConvoKitError, match="closed"):
        fast.chat(message="Hi")


def test_public_names_are_exported() -> None:
    for name in convokit.__all__:
        assert getattr(convokit, name) is not None
    assert convokit.ChatOptions.__required_keys__ == frozenset({"message"})
    assert {"conversationId", "widgetId", "instanceId", "chatHistory"} <= set(
        convokit.ChatOptions.__optional_keys__
    )


_LOADED_LATER = ("attrs", "convokit_generated.api", "convokit_generated.models")


def test_the_generated_models_load_with_the_first_call_not_at_import() -> None:
    # They (and attrs) are most of what import convokit would cost (docs/benchmarks.md).
    # (Here, making a client loads attrs anyway: httpcore imports trio, a dev tool, when
    # it is installed, and trio imports attrs.)
    code = f"""
import sys
import convokit
loaded = lambda: [name for name in {_LOADED_LATER!r} if name in sys.modules]
print(loaded())
convokit.create_client("sk_test_lazy", base_url="http://127.0.0.1:9").close()
print([name for name in loaded() if name != "attrs"])
from convokit.testing import MockServer  # the mock reads the descriptors: it loads them
with MockServer() as server:
    reply = convokit.create_client("sk_test_lazy", base_url=server.base_url).chat(message="Hi")
print(loaded(), type(reply).__name__, reply.request_id is not None)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    at_import, with_a_client, after_a_call = result.stdout.splitlines()
    assert at_import == "[]", result.stdout
    assert with_a_client == "[]", result.stdout
    assert after_a_call == f"{list(_LOADED_LATER)} ChatResponse True"


def test_an_error_body_that_echoes_the_key_is_redacted_everywhere() -> None:
    key = "sk_test_echoedCANARY123"

    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        body = {"error": {"type": "authentication_error", "message": f"bad {auth}"}, auth: [auth]}
        return httpx.Response(401, json=body, headers={"x-request-id": "req_echo"})

    client = create_client(key, http_client=httpx.Client(transport=httpx.MockTransport(echo)))
    with pytest.raises(convokit.AuthenticationError) as raised:
        client.chat(message="Hi")
    error = raised.value
    assert error.request_id == "req_echo"
    for text in (str(error), error.message, repr(error.body), repr(error)):
        assert key not in text
        assert "CANARY" not in text
