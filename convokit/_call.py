"""One logical chat() call, minus the I/O: the request it sends on every attempt, and
what to do after each attempt (return, wait and retry, or raise). The sync and async
clients drive it; only their sending and sleeping differ."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from convokit_generated.api.chat.create_chat import HEADER_PARAMETERS, build_request
from convokit_generated.models import ChatRequest
from convokit_generated.types import Unset

from ._config import ClientConfig
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    status_error,
)
from ._logging import logger
from ._models import ChatResponse
from ._options import (
    CALL_OPTIONS,
    CHAT_SPELLINGS,
    chat_body,
    check_headers,
    check_idempotency_key,
    check_max_retries,
    check_seconds,
    check_timeout,
    merge_options,
)
from ._retry import is_retryable_exception, is_retryable_status, random_jitter, wait_seconds

ChatInput = Mapping[str, Any] | str | None
"""chat()'s positional argument: a JS-style options dict, or the message itself."""


class ChatCall:
    """The state of one chat() call across its attempts."""

    __slots__ = (
        "_deadline",
        "_max_retries",
        "_started",
        "_timeout",
        "_total_timeout",
        "attempt",
        "headers",
        "json",
        "method",
        "url",
    )

    def __init__(self, config: ClientConfig, options: ChatInput, keywords: Mapping[str, Any]):
        if isinstance(options, str):
            options = {"message": options}
        elif options is not None and not isinstance(options, Mapping):
            raise TypeError(
                f"chat() takes a dict of options or the message, got {type(options).__name__}"
            )
        fields = merge_options(options, keywords, CHAT_SPELLINGS, "chat()")
        call = {name: fields.pop(name) for name in CALL_OPTIONS if name in fields}
        body = chat_body(fields)

        self._timeout = (
            check_timeout("timeout", call["timeout"]) if "timeout" in call else config.timeout
        )
        total = call.get("total_timeout", config.total_timeout)
        self._total_timeout = None if total is None else check_seconds("total_timeout", total)
        self._max_retries = check_max_retries(call.get("max_retries", config.max_retries))
        extra_headers = check_headers("extra_headers", call.get("extra_headers") or {})

        header_arguments = {
            name: call[name] for name in HEADER_PARAMETERS if call.get(name) is not None
        }
        # One key for the whole call, reused by every retry: the server answers it once.
        header_arguments["idempotency_key"] = (
            check_idempotency_key(header_arguments["idempotency_key"])
            if "idempotency_key" in header_arguments
            else str(uuid.uuid4())
        )
        request = build_request(body=ChatRequest.from_dict(body), **header_arguments)
        self.method: str = request["method"]
        self.url: str = config.base_url + request["url"]
        self.json: Any = request["json"]
        self.headers = config.request_headers(extra_headers) | request["headers"]
        self.attempt = 0
        self._started = time.monotonic()
        self._deadline = (
            None if self._total_timeout is None else self._started + self._total_timeout
        )

    def start_attempt(self) -> httpx.Timeout | None:
        """Counts an attempt and returns its timeout, or raises when total_timeout is spent."""
        self.attempt += 1
        if self._deadline is None:
            return self._timeout
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise APITimeoutError(
                f"total_timeout of {self._total_timeout:g}s elapsed before attempt {self.attempt}"
            )
        return _capped(self._timeout, remaining)

    def after_response(self, response: httpx.Response) -> ChatResponse | float:
        """The parsed reply, or the seconds to wait before retrying; raises a final error."""
        self._log_attempt(response.status_code, response.headers.get("x-request-id"))
        if 200 <= response.status_code < 300:
            return parse_chat_response(response)
        error = status_error(response)
        return self._retry_or_raise(
            error, is_retryable_status(response.status_code), response.headers
        )

    def after_exception(self, exception: httpx.RequestError) -> float:
        """The seconds to wait before retrying after a transport failure; raises a final error."""
        self._log_attempt(None, None, type(exception).__name__)
        error_class = (
            APITimeoutError if isinstance(exception, httpx.TimeoutException) else APIConnectionError
        )
        detail = str(exception) or type(exception).__name__
        error = error_class(f"{self.method} {httpx.URL(self.url).path} failed: {detail}")
        error.__cause__ = exception
        return self._retry_or_raise(error, is_retryable_exception(exception), None)

    def _retry_or_raise(
        self, error: APIError, retryable: bool, headers: Mapping[str, str] | None
    ) -> float:
        retries_done = self.attempt - 1
        if not retryable or retries_done >= self._max_retries:
            raise error
        wait = wait_seconds(retries_done, headers, random_jitter())
        if self._deadline is not None and time.monotonic() + wait >= self._deadline:
            # Waiting would end past total_timeout: the caller gets the real failure now.
            raise error
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "retrying %s %s in %.2fs (retry %d of %d)",
                self.method,
                httpx.URL(self.url).path,
                wait,
                retries_done + 1,
                self._max_retries,
            )
        return wait

    def _log_attempt(self, status: int | None, request_id: str | None, failure: str = "") -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        logger.info(
            "%s %s status=%s attempt=%d request_id=%s elapsed_ms=%.1f",
            self.method,
            httpx.URL(self.url).path,
            status if status is not None else failure,
            self.attempt,
            request_id or "-",
            (time.monotonic() - self._started) * 1000,
        )


def _capped(timeout: httpx.Timeout | None, remaining: float) -> httpx.Timeout:
    if timeout is None:
        return httpx.Timeout(remaining)
    return httpx.Timeout(
        connect=_min(timeout.connect, remaining),
        read=_min(timeout.read, remaining),
        write=_min(timeout.write, remaining),
        pool=_min(timeout.pool, remaining),
    )


def _min(limit: float | None, remaining: float) -> float:
    return remaining if limit is None else min(limit, remaining)


def parse_chat_response(response: httpx.Response) -> ChatResponse:
    """A 2xx response as a ChatResponse, or APIResponseValidationError when it is not one."""
    request_id = response.headers.get("x-request-id")

    def invalid(problem: str, body: object) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"{response.status_code} response does not match the API contract: {problem}",
            status_code=response.status_code,
            body=body,
            request_id=request_id,
        )

    try:
        data = json.loads(response.content)
    except ValueError:
        text = response.content.decode("utf-8", errors="replace")
        raise invalid(f"body is not JSON: {text[:200]!r}", text) from None
    if not isinstance(data, dict):
        raise invalid(f"body is {type(data).__name__}, not an object", data)
    try:
        parsed = ChatResponse.from_dict(data)
    except KeyError as missing:
        raise invalid(f"required field {missing} is missing", data) from None
    except (TypeError, ValueError, AttributeError) as error:
        raise invalid(str(error), data) from None
    problem = _type_problem(parsed)
    if problem:
        raise invalid(problem, data)
    parsed.request_id = request_id
    return parsed


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
}


def _type_problem(model: Any, path: str = "") -> str | None:
    """Checks each field declared str/int/float/bool (the generated from_dict does not)."""
    for field in attrs.fields(type(model)):
        value = getattr(model, field.name)
        declared = str(field.type)
        if (value is None and "None" in declared) or (
            isinstance(value, Unset) and "Unset" in declared
        ):
            continue  # an optional field left out
        base = declared.split(" | ")[0]
        expected = _JSON_TYPES.get(base)
        if expected is not None:
            if not isinstance(value, expected) or (isinstance(value, bool) and base != "bool"):
                return f"{path}{field.name} should be {base}, got {type(value).__name__}"
        elif attrs.has(type(value)):
            problem = _type_problem(value, f"{path}{field.name}.")
            if problem:
                return problem
    return None
