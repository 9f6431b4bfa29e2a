"""Conversation and AsyncConversation: one thread of messages, its id carried from turn to turn.

Everything but the `await` lives in _ConversationBase, so the two helpers cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, Unpack

from ._options import chat_operation, operation_spellings

if TYPE_CHECKING:
    from ._models import ChatMessage, ChatOptionalKeywords, ChatOptions, ChatResponse

__all__ = ["AsyncConversation", "Conversation"]


class _Chats(Protocol):
    """What a Conversation needs of its client: Client.chat."""

    def chat(
        self, options: ChatOptions, /, **kwargs: Unpack[ChatOptionalKeywords]
    ) -> ChatResponse: ...


class _AsyncChats(Protocol):
    """What an AsyncConversation needs of its client: AsyncClient.chat."""

    def chat(
        self, options: ChatOptions, /, **kwargs: Unpack[ChatOptionalKeywords]
    ) -> Awaitable[ChatResponse]: ...


AnyClient = TypeVar("AnyClient", _Chats, _AsyncChats)


class _ConversationBase(Generic[AnyClient]):
    """What both helpers share: their client, the thread's id, its turns, and the ids each
    message carries (only send() differs)."""

    __slots__ = ("_busy", "_client", "_id", "_instance_id", "_turns", "_widget_id")

    def __init__(
        self,
        client: AnyClient,
        widget_id: str | None = None,
        instance_id: str | None = None,
        *,
        conversation_id: str | None = None,
    ) -> None:
        self._client: AnyClient = client
        self._widget_id = _checked_id("widget_id", widget_id)
        self._instance_id = _checked_id("instance_id", instance_id)
        self._id = _checked_id("conversation_id", conversation_id)
        self._turns: list[ChatMessage] = []
        # A second message sent before the first one's reply would start a second
        # thread (no id yet) or interleave turns: one message at a time, refused otherwise.
        self._busy = threading.Lock()

    @property
    def id(self) -> str | None:
        """The conversation id the API assigned (None until the first reply)."""
        return self._id

    @property
    def history(self) -> list[ChatMessage]:
        """The turns so far, oldest first (a copy)."""
        return list(self._turns)

    def _begin(self, message: str, options: Mapping[str, Any]) -> ChatOptions:
        """The chat() options of the next message; marks the thread busy until `_record()`
        or `_busy.release()`."""
        for spelling in options:
            if operation_spellings(chat_operation()).get(spelling) == "conversation_id":
                raise TypeError(
                    "Conversation.send() sets conversation_id itself; to continue an existing "
                    "thread, use client.conversation(conversation_id=...)"
                )
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "This conversation is still waiting for a reply: send one message at a time "
                "(or use one conversation per concurrent thread)."
            )
        # A JS-style dict, its keys checked by mypy against the generated ChatOptions. An id
        # not set is left out: a widget_id= in `options` then goes through as given.
        fields: ChatOptions = {"message": message}
        if self._id is not None:
            fields["conversationId"] = self._id
        if self._widget_id is not None:
            fields["widgetId"] = self._widget_id
        if self._instance_id is not None:
            fields["instanceId"] = self._instance_id
        return fields

    def _record(self, message: str, response: ChatResponse) -> ChatResponse:
        """Adds a sent message and its reply to the thread, and frees it for the next one."""
        from ._models import ChatMessage  # loaded by the reply already

        self._id = response.conversation_id
        self._turns += [
            ChatMessage(role="user", content=message),
            ChatMessage(role="assistant", content=response.reply),
        ]
        self._busy.release()
        return response

    def __repr__(self) -> str:
        return f"<convokit.{type(self).__name__} id={self._id!r} turns={len(self._turns)}>"


def _checked_id(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty (leave it out instead)")
    return value


class Conversation(_ConversationBase[_Chats]):
    """One conversation thread: `conv.send("Hi")`, then `conv.send("And then?")` in the same thread.

    Made by `client.conversation(widget_id=None, instance_id=None)`. `id` is None
    until the first reply; `history` is the list of turns so far (a user
    ChatMessage and an assistant ChatMessage per successful send). A failed send
    leaves both unchanged. Send one message at a time.
    """

    __slots__ = ()

    def send(self, message: str, /, **options: Unpack[ChatOptionalKeywords]) -> ChatResponse:
        """Sends the next user message in this thread and returns the reply.

        `options` are chat()'s other options (timeout, max_retries, idempotency_key, ...).
        """
        fields = self._begin(message, options)
        try:
            response = self._client.chat(fields, **options)
        except BaseException:
            self._busy.release()  # the thread stays as it was
            raise
        return self._record(message, response)


class AsyncConversation(_ConversationBase[_AsyncChats]):
    """The async twin of Conversation: `await conv.send("Hi")`."""

    __slots__ = ()

    async def send(self, message: str, /, **options: Unpack[ChatOptionalKeywords]) -> ChatResponse:
        """Sends the next user message in this thread and returns the reply; see Conversation."""
        fields = self._begin(message, options)
        try:
            response = await self._client.chat(fields, **options)
        except BaseException:
            self._busy.release()  # the thread stays as it was
            raise
        return self._record(message, response)
