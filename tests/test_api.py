"""`client.api.<operation>()`: every operation of the spec on the one call path chat() uses.

Against the raw-socket fault server (which records the exact bytes) and MockServer:
the generic form of chat sends what chat() sends; arguments are checked before any I/O
with the spec's schemas; a request that may have reached the server is sent again only
when the operation is idempotent (here: it declares Idempotency-Key).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from _fault_server import FaultServer, error, ok
from _spec import resolve, spec

import convokit
from convokit import ChatMessage, ChatResponse, create_async_client, create_client
from convokit._models import CHAT
from convokit_generated.api import OPERATIONS, AsyncApi, SyncApi

KEY = "sk_test_generic_api_1234"
KEY_LIMIT: int = resolve(spec()["components"]["parameters"]["IdempotencyKey"])["schema"][
    "maxLength"
]
"""openapi.yaml's limit on an Idempotency-Key."""


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def test_every_operation_of_the_spec_is_a_method_of_client_api() -> None:
    operation_ids = {
        operation["operationId"]
        for path_item in spec()["paths"].values()
        for operation in resolve(path_item).values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    described = {operation.operation_id for operation in OPERATIONS.values()}
    assert operation_ids <= described
    client = create_client(KEY, base_url="http://127.0.0.1:9")
    assert isinstance(client.api, SyncApi)
    assert isinstance(create_async_client(KEY, base_url="http://127.0.0.1:9").api, AsyncApi)
    for name in OPERATIONS:
        assert callable(getattr(client.api, name))


def test_the_generic_form_sends_what_chat_sends(server: FaultServer) -> None:
    history = [{"role": "user", "content": "Earlier"}]
    with create_client(KEY, base_url=server.base_url) as client:
        curated = client.chat(message="Hi", conversation_id="conv_1", chat_history=history)
        generic = client.api.create_chat(
            message="Hi",
            conversation_id="conv_1",
            chat_history=[ChatMessage(role="user", content="Earlier")],
        )
    first, second = server.received
    assert (first.method, first.path) == (second.method, second.path) == (CHAT.method, CHAT.path)
    assert (
        first.json()
        == second.json()
        == {
            "message": "Hi",
            "conversationId": "conv_1",
            "chatHistory": history,
        }
    )
    different = {"idempotency-key"}  # one new key per call
    assert {k: v for k, v in first.headers.items() if k not in different} == {
        k: v for k, v in second.headers.items() if k not in different
    }
    assert first.idempotency_key != second.idempotency_key
    for reply, received in ((curated, first), (generic, second)):
        assert isinstance(reply, ChatResponse)
        assert reply.request_id == f"req_fault_{received.index}"


@pytest.mark.anyio
async def test_the_generic_form_async(server: FaultServer, async_backend: str) -> None:
    async with create_async_client(
        KEY, base_url=server.base_url, http_backend=async_backend
    ) as client:
        reply = await client.api.create_chat(message="Hi", idempotency_key="generic-async-1")
    assert reply.reply == "Hello from the fault server"
    assert reply.request_id is not None
    (received,) = server.received
    assert received.json() == {"message": "Hi"}
    assert received.idempotency_key == "generic-async-1"


@pytest.mark.parametrize(
    ("arguments", "raised", "says"),
    [
        ({"message": ""}, ValueError, "'message' must not be empty"),
        ({"message": 7}, TypeError, "'message' must be a string"),
        ({"message": "Hi", "conversation_id": ""}, ValueError, "'conversation_id'"),
        (
            {"message": "Hi", "chat_history": [{"role": "robot", "content": "x"}]},
            ValueError,
            "chat_history[0].role",
        ),
        (
            {"message": "Hi", "idempotency_key": "x" * (KEY_LIMIT + 1)},
            ValueError,
            f"at most {KEY_LIMIT}",
        ),
        ({"message": "Hi", "idempotency_key": "two words"}, ValueError, "'idempotency_key'"),
        ({"message": "Hi", "max_retries": -1}, ValueError, "'max_retries'"),
    ],
)
def test_bad_arguments_are_refused_before_any_io(
    server: FaultServer, arguments: dict[str, Any], raised: type[Exception], says: str
) -> None:
    with create_client(KEY, base_url=server.base_url) as client, pytest.raises(raised) as refused:
        client.api.create_chat(**arguments)
    assert says in str(refused.value)
    assert server.received == []


def test_the_limits_come_from_the_spec() -> None:
    # The Idempotency-Key limit above is the spec's, read through the descriptor.
    key = CHAT.idempotency_key
    assert key is not None
    assert key.schema["maxLength"] == KEY_LIMIT


def test_an_operation_with_an_idempotency_key_is_retried_with_the_same_key(
    server: FaultServer, no_sleep: None
) -> None:
    server.then(error(503), error(503), ok())
    with create_client(KEY, base_url=server.base_url) as client:
        assert client.api.create_chat(message="Hi").reply
    keys = {received.idempotency_key for received in server.received}
    assert len(server.received) == 3 and len(keys) == 1 and None not in keys


def _without_idempotency_key() -> Any:
    """The chat operation as a spec without its Idempotency-Key would describe it."""
    operation = attrs.evolve(CHAT, parameters=())
    assert not operation.idempotent
    return operation


def test_a_post_without_idempotency_key_is_not_sent_twice_once_it_may_have_arrived(
    server: FaultServer, no_sleep: None
) -> None:
    server.then(error(503), ok())
    operation = _without_idempotency_key()
    with create_client(KEY, base_url=server.base_url) as client:
        call = client._operation_call(operation, {"message": "Hi"})
        with pytest.raises(convokit.InternalServerError):
            client._run(call)
    (received,) = server.received
    assert received.idempotency_key is None


def test_a_post_without_idempotency_key_is_retried_when_it_cannot_have_arrived(
    no_sleep: None, caplog: pytest.LogCaptureFixture
) -> None:
    with FaultServer() as closed:
        base_url = closed.base_url
    operation = _without_idempotency_key()
    with (
        create_client(KEY, base_url=base_url, max_retries=2) as client,
        caplog.at_level(logging.INFO, logger="convokit"),
        pytest.raises(convokit.APIConnectionError),
    ):
        client._run(client._operation_call(operation, {"message": "Hi"}))
    attempts = [record for record in caplog.records if "attempt=" in record.getMessage()]
    numbers = [record.getMessage().split("attempt=")[1].split()[0] for record in attempts]
    assert numbers == ["1", "2", "3"]
