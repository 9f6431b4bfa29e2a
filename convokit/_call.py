"""One logical chat() call, minus the I/O: the request it sends on every attempt, and
what to do after each attempt (return, wait and retry, or raise). The sync and async
clients drive it; only their sending and sleeping differ."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from convokit_generated.api.chat.create_chat import BODY_FIELDS, HEADER_PARAMETERS
from convokit_generated.types import Unset

from ._config import CHAT_METHOD, CHAT_PATH, ClientConfig
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ConvoKitError,
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
from ._transport import DEADLINE

ChatInput = Mapping[str, Any] | str | None
"""chat()'s positional argument: a JS-style options dict, or the message itself."""


_METHOD, _PATH = CHAT_METHOD, CHAT_PATH
_MESSAGE_WIRE_NAME = BODY_FIELDS["message"]
_NO_TIMEOUT = httpx.Timeout(None)


class ChatCall:
    """The state of one chat() call across its attempts."""

    __slots__ = (
        "_attempt_deadline",
        "_attempt_seconds",
        "_deadline",
        "_max_retries",
        "_started",
        "_timeout",
        "_total_timeout",
        "attempt",
        "endpoint",
        "headers",
        "json",
        "method",
    )

    def __init__(self, config: ClientConfig, options: ChatInput, keywords: Mapping[str, Any]):
        message = keywords.get("message") if options is None and len(keywords) == 1 else None
        if type(message) is str and message.strip():
            # chat(message="..."), the most common call: nothing to merge or check but that.
            call: dict[str, Any] = {}
            body: dict[str, Any] = {_MESSAGE_WIRE_NAME: message}
        else:
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
        extra = call.get("extra_headers")
        extra_headers = check_headers("extra_headers", extra) if extra else {}

        header_arguments = {
            name: call[name] for name in HEADER_PARAMETERS if call.get(name) is not None
        }
        # One key for the whole call, reused by every retry: the server answers it once.
        header_arguments["idempotency_key"] = (
            check_idempotency_key(header_arguments["idempotency_key"])
            if "idempotency_key" in header_arguments
            else new_idempotency_key()
        )
        header_values = {HEADER_PARAMETERS[name]: value for name, value in header_arguments.items()}
        self.method: str = _METHOD
        self.endpoint = _parsed_url(config.base_url + _PATH)
        # chat_body() built and checked the body in wire form: sending it through the
        # generated model and back (from_dict, to_dict) on every call bought nothing.
        self.json: Any = body
        self.headers = config.request_headers(extra_headers) | header_values
        self.attempt = 0
        self._attempt_seconds = None if self._timeout is None else self._timeout.read
        self._attempt_deadline: float | None = None
        self._started = time.monotonic()
        self._deadline = (
            None if self._total_timeout is None else self._started + self._total_timeout
        )

    def start_attempt(self, request: httpx.Request) -> float | None:
        """Counts an attempt and sets its time limits on `request`; returns its deadline
        (time.monotonic()), or raises APITimeoutError when total_timeout is spent.

        The deadline is the attempt's `timeout` (its read limit, the one that covers a
        model's answer) from now, cut to `total_timeout`'s end: the SDK's pool holds every
        connect, write and read of the attempt to it, a body that trickles in included.
        """
        self.attempt += 1
        now = time.monotonic()
        timeout = self._timeout
        deadline = None if self._attempt_seconds is None else now + self._attempt_seconds
        if self._deadline is not None:
            remaining = self._deadline - now
            if remaining <= 0:
                raise APITimeoutError(
                    f"total_timeout of {self._total_timeout:g}s elapsed "
                    f"before attempt {self.attempt}"
                )
            timeout = _capped(timeout, remaining)
            if deadline is None or self._deadline < deadline:
                deadline = self._deadline
        self._attempt_deadline = deadline
        request.extensions["timeout"] = (timeout or _NO_TIMEOUT).as_dict()
        request.extensions[DEADLINE] = deadline
        return deadline

    def after_response(self, response: httpx.Response) -> ChatResponse | float:
        """The parsed reply, or the seconds to wait before retrying; raises a final error."""
        if 200 <= response.status_code < 300:
            if logger.isEnabledFor(logging.INFO):  # the header lookup is not free
                self._log_attempt(response.status_code, response.headers.get("x-request-id"))
            return parse_chat_response(response)
        error = status_error(response)
        return self._retry_or_raise(
            error,
            is_retryable_status(response.status_code, error.code),
            response.headers,
            response.status_code,
        )

    def after_exception(self, exception: httpx.RequestError) -> float:
        """The seconds to wait before retrying after a transport failure; raises a final error."""
        if isinstance(exception, httpx.TimeoutException):
            error: APIError = APITimeoutError(self._timeout_message(exception))
        else:
            detail = str(exception) or type(exception).__name__
            error = APIConnectionError(f"{self.method} {self.endpoint.path} failed: {detail}")
        error.__cause__ = exception
        return self._retry_or_raise(
            error, is_retryable_exception(exception), None, type(exception).__name__
        )

    def after_deadline(self) -> float:
        """after_exception() for an attempt cut off at its deadline by the caller's own
        means (a cancel scope around a user's http_client)."""
        return self.after_exception(httpx.ReadTimeout("the attempt's timeout elapsed"))

    def after_unexpected(self, exception: Exception) -> ConvoKitError:
        """The ConvoKitError to raise for an exception the send itself should not raise:
        nothing but a ConvoKitError leaves chat()."""
        self._log_attempt(type(exception).__name__, None)
        if isinstance(exception, RuntimeError) and "loop" in str(exception).lower():
            error = ConvoKitError(
                f"{self.method} {self.endpoint.path} failed: its connections belong to "
                f"another event loop ({exception}). An http_client you pass in must be "
                "created in the event loop that uses it; or leave http_client out, and "
                "convokit makes a pool for each event loop."
            )
        else:
            error = ConvoKitError(
                f"{self.method} {self.endpoint.path} failed: "
                f"{type(exception).__name__}: {exception}"
            )
        error.__cause__ = exception
        return error

    def _timeout_message(self, exception: httpx.TimeoutException) -> str:
        where = f"{self.method} {self.endpoint.path} timed out"
        if self._attempt_deadline is None or time.monotonic() < self._attempt_deadline:
            return f"{where}: {str(exception) or type(exception).__name__}"
        if self._attempt_deadline == self._deadline:
            return f"{where}: total_timeout of {self._total_timeout:g}s elapsed"
        return f"{where}: attempt {self.attempt} took longer than its {self._attempt_seconds:g}s"

    def _retry_or_raise(
        self,
        error: APIError,
        retryable: bool,
        headers: Mapping[str, str] | None,
        outcome: int | str,
    ) -> float:
        retries_done = self.attempt - 1
        wait: float | None = None
        if retryable and retries_done < self._max_retries:
            wait = wait_seconds(retries_done, headers, random_jitter())
            if self._deadline is not None and time.monotonic() + wait >= self._deadline:
                # Waiting would end past total_timeout: the caller gets the real failure now.
                wait = None
        self._log_attempt(outcome, error.request_id, wait)
        if wait is None:
            raise error
        return wait

    def _log_attempt(
        self, outcome: int | str, request_id: str | None, wait: float | None = None
    ) -> None:
        """One record per attempt: its status (or transport failure) and the wait before
        the next attempt, if there is one."""
        if not logger.isEnabledFor(logging.INFO):
            return
        logger.info(
            "%s %s status=%s attempt=%d request_id=%s elapsed_ms=%.1f%s",
            self.method,
            self.endpoint.path,
            outcome,
            self.attempt,
            request_id or "-",
            (time.monotonic() - self._started) * 1000,
            "" if wait is None else f" retry_in={wait:.2f}s",
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
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
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


_FieldCheck = tuple[str, bool, bool, str, type | tuple[type, ...] | None]
_FIELD_CHECKS: dict[type, tuple[_FieldCheck, ...]] = {}


def _field_checks(model_class: type) -> tuple[_FieldCheck, ...]:
    """Once per model class (not per response): each field's name, whether None or Unset
    may stand for it, and the JSON type its declaration names."""
    checks = _FIELD_CHECKS.get(model_class)
    if checks is None:
        checks = _FIELD_CHECKS[model_class] = tuple(
            (field.name, "None" in declared, "Unset" in declared, base, _JSON_TYPES.get(base))
            for field in attrs.fields(model_class)
            for declared in (str(field.type),)
            for base in (declared.split(" | ")[0],)
        )
    return checks


def _type_problem(model: Any, path: str = "") -> str | None:
    """Checks each field declared str/int/float/bool (the generated from_dict does not)."""
    for name, may_be_none, may_be_unset, base, expected in _field_checks(type(model)):
        value = getattr(model, name)
        if (value is None and may_be_none) or (may_be_unset and isinstance(value, Unset)):
            continue  # an optional field left out
        if expected is not None:
            if not isinstance(value, expected) or (isinstance(value, bool) and base != "bool"):
                return f"{path}{name} should be {base}, got {type(value).__name__}"
        elif getattr(type(value), "__attrs_attrs__", None) is not None:  # attrs.has(), faster
            problem = _type_problem(value, f"{path}{name}.")
            if problem:
                return problem
    return None


def new_idempotency_key() -> str:
    """A random (version 4) UUID, as text: what uuid.uuid4() gives, without importing uuid
    (which imports platform) at startup, and at a fifth of its cost per call."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    hexa = raw.hex()
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


@functools.lru_cache(maxsize=64)
def _parsed_url(url: str) -> httpx.URL:
    # Parsed once per endpoint, not per call: httpx re-parses (and re-validates the host
    # of) a URL given as text on every request, which costs more than the SDK's own work.
    return httpx.URL(url)
