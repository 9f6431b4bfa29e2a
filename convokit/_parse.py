"""A 2xx response body as its generated model, checked against the contract."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._exceptions import APIResponseValidationError
from ._schema import Check, compile_schema

if TYPE_CHECKING:
    from convokit_generated.api import Operation


def parse_body(
    operation: Operation, status_code: int, header: Callable[[str], str | None], content: bytes
) -> Any:
    """A 2xx response's body as the operation's response model (with its request_id set),
    or APIResponseValidationError when the body breaks the spec's schema for it. `header`
    looks a response header up, case-insensitively (httpx's or aiohttp's headers' `get`)."""
    request_id = header("x-request-id")
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        text = content.decode("utf-8", errors="replace")
        raise _invalid(status_code, request_id, f"body is not JSON: {text[:200]!r}", text) from None
    problem = _check(operation)(data)
    if problem is not None:
        where = problem.under("body") if not problem.path else problem
        raise _invalid(status_code, request_id, where, data)
    try:
        parsed = operation.response_model.from_dict(data)  # type: ignore[union-attr]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _invalid(status_code, request_id, error, data) from None
    parsed.request_id = request_id
    return parsed


def _invalid(
    status_code: int, request_id: str | None, problem: object, body: object
) -> APIResponseValidationError:
    # A function of its own, not a closure: a valid reply (every call's) makes none.
    return APIResponseValidationError(
        f"{status_code} response does not match the API contract: {problem}",
        status_code=status_code,
        body=body,
        request_id=request_id,
    )


@functools.cache
def _check(operation: Operation) -> Check:
    """The compiled schema of the operation's 2xx body (once per operation, not per call)."""
    schema = next(
        response.schema
        for status, response in sorted(operation.responses.items())
        if 200 <= status < 300 and response.schema is not None
    )
    return compile_schema(schema)
