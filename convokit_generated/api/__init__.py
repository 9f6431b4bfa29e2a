"""Every operation of the API: its descriptor, and a typed method that calls it.

Generated from openapi.yaml by scripts/regen.sh (templates/api_init.py.jinja); never edit
by hand. `convokit` is the supported client: `client.api.<name>(...)` calls these methods
with its own auth, retries, deadlines and typed errors. The descriptors are plain data
for any client or mock server to read.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, Final, Literal, NamedTuple, Required, TypedDict

import attrs
import httpx

from .. import models as _models
from ..models import (
    ChatMessage,
    ChatMessageRole,
    ChatRequest,
    ErrorBody,
    ErrorDetail,
    Usage,
)
from ..operations_data import OPERATIONS as _OPERATIONS_DATA
from ..types import UNSET, Unset
from .chat import create_chat

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
"""The request header with which an operation declares that the server runs one key once."""
_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

ParameterLocation = Literal["path", "query", "header"]

# The descriptors' parts are NamedTuples, not attrs classes: this module loads with a
# client's first call, and each attrs class costs it about half a millisecond.


class Parameter(NamedTuple):
    """A path, query or header parameter of an operation."""

    python_name: str
    wire_name: str
    location: ParameterLocation
    required: bool
    schema: Mapping[str, Any]


class BodyField(NamedTuple):
    """One property of an operation's JSON request body."""

    python_name: str
    wire_name: str
    required: bool
    schema: Mapping[str, Any]
    location: Literal["body"] = "body"
    """Where the value goes, as for a Parameter."""


class DocumentedResponse(NamedTuple):
    """A response the spec documents for an operation, with its examples."""

    status: int
    description: str
    content_type: str | None
    schema: Mapping[str, Any] | None
    examples: tuple[Any, ...]


@attrs.frozen(eq=False)
class Operation:
    """What one operation takes and answers. Each is made once (OPERATIONS): compared and
    hashed by identity, so that a client can cache what it works out per operation."""

    name: str
    """Python name: the operationId in snake_case (`create_chat`)."""
    operation_id: str
    method: str
    path: str
    """Path template, e.g. `/v1/conversations/{conversationId}`."""
    module: ModuleType
    """The generated endpoint module (build_request, parse_response, BodyDict)."""
    parameters: tuple[Parameter, ...]
    body_model: type | None
    body_fields: tuple[BodyField, ...]
    body_required: bool
    body_schema: Mapping[str, Any] | None
    content_type: str | None
    response_model: type | None
    """The 2xx response's model, with a `request_id` attribute."""
    responses: Mapping[int, DocumentedResponse]
    idempotency_key: Parameter | None = attrs.field(init=False)
    """The operation's Idempotency-Key header parameter, if it declares one."""
    idempotent: bool = attrs.field(init=False)
    """Safe to send twice: an idempotent method, or the server runs one Idempotency-Key once."""

    def __attrs_post_init__(self) -> None:
        key = next(
            (
                parameter
                for parameter in self.parameters
                if parameter.location == "header" and parameter.wire_name.lower() == IDEMPOTENCY_KEY_HEADER.lower()
            ),
            None,
        )
        object.__setattr__(self, "idempotency_key", key)
        object.__setattr__(self, "idempotent", self.method in _IDEMPOTENT_METHODS or key is not None)

    @property
    def errors(self) -> Mapping[int, DocumentedResponse]:
        """The documented 4xx and 5xx responses, by status."""
        return {status: response for status, response in self.responses.items() if status >= 400}


@attrs.define
class ChatResponse(_models.ChatResponse):
    """ChatResponse, with the `X-Request-Id` of the response that carried it."""

    request_id: str | None = attrs.field(default=None, kw_only=True)
    """The response's `X-Request-Id`: quote it when contacting support."""


_WITH_REQUEST_ID: Final[Mapping[type, type]] = {
    _models.ChatResponse: ChatResponse,
}


