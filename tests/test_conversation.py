"""client.conversation(): Conversation and AsyncConversation against MockServer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import pytest

import convokit
from convokit import (
    AsyncConversation,
    ChatMessage,
    Conversation,
    InternalServerError,
    create_async_client,
    create_client,
)
from convokit.testing import MockServer

KEY = "sk_test_conversation_123"


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def client(mock: MockServer) -> Iterator[convokit.Client]:
    with create_client(KEY, base_url=mock.base_url, max_retries=0) as client:
        yield client


def turns(conversation: Conversation | AsyncConversation) -> list[tuple[str, str]]:
    return [(turn.role, turn.content) for turn in conversation.history]


def test_the_helpers_are_exported() -> None:
    assert {"Conversation", "AsyncConversation"} <= set(convokit.__all__)


def test_a_new_conversation_has_no_id_and_no_history(client: convokit.Client) -> None:
    conversation = client.conversation()
    assert isinstance(conversation, Conversation)
    assert conversation.id is None
    assert conversation.history == []


def test_send_threads_every_message_after_the_first(
    client: convokit.Client, mock: MockServer
) -> None:
    conversation = client.conversation()
    first = conversation.send("What are your support hours?")
    assert conversation.id == first.conversation_id
    second = conversation.send("And on weekends?")
    assert second.conversation_id == first.conversation_id
    assert second.reply == 'You said: "And on weekends?" (turn 2 of this conversation)'
    assert [request.body for request in mock.requests] == [
        {"message": "What are your support hours?"},
        {"message": "And on weekends?", "conversationId": first.conversation_id},
    ]
    assert turns(conversation) == [
        ("user", "What are your support hours?"),
        ("assistant", first.reply),
        ("user", "And on weekends?"),
        ("assistant", second.reply),
    ]
    assert all(isinstance(turn, ChatMessage) for turn in conversation.history)
    assert mock.conversations[first.conversation_id] == [
        {"role": role, "content": content} for role, content in turns(conversation)
    ]


def test_widget_and_instance_ids_go_with_every_message(
    client: convokit.Client, mock: MockServer
) -> None:
    conversation = client.conversation("support", "my-bot")
    conversation.send("one")
    conversation.send("two")
    for request in mock.requests:
        assert request.body["widgetId"] == "support"
        assert request.body["instanceId"] == "my-bot"


def test_send_passes_chat_options_through(client: convokit.Client, mock: MockServer) -> None:
    conversation = client.conversation()
    conversation.send("Hi", idempotency_key="my-key-1", extra_headers={"X-Trace": "abc"})
    assert mock.requests[-1].headers["idempotency-key"] == "my-key-1"
    assert mock.requests[-1].headers["x-trace"] == "abc"


@pytest.mark.parametrize("spelling", ["conversation_id", "conversationId"])
def test_send_refuses_a_conversation_id_option(
    client: convokit.Client, mock: MockServer, spelling: str
) -> None:
    conversation = client.conversation()
    with pytest.raises(TypeError, match=r"client\.conversation\(conversation_id=\.\.\.\)"):
        conversation.send("Hi", **{spelling: "conv_other"})
    assert mock.requests == []
    conversation.send("Hi")  # the refusal left the conversation usable
    assert conversation.id is not None


def test_a_failed_send_leaves_the_conversation_as_it_was(
    client: convokit.Client, mock: MockServer
) -> None:
    conversation = client.conversation()
    mock.fail_next(500)
    with pytest.raises(InternalServerError):
        conversation.send("lost")
    assert (conversation.id, conversation.history) == (None, [])
    conversation.send("one")
    thread_id = conversation.id
    mock.fail_next(500)
    with pytest.raises(InternalServerError):
        conversation.send("lost again")
    assert conversation.id == thread_id
    assert [content for _, content in turns(conversation)][::2] == ["one"]
    reply = conversation.send("two")
    assert reply.reply.endswith("(turn 2 of this conversation)")


def test_bad_input_is_refused_before_sending(client: convokit.Client, mock: MockServer) -> None:
    conversation = client.conversation()
    with pytest.raises(ValueError, match="message"):
        conversation.send("   ")
    with pytest.raises(TypeError):
        conversation.send(42)  # type: ignore[arg-type]
    assert mock.requests == []
    conversation.send("fine")


def test_history_is_a_copy(client: convokit.Client) -> None:
    conversation = client.conversation()
    conversation.send("Hi")
    conversation.history.clear()
    assert len(conversation.history) == 2


def test_a_conversation_can_continue_an_existing_thread(client: convokit.Client) -> None:
    first = client.chat(message="one")
    conversation = client.conversation(conversation_id=first.conversation_id)
    assert conversation.id == first.conversation_id
    reply = conversation.send("two")
    assert reply.reply.endswith("(turn 2 of this conversation)")
    assert turns(conversation) == [("user", "two"), ("assistant", reply.reply)]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"widget_id": 7}, TypeError),
        ({"instance_id": ""}, ValueError),
        ({"conversation_id": ""}, ValueError),
    ],
)
def test_bad_ids_are_refused_when_the_conversation_is_made(
    client: convokit.Client, arguments: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error, match=next(iter(arguments))):
        client.conversation(**arguments)  # type: ignore[arg-type]


def test_repr_shows_the_id_and_the_number_of_turns(client: convokit.Client) -> None:
    conversation = client.conversation()
    conversation.send("Hi")
    assert repr(conversation) == f"<convokit.Conversation id={conversation.id!r} turns=2>"
    assert KEY not in repr(conversation)


def test_a_second_message_while_waiting_for_a_reply_is_refused() -> None:
    arrived, release = threading.Event(), threading.Event()

    def slow_responder(messages: list[dict[str, str]]) -> str:
        arrived.set()
        release.wait(30)
        return "done"

    with (
        MockServer(responder=slow_responder) as mock,
        create_client(KEY, base_url=mock.base_url) as client,
    ):
        conversation = client.conversation()
        results: list[object] = []
        sender = threading.Thread(target=lambda: results.append(conversation.send("first")))
        sender.start()
        try:
            assert arrived.wait(30)
            with pytest.raises(RuntimeError, match="one message at a time"):
                conversation.send("second")
        finally:
            release.set()
            sender.join(30)
        assert len(results) == 1
        assert len(mock.requests) == 1
        assert turns(conversation) == [("user", "first"), ("assistant", "done")]


@pytest.mark.anyio
async def test_async_conversation_threads_its_messages(
    mock: MockServer, async_backend: str
) -> None:
    async with create_async_client(
        KEY, base_url=mock.base_url, http_backend=async_backend
    ) as client:
        conversation = client.conversation("support")
        assert isinstance(conversation, AsyncConversation)
        assert conversation.id is None
        first = await conversation.send("one")
        second = await conversation.send("two")
    assert conversation.id == first.conversation_id == second.conversation_id
    assert second.reply.endswith("(turn 2 of this conversation)")
    assert turns(conversation) == [
        ("user", "one"),
        ("assistant", first.reply),
        ("user", "two"),
        ("assistant", second.reply),
    ]
    assert mock.requests[-1].body == {
        "message": "two",
        "conversationId": first.conversation_id,
        "widgetId": "support",
    }
    assert repr(conversation).startswith("<convokit.AsyncConversation id='conv_")


@pytest.mark.anyio
async def test_async_failed_send_leaves_the_conversation_as_it_was(
    mock: MockServer, async_backend: str
) -> None:
    async with create_async_client(
        KEY, base_url=mock.base_url, max_retries=0, http_backend=async_backend
    ) as client:
        conversation = client.conversation()
        mock.fail_next(503)
        with pytest.raises(InternalServerError):
            await conversation.send("lost")
        assert (conversation.id, conversation.history) == (None, [])
        with pytest.raises(TypeError):
            await conversation.send("Hi", conversationId="conv_x")
        await conversation.send("kept")
    assert [content for _, content in turns(conversation)][::2] == ["kept"]


@pytest.mark.anyio
async def test_async_second_message_while_waiting_is_refused(async_backend: str) -> None:
    arrived, release = threading.Event(), threading.Event()

    def slow_responder(messages: list[dict[str, str]]) -> str:
        arrived.set()
        release.wait(30)
        return "done"

    with MockServer(responder=slow_responder) as mock:
        async with create_async_client(
            KEY, base_url=mock.base_url, http_backend=async_backend
        ) as client:
            conversation = client.conversation()
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(conversation.send, "first")
                try:
                    assert await anyio.to_thread.run_sync(arrived.wait, 30)
                    with pytest.raises(RuntimeError, match="one message at a time"):
                        await conversation.send("second")
                finally:
                    release.set()
    assert turns(conversation) == [("user", "first"), ("assistant", "done")]
    assert len(mock.requests) == 1
