"""Every error the SDK raises, and the one table from HTTP status to error class."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ._secrets import redact

_SNIPPET_CHARS = 300


class ConvoKitError(Exception):
    """Base class of every error this SDK raises about a call to ConvoKit."""


class APIError(ConvoKitError):
    """A call to the API failed. `request_id` is the server's `X-Request-Id` when it sent one."""

    message: str
    request_id: str | None

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.message = redact(message)
        self.request_id = request_id
        super().__init__(self._text())

    def _text(self) -> str:
        return self.message + (f" (request id {self.request_id})" if self.request_id else "")


class APIConnectionError(APIError):
    """No HTTP response: the connection failed, was reset, or the response was cut off."""


class APITimeoutError(APIConnectionError):
    """The request (or the whole call, with `total_timeout`) took longer than allowed."""


class APIResponseValidationError(APIError):
    """A 2xx response whose body breaks the contract (not JSON, truncated, fields missing)."""

    status_code: int
    body: object

    def __init__(
        self, message: str, *, status_code: int, body: object, request_id: str | None
    ) -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(message, request_id=request_id)


class APIStatusError(APIError):
    """The server answered with an error status (4xx or 5xx).

    `error_type` and `message` come from the documented error body
    `{"error": {"type", "message", ...}}`; for a body that is not one (an HTML
    page from a proxy, an empty body) `error_type` is None and `message` holds a
    snippet of the text. `body` is the parsed JSON, or the text when it was not JSON.
    """

    status_code: int
    error_type: str | None
    code: str | None
    param: str | None
    body: object
    headers: httpx.Headers

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        body: object = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_type = error_type
        self.code = code
        self.param = param
        self.body = body
        self.headers = headers if headers is not None else httpx.Headers()
        super().__init__(message, request_id=request_id)

    def _text(self) -> str:
        kind = f" {self.error_type}" if self.error_type else ""
        return f"{self.status_code}{kind}: {super()._text()}"


class BadRequestError(APIStatusError):
    """400: the request is malformed."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong, revoked, or not a secret key."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this widget or instance."""


class NotFoundError(APIStatusError):
    """404: no such conversation (or path)."""


class ConflictError(APIStatusError):
    """409: the Idempotency-Key was used with another body (`code` "idempotency_key_reused",
    raised at once: no retry can fix it), or its first request is still in flight (raised
    only once the retries run out)."""


class RequestTooLargeError(APIStatusError):
    """413: the request body is too large."""


class UnprocessableEntityError(APIStatusError):
    """422: well-formed but cannot be processed (e.g. too long for the model)."""


class RateLimitError(APIStatusError):
    """429: too many requests; the SDK has already waited `Retry-After` and retried."""


class InternalServerError(APIStatusError):
    """500 and above: a failure on ConvoKit's side (or a proxy in front of it)."""


STATUS_ERRORS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error for an error response, whatever its body (JSON envelope, HTML, empty)."""
    body: Any = _decoded_body(response)
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        message: str = detail["message"]
        error_type = _str_or_none(detail.get("type"))
        code = _str_or_none(detail.get("code"))
        param = _str_or_none(detail.get("param"))
    else:
        message = _snippet(response) or response.reason_phrase.strip() or "no response body"
        error_type = code = param = None
    status = response.status_code
    error_class = (
        InternalServerError if status >= 500 else STATUS_ERRORS.get(status, APIStatusError)
    )
    return error_class(
        message,
        status_code=status,
        request_id=response.headers.get("x-request-id"),
        error_type=error_type,
        code=code,
        param=param,
        body=body,
        headers=response.headers,
    )


def _decoded_body(response: httpx.Response) -> Any:
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; RecursionError is JSON
    # nested thousands deep.
    try:
        return _redacted(json.loads(response.content))
    except (ValueError, RecursionError):
        return redact(response.content.decode("utf-8", errors="replace"))


def _redacted(value: Any) -> Any:
    """`value` with every string in it redacted: a server or proxy may echo the key."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {redact(str(key)): _redacted(item) for key, item in value.items()}
    return value


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.content.decode("utf-8", errors="replace").split())
    if len(text) > _SNIPPET_CHARS:
        text = text[:_SNIPPET_CHARS] + "…"
    return text


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