def _describe(module: ModuleType) -> Operation:
    data = _OPERATIONS_DATA[module.NAME]
    python_names: dict[tuple[str, str], str] = {}
    for location, names in (
        ("path", module.PATH_PARAMETERS),
        ("query", module.QUERY_PARAMETERS),
        ("header", module.HEADER_PARAMETERS),
    ):
        python_names.update({(location, wire): python for python, wire in names.items()})
    parameters = tuple(
        Parameter(
            python_name=python_names[(item["in"], item["name"])],
            wire_name=item["name"],
            location=item["in"],
            required=item["required"],
            schema=item["schema"],
        )
        for item in data["parameters"]
        if (item["in"], item["name"]) in python_names
    )
    body = data["body"]
    properties: Mapping[str, Any] = {} if body is None else body["schema"].get("properties", {})
    return Operation(
        name=module.NAME,
        operation_id=data["operation_id"],
        method=data["method"],
        path=data["path"],
        module=module,
        parameters=parameters,
        body_model=module.BODY_MODEL,
        body_fields=tuple(
            BodyField(
                python_name=python,
                wire_name=wire,
                required=python in module.REQUIRED_BODY_FIELDS,
                schema=properties.get(wire, {}),
            )
            for python, wire in module.BODY_FIELDS.items()
        ),
        body_required=body is not None and body["required"],
        body_schema=None if body is None else body["schema"],
        content_type=None if body is None else body["content_type"],
        response_model=_WITH_REQUEST_ID.get(module.RESPONSE_MODEL, module.RESPONSE_MODEL),
        responses={
            int(status): DocumentedResponse(
                status=int(status),
                description=response["description"],
                content_type=response["content_type"],
                schema=response["schema"],
                examples=tuple(response["examples"]),
            )
            for status, response in data["responses"].items()
            if status.isdigit()
        },
    )


OPERATIONS: Final[Mapping[str, Operation]] = {
    "create_chat": _describe(create_chat),
}
"""Every operation, by Python name."""

Timeout = float | httpx.Timeout | None

CALL_OPTIONS: Final = (
    "timeout",
    "total_timeout",
    "max_retries",
    "extra_headers",
)
"""The per-call options every method takes besides the operation's own arguments."""


class SyncApi:
    """Every operation as a typed method (`client.api` of a convokit.Client)."""

    __slots__ = ("_call",)

    def __init__(self, call: Callable[[Operation, dict[str, Any]], Any]) -> None:
        self._call = call

    def create_chat(
        self,
        *,
        message: str,
        conversation_id: str | Unset = UNSET,
        widget_id: str | Unset = UNSET,
        instance_id: str | Unset = UNSET,
        chat_history: list[ChatMessage] | Unset = UNSET,
        idempotency_key: str | Unset = UNSET,
        timeout: Timeout | Unset = UNSET,
        total_timeout: float | None | Unset = UNSET,
        max_retries: int | Unset = UNSET,
        extra_headers: Mapping[str, str] | Unset = UNSET,
    ) -> ChatResponse:
        """Send a message and get the AI's reply"""
        result: ChatResponse = self._call(
            OPERATIONS["create_chat"],
            {
                "idempotency_key": idempotency_key,
                "message": message,
                "conversation_id": conversation_id,
                "widget_id": widget_id,
                "instance_id": instance_id,
                "chat_history": chat_history,
                "timeout": timeout,
                "total_timeout": total_timeout,
                "max_retries": max_retries,
                "extra_headers": extra_headers,
            },
        )
        return result


class AsyncApi:
    """Every operation as a typed coroutine method (`client.api` of a convokit.AsyncClient)."""

    __slots__ = ("_call",)

    def __init__(self, call: Callable[[Operation, dict[str, Any]], Awaitable[Any]]) -> None:
        self._call = call

    async def create_chat(
        self,
        *,
        message: str,
        conversation_id: str | Unset = UNSET,
        widget_id: str | Unset = UNSET,
        instance_id: str | Unset = UNSET,
        chat_history: list[ChatMessage] | Unset = UNSET,
        idempotency_key: str | Unset = UNSET,
        timeout: Timeout | Unset = UNSET,
        total_timeout: float | None | Unset = UNSET,
        max_retries: int | Unset = UNSET,
        extra_headers: Mapping[str, str] | Unset = UNSET,
    ) -> ChatResponse:
        """Send a message and get the AI's reply"""
        result: ChatResponse = await self._call(
            OPERATIONS["create_chat"],
            {
                "idempotency_key": idempotency_key,
                "message": message,
                "conversation_id": conversation_id,
                "widget_id": widget_id,
                "instance_id": instance_id,
                "chat_history": chat_history,
                "timeout": timeout,
                "total_timeout": total_timeout,
                "max_retries": max_retries,
                "extra_headers": extra_headers,
            },
        )
        return result


