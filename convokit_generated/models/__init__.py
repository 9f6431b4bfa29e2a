"""Contains all the data models used in inputs/outputs"""

from .chat_message import ChatMessage
from .chat_message_role import ChatMessageRole
from .chat_request import ChatRequest
from .chat_response import ChatResponse
from .error_body import ErrorBody
from .error_detail import ErrorDetail
from .usage import Usage

__all__ = (
    "ChatMessage",
    "ChatMessageRole",
    "ChatRequest",
    "ChatResponse",
    "ErrorBody",
    "ErrorDetail",
    "Usage",
)
