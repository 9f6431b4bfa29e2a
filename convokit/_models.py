"""The typed data of a chat call: the generated models and the JS-style options dict."""

from __future__ import annotations

from typing import TypeAlias

from convokit_generated.api import OPERATIONS, ChatResponse
from convokit_generated.api.chat.create_chat import BodyDict
from convokit_generated.models import ChatMessage, Usage

__all__ = ["ChatMessage", "ChatOptions", "ChatResponse", "Usage"]

ChatOptions: TypeAlias = BodyDict
"""The JS SDK's chat options as a dict (`{"message": ..., "conversationId": ...}`), generated
from openapi.yaml's request body."""

CHAT = OPERATIONS["create_chat"]
"""The operation chat() is the curated entry point of (`client.api.create_chat`)."""