class ChatRequestDict(TypedDict, total=False):
    message: Required["str"]
    conversationId: "str"
    widgetId: "str"
    instanceId: "str"
    chatHistory: "Sequence[ChatMessage | ChatMessageDict]"


ChatRequestDict.__doc__ = """ChatRequest as a dict of its JSON fields (what its to_dict() returns):
a request takes either."""


class ChatMessageDict(TypedDict, total=False):
    role: Required["ChatMessageRole"]
    content: Required["str"]


ChatMessageDict.__doc__ = """ChatMessage as a dict of its JSON fields (what its to_dict() returns):
a request takes either."""


class ChatResponseDict(TypedDict, total=False):
    reply: Required["str"]
    conversation_id: Required["str"]
    usage: Required["Usage | UsageDict"]


ChatResponseDict.__doc__ = """ChatResponse as a dict of its JSON fields (what its to_dict() returns):
a request takes either."""


class UsageDict(TypedDict, total=False):
    prompt_tokens: Required["int"]
    completion_tokens: Required["int"]
    total_tokens: Required["int"]


UsageDict.__doc__ = """Usage as a dict of its JSON fields (what its to_dict() returns):
a request takes either."""


class ErrorBodyDict(TypedDict, total=False):
    error: Required["ErrorDetail | ErrorDetailDict"]


ErrorBodyDict.__doc__ = """ErrorBody as a dict of its JSON fields (what its to_dict() returns):
a request takes either."""


class ErrorDetailDict(TypedDict, total=False):
    type: Required["str"]
    message: Required["str"]
    code: "str"
    param: "str"


ErrorDetailDict.__doc__ = """ErrorDetail as a dict of its JSON fields (what its to_dict() returns):
a request takes either."""


class CreateChatOptions(TypedDict, total=False):
    message: Required["str"]
    conversationId: "str | None"
    widgetId: "str | None"
    instanceId: "str | None"
    chatHistory: "Sequence[ChatMessage | ChatMessageDict] | None"
    idempotencyKey: "str | None"
    timeout: "Timeout"
    totalTimeout: "float | None"
    maxRetries: "int"
    extraHeaders: "Mapping[str, str]"


CreateChatOptions.__doc__ = """create_chat's options as one JS-style dict: the body's fields by their
JSON names, the parameters and per-call options in camelCase."""


class CreateChatOptionalKeywords(TypedDict, total=False):
    conversation_id: "str | None"
    conversationId: "str | None"
    widget_id: "str | None"
    widgetId: "str | None"
    instance_id: "str | None"
    instanceId: "str | None"
    chat_history: "Sequence[ChatMessage | ChatMessageDict] | None"
    chatHistory: "Sequence[ChatMessage | ChatMessageDict] | None"
    idempotency_key: "str | None"
    idempotencyKey: "str | None"
    timeout: "Timeout"
    total_timeout: "float | None"
    totalTimeout: "float | None"
    max_retries: "int"
    maxRetries: "int"
    extra_headers: "Mapping[str, str]"
    extraHeaders: "Mapping[str, str]"


CreateChatOptionalKeywords.__doc__ = """create_chat's keyword arguments beside its required body fields (given
in a dict, or alone), in every accepted spelling: all optional."""


class CreateChatKeywords(TypedDict, total=False):
    message: Required["str"]
    conversation_id: "str | None"
    conversationId: "str | None"
    widget_id: "str | None"
    widgetId: "str | None"
    instance_id: "str | None"
    instanceId: "str | None"
    chat_history: "Sequence[ChatMessage | ChatMessageDict] | None"
    chatHistory: "Sequence[ChatMessage | ChatMessageDict] | None"
    idempotency_key: "str | None"
    idempotencyKey: "str | None"
    timeout: "Timeout"
    total_timeout: "float | None"
    totalTimeout: "float | None"
    max_retries: "int"
    maxRetries: "int"
    extra_headers: "Mapping[str, str]"
    extraHeaders: "Mapping[str, str]"


CreateChatKeywords.__doc__ = """create_chat's keyword arguments in every accepted spelling (snake_case,
camelCase, JSON names); a required one that has a single spelling is Required."""
