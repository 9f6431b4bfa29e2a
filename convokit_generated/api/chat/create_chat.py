from http import HTTPStatus
from typing import Any, Required, TypedDict

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.chat_request import ChatRequest
from ...models.chat_response import ChatResponse
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset

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


def parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ChatResponse | ErrorBody | None:
    """The documented model for the response's status (raises on an undocumented one if the client says so)."""
    if response.status_code == 200:
        response_200 = ChatResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ChatResponse | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=parse_response(client=client, response=response),
    )


def _timeout_argument(timeout: httpx.Timeout | float | None | Unset) -> Any:
    return httpx.USE_CLIENT_DEFAULT if isinstance(timeout, Unset) else timeout


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ChatRequest,
    idempotency_key: str | Unset = UNSET,
    timeout: httpx.Timeout | float | None | Unset = UNSET,
) -> Response[ChatResponse | ErrorBody]:
    """Send a message and get the AI's reply

     Sends one user message. Without `conversationId` a new conversation is
    started; with one, the message is appended to that thread and the AI
    answers with the whole thread as context.

    Args:
        idempotency_key (str | Unset):
        body (ChatRequest): One user message, with optional threading and context.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ChatResponse | ErrorBody]
    """

    response = client.get_httpx_client().request(
        **build_request(
            body=body,
            idempotency_key=idempotency_key,
        ),
        timeout=_timeout_argument(timeout),
    )
    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: ChatRequest,
    idempotency_key: str | Unset = UNSET,
    timeout: httpx.Timeout | float | None | Unset = UNSET,
) -> ChatResponse | ErrorBody | None:
    """Send a message and get the AI's reply

     Sends one user message. Without `conversationId` a new conversation is
    started; with one, the message is appended to that thread and the AI
    answers with the whole thread as context.

    Args:
        idempotency_key (str | Unset):
        body (ChatRequest): One user message, with optional threading and context.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ChatResponse | ErrorBody
    """

    return sync_detailed(client=client, body=body, idempotency_key=idempotency_key, timeout=timeout).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ChatRequest,
    idempotency_key: str | Unset = UNSET,
    timeout: httpx.Timeout | float | None | Unset = UNSET,
) -> Response[ChatResponse | ErrorBody]:
    """Send a message and get the AI's reply

     Sends one user message. Without `conversationId` a new conversation is
    started; with one, the message is appended to that thread and the AI
    answers with the whole thread as context.

    Args:
        idempotency_key (str | Unset):
        body (ChatRequest): One user message, with optional threading and context.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ChatResponse | ErrorBody]
    """

    response = await client.get_async_httpx_client().request(
        **build_request(
            body=body,
            idempotency_key=idempotency_key,
        ),
        timeout=_timeout_argument(timeout),
    )
    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: ChatRequest,
    idempotency_key: str | Unset = UNSET,
    timeout: httpx.Timeout | float | None | Unset = UNSET,
) -> ChatResponse | ErrorBody | None:
    """Send a message and get the AI's reply

     Sends one user message. Without `conversationId` a new conversation is
    started; with one, the message is appended to that thread and the AI
    answers with the whole thread as context.

    Args:
        idempotency_key (str | Unset):
        body (ChatRequest): One user message, with optional threading and context.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ChatResponse | ErrorBody
    """

    return (await asyncio_detailed(client=client, body=body, idempotency_key=idempotency_key, timeout=timeout)).parsed
