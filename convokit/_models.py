"""The typed data of a chat call: the generated models, plus the response's request id."""

from __future__ import annotations

from typing import TypeAlias

import attrs

from convokit_generated.api.chat.create_chat import BodyDict
from convokit_generated.models import ChatMessage, Usage
from convokit_generated.models import ChatResponse as GeneratedChatResponse

__all__ = ["ChatMessage", "ChatOptions", "ChatResponse", "Usage"]

ChatOptions: TypeAlias = BodyDict
"""The JS SDK's chat options as a dict (`{"message": ..., "conversationId": ...}`), generated
from openapi.yaml's request body."""


@attrs.define
class ChatResponse(GeneratedChatResponse):
    """The AI's reply: `reply`, `conversation_id`, `usage`, and the server's `request_id`.

    Fields the spec adds later are attributes after regeneration; fields the server
    sends that the spec does not know yet are in `additional_properties` (and `res["name"]`).
    """

    request_id: str | None = attrs.field(default=None, kw_only=True)
    """The `X-Request-Id` of the response: quote it when contacting support."""
