from typing import Any, Required, TypedDict

from ...models.chat_request import ChatRequest
from ...models.chat_response import ChatResponse
from ...types import UNSET, Unset

METHOD = "POST"
PATH = "/v1/chat"
NAME = "create_chat"
"""The operation's Python name: its operationId in snake_case, this module's name, and its
key in operations_data.OPERATIONS (its schemas and examples)."""

RESPONSE_MODEL = ChatResponse
"""The model of the documented 2xx response (None when it has no JSON object body)."""

PATH_PARAMETERS: dict[str, str] = {}
"""Path parameters: Python argument name -> name in the path template."""

QUERY_PARAMETERS: dict[str, str] = {}
"""Query parameters: Python argument name -> name in the query string."""

BODY_FIELDS: dict[str, str] = {
    "message": "message",
    "conversation_id": "conversationId",
    "widget_id": "widgetId",
    "instance_id": "instanceId",
    "chat_history": "chatHistory",
}
"""Request body fields: Python attribute name of ChatRequest -> JSON name on the wire."""

BODY_MODEL = ChatRequest
"""The request body's model."""

REQUIRED_BODY_FIELDS: frozenset[str] = frozenset(
    {
        "message",
    }
)
"""Python names of the request body fields the spec requires."""


# The request body as a JSON-style dict, keyed by wire names.
class BodyDict(TypedDict, total=False):
    message: Required[str]
    conversationId: str
    widgetId: str
    instanceId: str
    chatHistory: list[dict[str, Any]]


HEADER_PARAMETERS: dict[str, str] = {
    "idempotency_key": "Idempotency-Key",
}
"""Header parameters: Python argument name -> HTTP header name."""


def build_request(
    *,
    body: ChatRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    """Keyword arguments for httpx's `request()`: method, url, body and headers of this operation."""
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": METHOD,
        "url": PATH,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs
