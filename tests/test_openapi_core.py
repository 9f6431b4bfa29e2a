"""End to end through openapi-core: every request the SDK sends to MockServer and every
response MockServer returns is validated against openapi.yaml (tests/_contract.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _contract import (
    CONTRACT_API_KEY,
    DOCUMENTED_ERRORS,
    ERRORS_OF_THEIR_OWN,
    ContractCheckedServer,
    ContractValidator,
    ContractViolation,
    ValidatingTransport,
    error_class,
    error_example,
)

import convokit
from convokit import ConflictError, NotFoundError, PermissionDeniedError
from convokit.testing import MockServer


@pytest.fixture
def checked(contract_checked_server: ContractCheckedServer) -> Iterator[ContractCheckedServer]:
    """The session's contract-checked server; asserts that each exchange of the test was
    validated: the validator's count grows exactly as the server's request log does."""
    validator, server = contract_checked_server.validator, contract_checked_server.server
    checked_before, received_before = validator.exchanges_checked, len(server.requests)
    yield contract_checked_server
    received = len(server.requests) - received_before
    assert received > 0, "the test sent nothing through the validator"
    assert validator.exchanges_checked - checked_before == received


def exchanges_since(checked: ContractCheckedServer, start: int) -> int:
    return checked.validator.exchanges_checked - start


def test_every_status_with_an_error_class_of_its_own_is_documented() -> None:
    # At least these (each is tested below, with every other status the spec documents).
    assert {*ERRORS_OF_THEIR_OWN, 500, 503} <= set(DOCUMENTED_ERRORS)


def test_a_conversation_with_every_body_option(checked: ContractCheckedServer) -> None:
    start = checked.validator.exchanges_checked
    with checked.client() as client:
        first = client.chat(message="What are your support hours?")
        second = client.chat(
            message="And on weekends?",
            conversation_id=first.conversation_id,
            widget_id="support-page",
            instance_id="my-bot",
        )
        third = client.chat(
            {
                "message": "What did I just ask?",
                "conversationId": first.conversation_id,
                "widgetId": "support-page",
                "instanceId": "my-bot",
                "chatHistory": [],
            }
        )
    assert second.conversation_id == third.conversation_id == first.conversation_id
    assert "turn 3" in third.reply
    assert exchanges_since(checked, start) == 3


@pytest.mark.parametrize("role", ["user", "assistant", "system"])
def test_chat_history_with_each_role(checked: ContractCheckedServer, role: str) -> None:
    history = [{"role": role, "content": f"an earlier {role} turn"}]
    with checked.client() as client:
        snake = client.chat(message="Hi", chat_history=history)
        camel = client.chat({"message": "Hi", "chatHistory": history})
    assert snake.usage.prompt_tokens == camel.usage.prompt_tokens > 1
    assert checked.server.requests[-1].body["chatHistory"] == history


def test_a_full_history_with_all_roles(checked: ContractCheckedServer) -> None:
    history = [
        {"role": "system", "content": "You are the support bot."},
        {"role": "user", "content": "What are your support hours?"},
        {"role": "assistant", "content": "We are open 9am-5pm Monday to Friday."},
    ]
    with checked.client() as client:
        response = client.chat(message="What did I just ask?", chat_history=history)
    assert response.usage.total_tokens == (
        response.usage.prompt_tokens + response.usage.completion_tokens
    )


def test_idempotency_key_replay_and_conflict(checked: ContractCheckedServer) -> None:
    with checked.client(max_retries=0) as client:
        first = client.chat(message="Charge once", idempotency_key="contract-key-1")
        replay = client.chat(message="Charge once", idempotency_key="contract-key-1")
        with pytest.raises(ConflictError) as conflict:
            client.chat(message="Something else", idempotency_key="contract-key-1")
    assert replay.conversation_id == first.conversation_id
    assert conflict.value.error_type == "idempotency_error"
    sent = [request.headers.get("idempotency-key") for request in checked.server.requests[-3:]]
    assert sent == ["contract-key-1"] * 3


def test_extra_headers_default_headers_and_per_call_options(
    checked: ContractCheckedServer,
) -> None:
    with checked.client(default_headers={"X-Team": "support"}) as client:
        tuned = client.with_options(timeout=20, max_retries=1)
        response = tuned.chat(
            message="Hi",
            extra_headers={"X-Trace-Id": "trace-1"},
            timeout=10,
            total_timeout=30,
            max_retries=0,
        )
    assert response.request_id
    headers = checked.server.requests[-1].headers
    assert headers["x-team"] == "support"
    assert headers["x-trace-id"] == "trace-1"


def test_an_unknown_conversation_is_a_not_found_error(checked: ContractCheckedServer) -> None:
    with checked.client() as client, pytest.raises(NotFoundError) as error:
        client.chat(message="Hi", conversation_id="conv_does_not_exist")
    assert error.value.error_type == "not_found_error"
    assert error.value.param == "conversationId"


@pytest.mark.parametrize("status", DOCUMENTED_ERRORS)
def test_each_documented_error_is_the_typed_error(
    checked: ContractCheckedServer, status: int
) -> None:
    checked.server.fail_next(status)
    with checked.client(max_retries=0) as client, pytest.raises(convokit.APIStatusError) as error:
        client.chat(message="Hi")
    assert type(error.value) is error_class(status)
    assert error.value.status_code == status
    assert error.value.error_type == error_example(status)["type"]
    assert error.value.request_id


def test_retries_are_validated_too(checked: ContractCheckedServer, no_sleep: None) -> None:
    checked.server.fail_next(503, times=2, retry_after=1)
    start = checked.validator.exchanges_checked
    with checked.client(max_retries=2) as client:
        response = client.chat(message="Hi after an outage", idempotency_key="contract-retry")
    assert response.reply
    assert exchanges_since(checked, start) == 3
    keys = {request.headers["idempotency-key"] for request in checked.server.requests[-3:]}
    assert keys == {"contract-retry"}


@pytest.mark.anyio
async def test_async_calls_are_validated(
    checked: ContractCheckedServer, no_sleep: None, anyio_backend: str
) -> None:
    start = checked.validator.exchanges_checked
    history: list[dict[str, Any]] = [
        {"role": role, "content": f"{role} turn"} for role in ("system", "user", "assistant")
    ]
    async with checked.async_client() as client:
        first = await client.chat(message="Hello", chat_history=history, instance_id="my-bot")
        second = await client.chat(
            {"message": "Again", "conversationId": first.conversation_id, "widgetId": "w"},
            idempotency_key=f"contract-async-{anyio_backend}",  # one server for both runs
            extra_headers={"X-Trace-Id": "trace-async"},
        )
        checked.server.fail_next(429, retry_after=1)
        third = await client.chat(
            message="After a rate limit", conversation_id=first.conversation_id
        )
        checked.server.fail_next(403)
        with pytest.raises(PermissionDeniedError):
            await client.chat(message="Forbidden", max_retries=0)
    assert first.conversation_id == second.conversation_id == third.conversation_id
    assert exchanges_since(checked, start) == 5


def test_the_transport_fails_the_call_on_an_undocumented_response() -> None:
    validator = ContractValidator()
    with MockServer(api_key=CONTRACT_API_KEY) as server:
        server.fail_next(418)
        transport = ValidatingTransport(validator)
        with httpx.Client(transport=transport) as http:
            client = convokit.create_client(
                CONTRACT_API_KEY, base_url=server.base_url, http_client=http, max_retries=0
            )
            # Nothing but a ConvoKitError leaves chat(): the violation is its cause.
            with pytest.raises(convokit.ConvoKitError) as failure:
                client.chat(message="Hi")
    assert isinstance(failure.value.__cause__, ContractViolation)
    assert "Unknown response http status: 418" in str(failure.value.__cause__)
    assert validator.exchanges_checked == 1
    assert validator.violations == [
        "POST /v1/chat: response 418: ResponseNotFound: Unknown response http status: 418"
    ]
