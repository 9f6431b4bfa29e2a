"""Property tests over a real local server: whatever options a caller passes, chat()
sends a request openapi.yaml accepts or refuses with TypeError/ValueError before any
I/O; whatever a server answers, chat() returns a ChatResponse or raises a ConvoKitError."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from _fault_server import FaultServer, raw
from _spec import validator_at
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from convokit import APITimeoutError, ChatResponse, Client, ConvoKitError, create_client

KEY = "sk_test_properties_0123"
CHAT_REQUEST = validator_at("/components/schemas/ChatRequest")
CHAT_RESPONSE = validator_at("/components/schemas/ChatResponse")

# Every spelling the JS and Python SDKs document, written out here rather than read from
# convokit, so the test does not share the code's idea of what is valid.
OPTION_SPELLINGS = [
    "message",
    "conversation_id",
    "conversationId",
    "widget_id",
    "widgetId",
    "instance_id",
    "instanceId",
    "chat_history",
    "chatHistory",
    "timeout",
    "total_timeout",
    "totalTimeout",
    "max_retries",
    "maxRetries",
    "extra_headers",
    "extraHeaders",
    "idempotency_key",
    "idempotencyKey",
]
TIMEOUT_SPELLINGS = {"timeout", "total_timeout", "totalTimeout"}

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["user", "assistant", "system", "Hello", "conv_1", ""]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["role", "content"]), children, max_size=4
        )
    ),
    max_leaves=12,
)
chat_messages = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system"]), "content": st.text(max_size=30)}
)
header_names = st.sampled_from(["X-Trace", "x-team", "User-Agent", "Authorization"]) | st.text(
    max_size=10
)
header_values = st.sampled_from(["abc", "", "a b"]) | st.text(max_size=10)
seconds = st.floats(min_value=0.001, max_value=10) | st.integers(min_value=-3, max_value=5)

# For each option, values of the kind it takes (right or nearly right), besides any JSON value.
RELEVANT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "message": st.text(min_size=1, max_size=40),
    "conversation_id": st.text(min_size=1, max_size=20),
    "widget_id": st.text(min_size=1, max_size=20),
    "instance_id": st.text(min_size=1, max_size=20),
    "chat_history": st.lists(chat_messages | json_values, max_size=3),
    "timeout": seconds,
    "total_timeout": seconds,
    "max_retries": st.integers(min_value=-2, max_value=3),
    "extra_headers": st.dictionaries(header_names, header_values, max_size=3),
    "idempotency_key": st.text(min_size=1, max_size=20),
}


def values_for(spelling: str) -> st.SearchStrategy[Any]:
    python_name = "".join(f"_{c.lower()}" if c.isupper() else c for c in spelling)
    relevant = RELEVANT_VALUES.get(python_name)
    if relevant is None:
        return json_values
    # Three to one for values of the right kind, or few examples would get past typing.
    return st.integers(min_value=0, max_value=3).flatmap(
        lambda dice: json_values if dice == 0 else relevant
    )


# Mostly real spellings, so that most examples get past the name check to the values.
option_names = st.tuples(
    st.lists(st.sampled_from(OPTION_SPELLINGS), unique=True, max_size=4),
    st.integers(min_value=0, max_value=3).flatmap(
        lambda dice: (
            st.lists(st.text(max_size=12), min_size=1, max_size=1) if dice == 0 else st.just([])
        )
    ),
).map(lambda names: names[0] + [name for name in names[1] if name not in names[0]])
with_or_without_message = st.integers(min_value=0, max_value=3).flatmap(
    lambda dice: (
        st.just({})
        if dice == 0
        else st.fixed_dictionaries({"message": st.text(min_size=1, max_size=40)})
    )
)
option_dicts = with_or_without_message.flatmap(
    lambda base: option_names.flatmap(
        lambda names: st.fixed_dictionaries({name: values_for(name) for name in names})
    ).map(lambda extra: {**base, **extra})
)


@pytest.fixture(scope="module", autouse=True)
def no_sleep() -> Iterator[None]:
    """Retries (a generated max_retries with a tiny timeout) do not really wait."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "_sleep", staticmethod(lambda seconds: None))
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer(lifetime=600) as fault_server:
        yield fault_server


@pytest.fixture(scope="module")
def client(server: FaultServer) -> Iterator[Client]:
    with create_client(KEY, base_url=server.base_url) as sdk_client:
        yield sdk_client


def asks_for_a_tiny_timeout(options: dict[Any, Any]) -> bool:
    return any(
        name in TIMEOUT_SPELLINGS
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and value < 1
        for name, value in options.items()
    )


@SETTINGS
@given(options=option_dicts, as_keywords=st.booleans())
def test_any_options_give_a_valid_request_or_a_type_or_value_error(
    server: FaultServer, client: Client, options: dict[str, Any], as_keywords: bool
) -> None:
    before = len(server.received)
    try:
        result = client.chat(**options) if as_keywords else client.chat(options)
    except (TypeError, ValueError) as refusal:
        event(f"refused: {type(refusal).__name__}")
        assert len(server.received) == before, "refused options must not reach the network"
        return
    except APITimeoutError:
        event("timed out")
        # The caller asked for a timeout too short for even a local round trip.
        assert asks_for_a_tiny_timeout(options), options
        return
    event("sent")
    assert isinstance(result, ChatResponse)
    (request,) = server.received[before:]
    CHAT_REQUEST.validate(request.json())
    assert request.method == "POST" and request.path == "/v1/chat"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.idempotency_key


statuses = st.integers(min_value=100, max_value=599)
bodies = (
    st.binary(max_size=120)
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries(
        {},
        optional={
            "reply": st.text(max_size=20) | json_values,
            "conversation_id": st.text(max_size=20) | json_values,
            "usage": st.fixed_dictionaries(
                {},
                optional={
                    "prompt_tokens": st.integers(min_value=0) | json_values,
                    "completion_tokens": st.integers(min_value=0) | json_values,
                    "total_tokens": st.integers(min_value=0) | json_values,
                },
            )
            | json_values,
            "error": st.fixed_dictionaries(
                {}, optional={"type": json_values, "message": json_values}
            )
            | json_values,
        },
    ).map(lambda value: json.dumps(value).encode())
)
extra_headers = st.lists(
    st.sampled_from(
        [
            ("Content-Type", "application/json"),
            ("Content-Type", "text/html"),
            ("Retry-After", "1"),
            ("Retry-After", "nonsense"),
            ("retry-after-ms", "5"),
            ("Location", "/v1/elsewhere"),
        ]
    ),
    max_size=3,
)


@SETTINGS
@given(status=statuses, body=bodies, headers=extra_headers, request_id=st.booleans())
def test_any_response_gives_a_chat_response_or_a_convokit_error(
    server: FaultServer,
    client: Client,
    status: int,
    body: bytes,
    headers: list[tuple[str, str]],
    request_id: bool,
) -> None:
    server.then(raw(status, body, headers, request_id=request_id, keep_alive=False))
    try:
        result = client.chat(message="Hello", max_retries=0, timeout=5)
    except ConvoKitError as error:
        event(type(error).__name__)
        if request_id and 200 <= status < 600 and hasattr(error, "status_code"):
            assert error.request_id is not None
        return
    event("ChatResponse")
    assert isinstance(result, ChatResponse)
    assert 200 <= status < 300
    data = json.loads(body)
    assert result.reply == data["reply"]
    assert result.usage.total_tokens == data["usage"]["total_tokens"]
    assert all(
        isinstance(data["usage"][name], int) and not math.isnan(data["usage"][name])
        for name in ("prompt_tokens", "completion_tokens", "total_tokens")
    )
