from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.chat_message import ChatMessage


T = TypeVar("T", bound="ChatRequest")


@_attrs_define
class ChatRequest:
    """One user message, with optional threading and context.

    Attributes:
        message (str): The user message to send (not blank).
        conversation_id (str | Unset): Use for follow-up messages in the same thread (the `conversation_id` of an
            earlier reply).
        widget_id (str | Unset): Identifier for grouping (e.g. bot name, channel).
        instance_id (str | Unset): The bot instance that answers (e.g. `my-bot`).
        chat_history (list[ChatMessage] | Unset): Previous messages for context. When you have a `conversationId` you
            can
            omit it: the backend already has the thread.
    """

    message: str
    conversation_id: str | Unset = UNSET
    widget_id: str | Unset = UNSET
    instance_id: str | Unset = UNSET
    chat_history: list[ChatMessage] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        message = self.message

        conversation_id = self.conversation_id

        widget_id = self.widget_id

        instance_id = self.instance_id

        chat_history: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.chat_history, Unset):
            chat_history = []
            for chat_history_item_data in self.chat_history:
                chat_history_item = chat_history_item_data.to_dict()
                chat_history.append(chat_history_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "message": message,
            }
        )
        if conversation_id is not UNSET:
            field_dict["conversationId"] = conversation_id
        if widget_id is not UNSET:
            field_dict["widgetId"] = widget_id
        if instance_id is not UNSET:
            field_dict["instanceId"] = instance_id
        if chat_history is not UNSET:
            field_dict["chatHistory"] = chat_history

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.chat_message import ChatMessage  # noqa: PLC0415

        d = dict(src_dict)
        message = d.pop("message")

        conversation_id = d.pop("conversationId", UNSET)

        widget_id = d.pop("widgetId", UNSET)

        instance_id = d.pop("instanceId", UNSET)

        _chat_history = d.pop("chatHistory", UNSET)
        chat_history: list[ChatMessage] | Unset = UNSET
        if _chat_history is not UNSET:
            chat_history = []
            for chat_history_item_data in _chat_history:
                chat_history_item = ChatMessage.from_dict(chat_history_item_data)

                chat_history.append(chat_history_item)

        chat_request = cls(
            message=message,
            conversation_id=conversation_id,
            widget_id=widget_id,
            instance_id=instance_id,
            chat_history=chat_history,
        )

        return chat_request
