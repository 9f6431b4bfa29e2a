"""ConvoKit server SDK: send a user's message with your secret key, get the AI's reply.

from convokit import create_client
client = create_client()            # reads CONVOKIT_SECRET_KEY
res = client.chat(message="What are your support hours?")
print(res.reply, res.conversation_id)
"""

from typing import TYPE_CHECKING, Any, Final, TypeAlias

from convokit_generated.types import UNSET, Unset

from ._client import AsyncClient, Client, create_async_client, create_client
from ._conversation import AsyncConversation, Conversation
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConvoKitError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UnprocessableEntityError,
)
from ._options import AsyncClientOptions, ClientOptions
from ._version import __version__

if TYPE_CHECKING:
    from ._models import ChatMessage, ChatMessageDict, ChatOptions, ChatResponse, Usage

_MODELS = frozenset({"ChatMessage", "ChatMessageDict", "ChatOptions", "ChatResponse", "Usage"})


def __getattr__(name: str) -> Any:
    # The generated models (and attrs, which they are made with) are imported when first
    # asked for, here or by the first call, not by `import convokit`: they are two thirds
    # of its import time (docs/benchmarks.md).
    if name in _MODELS:
        from . import _models

        value = globals()[name] = getattr(_models, name)
        return value
    raise AttributeError(f"module 'convokit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODELS})


NotGiven: TypeAlias = Unset
"""The value of an optional response field the server left out, as a type: the class of
`NOT_GIVEN` (for annotations such as `str | NotGiven`)."""

NOT_GIVEN: Final = UNSET
"""What an optional response field reads as when the server left it out: falsy, shown as
`NOT_GIVEN`, and one object, so test it with `res.field is NOT_GIVEN` (its type is
`NotGiven`; the generated code calls it UNSET)."""

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncClientOptions",
    "AsyncConversation",
    "AuthenticationError",
    "BadRequestError",
    "ChatMessage",
    "ChatMessageDict",
    "ChatOptions",
    "ChatResponse",
    "Client",
    "ClientOptions",
    "ConflictError",
    "Conversation",
    "ConvoKitError",
    "InternalServerError",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
    "create_async_client",
    "create_client",
]
