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
from _strategies import camel_case, chat_body_schema, chat_operation, snake_case, valid_values
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from convokit import APITimeoutError, ChatResponse, Client, ConvoKitError, create_client

KEY = "sk_test_properties_0123"
CHAT_REQUEST = validator_at("/components/schemas/ChatRequest")
CHAT_RESPONSE = validator_at("/components/schemas/ChatResponse")

# The chat operation's body fields and header parameters, from openapi.yaml (not from
# convokit, so that the test does not share the code's idea of what is valid): chat()
# takes each by its snake_case name and by its wire (camelCase) name.
SPEC_SCHEMAS: dict[str, dict[str, Any]] = {
    **chat_body_schema()["properties"],
    **{
        parameter["name"]: parameter["schema"]
        for parameter in chat_operation().get("parameters", [])
        if parameter["in"] == "header"
    },
}
SPEC_SPELLINGS = sorted(
    {spelling for name in SPEC_SCHEMAS for spelling in (snake_case(name), camel_case(name))}
)
# The per-call options, with the JS SDK's spellings (the client's own, not the spec's).
CALL_SPELLINGS = [
    "timeout",
    "total_timeout",
    "totalTimeout",
    "max_retries",
    "maxRetries",
    "extra_headers",
    "extraHeaders",
]
OPTION_SPELLINGS = [*SPEC_SPELLINGS, *CALL_SPELLINGS]


def _schemas_in(schema: Any) -> list[dict[str, Any]]:
    """`schema` and every schema inside it."""
    if not isinstance(schema, dict):
        return []
    inner = [*schema.get("properties", {}).values(), schema.get("items")]
    return [schema, *(found for part in inner for found in _schemas_in(part))]


_EVERY_SCHEMA = [found for schema in SPEC_SCHEMAS.values() for found in _schemas_in(schema)]
# Words the spec's schemas name (enum values, property names): near misses look like them.
SPEC_WORDS = sorted(
    {value for found in _EVERY_SCHEMA for value in found.get("enum", ()) if isinstance(value, str)}
)
SPEC_KEYS = sorted({name for found in _EVERY_SCHEMA for name in found.get("properties", {})})
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
    | st.sampled_from([*SPEC_WORDS, "Hello", "conv_1", ""]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(SPEC_KEYS), children, max_size=4)
    ),
    max_leaves=12,
)
header_names = st.sampled_from(["X-Trace", "x-team", "User-Agent", "Authorization"]) | st.text(
    max_size=10
)
header_values = st.sampled_from(["abc", "", "a b"]) | st.text(max_size=10)
seconds = st.floats(min_value=0.001, max_value=10) | st.integers(min_value=-3, max_value=5)


def _relevant(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the kind `schema` describes: valid ones, and arrays of valid and any items."""
    items = schema.get("items")
    if isinstance(items, dict):
        return valid_values(schema) | st.lists(valid_values(items) | json_values, max_size=3)
    return valid_values(schema)


# For each option, values of the kind it takes (right or nearly right), besides any JSON value.
RELEVANT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{snake_case(name): _relevant(schema) for name, schema in SPEC_SCHEMAS.items()},
    "timeout": seconds,
    "total_timeout": seconds,
    "max_retries": st.integers(min_value=-2, max_value=3),
    "extra_headers": st.dictionaries(header_names, header_values, max_size=3),
}


def values_for(spelling: str) -> st.SearchStrategy[Any]:
    relevant = RELEVANT_VALUES.get(snake_case(spelling))
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
# The spec's required body fields, with valid values, three times in four.
_BODY = chat_body_schema()
with_or_without_required = st.integers(min_value=0, max_value=3).flatmap(
    lambda dice: (
        st.just({})
        if dice == 0
        else st.fixed_dictionaries(
            {name: valid_values(_BODY["properties"][name]) for name in _BODY.get("required", ())}
        )
    )
)
option_dicts = with_or_without_required.flatmap(
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
