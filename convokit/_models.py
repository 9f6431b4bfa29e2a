"""The typed data of a chat call: the generated models and the JS-style options dict."""

from __future__ import annotations

from convokit_generated.api import (
    OPERATIONS,
    ChatMessageDict,
    ChatResponse,
    CreateChatKeywords,
    CreateChatOptionalKeywords,
    CreateChatOptions,
)
from convokit_generated.models import ChatMessage, Usage

__all__ = ["ChatMessage", "ChatMessageDict", "ChatOptions", "ChatResponse", "Usage"]


# Subclasses, not aliases, so that type checkers' messages name them as convokit does.
class ChatOptions(CreateChatOptions, total=False):
    """The JS SDK's chat options as one dict (`{"message": ..., "conversationId": ...}`):
    the request body's fields by their JSON names, and the per-call options in camelCase.
    Generated from openapi.yaml: a field added there is a key here after regeneration."""


class ChatKeywords(CreateChatKeywords, total=False):
    """chat()'s keyword arguments, in snake_case or camelCase (`message` required)."""


class ChatOptionalKeywords(CreateChatOptionalKeywords, total=False):
    """chat()'s keyword arguments beside a dict of options or the message itself (also
    `Conversation.send()`'s)."""


CHAT = OPERATIONS["create_chat"]
"""The operation chat() is the curated entry point of (`client.api.create_chat`)."""
