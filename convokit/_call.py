"""One logical call of an operation, minus the I/O: the request it sends on every
attempt, and what to do after each attempt (return, wait and retry, or raise). The sync
and async clients drive it for every operation; only their sending and sleeping differ."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._arguments import WireArguments
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConvoKitError,
    status_error,
)
from ._logging import logger
from ._parse import parse_body
from ._retry import (
    is_retryable_exception,
    is_retryable_status,
    may_have_reached_the_server,
    random_jitter,
    wait_seconds,
)
from ._transport import DEADLINE
from ._values import check_headers, check_max_retries, check_seconds, check_timeout

if TYPE_CHECKING:
    from convokit_generated.api import Operation

    from ._config import ClientConfig

_NO_TIMEOUT = httpx.Timeout(None)


class Call:
    """The state of one call of an operation across its attempts."""

    __slots__ = (
        "_attempt_deadline",
        "_attempt_seconds",
        "_deadline",
        "_max_retries",
        "_operation",
        "_started",
        "_timeout",
        "_total_timeout",
        "attempt",
        "content",
        "endpoint",
        "headers",
        "method",
        "params",
    )

    def __init__(
        self,
        config: ClientConfig,
        operation: Operation,
        arguments: WireArguments,
        options: Mapping[str, Any],
    ) -> None:
        """`arguments` checked and placed (`_arguments.wire_arguments`); `options` the
        per-call options given (timeout, total_timeout, max_retries, extra_headers)."""
        self._operation = operation
        self._timeout = (
            check_timeout("timeout", options["timeout"]) if "timeout" in options else config.timeout
        )
        total = options.get("total_timeout", config.total_timeout)
        self._total_timeout = None if total is None else check_seconds("total_timeout", total)
        self._max_retries = (
            check_max_retries(options["max_retries"])
            if "max_retries" in options
            else config.max_retries
        )
        extra = options.get("extra_headers")
        extra_headers = check_headers("extra_headers", extra) if extra else {}

        self.method: str = operation.method
        self.endpoint = _parsed_url(config.base_url + arguments.path)
        self.params = arguments.query or None
        self.content = None if arguments.body is None else _json_bytes(arguments.body).encode()
        self.headers = config.request_headers(operation.content_type, extra_headers)
        self.headers.update(arguments.headers)
        key = operation.idempotency_key
        if key is not None and key.wire_name not in arguments.headers:
            # One key for the whole call, reused by every retry: the server answers it once.
            self.headers[key.wire_name] = new_idempotency_key()
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
        timeout, deadline = self.next_attempt()
        request.extensions["timeout"] = (timeout or _NO_TIMEOUT).as_dict()
        request.extensions[DEADLINE] = deadline
        return deadline

    def next_attempt(self) -> tuple[httpx.Timeout | None, float | None]:
        """start_attempt() for a sender that takes no httpx request: the attempt's time
        limits (cut to what is left of total_timeout) and its deadline."""
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
        return timeout, deadline

    def after_response(self, response: httpx.Response) -> object:
        """The parsed 2xx model (None when the spec gives the 2xx no body), or the seconds
        to wait before retrying as a float; raises a final error."""
        if 200 <= response.status_code < 300:
            return self.after_success(response.status_code, response.headers.get, response.content)
        error = status_error(response)
        # A request that reached the server is sent again only if the operation is
        # idempotent: a safe method, or one whose Idempotency-Key the server runs once.
        retryable = self._operation.idempotent and is_retryable_status(
            response.status_code, error.code
        )
        return self._retry_or_raise(error, retryable, response.headers, response.status_code)

    def after_success(
        self, status_code: int, header: Callable[[str], str | None], content: bytes
    ) -> object:
        """after_response() for a 2xx, from its parts: `header` looks a response header up
        (case-insensitively). The parsed model, or None when the spec gives it no body."""
        if logger.isEnabledFor(logging.INFO):
            self._log_attempt(status_code, header("x-request-id"))
        if self._operation.response_model is None:
            return None
        return parse_body(self._operation, status_code, header, content)

    def after_exception(self, exception: httpx.RequestError) -> float:
        """The seconds to wait before retrying after a transport failure; raises a final error."""
        if isinstance(exception, httpx.TimeoutException):
            error: APIError = APITimeoutError(self._timeout_message(exception))
        else:
            detail = str(exception) or type(exception).__name__
            error = APIConnectionError(f"{self.method} {self.endpoint.path} failed: {detail}")
        error.__cause__ = exception
        retryable = is_retryable_exception(exception) and (
            self._operation.idempotent or not may_have_reached_the_server(exception)
        )
        return self._retry_or_raise(error, retryable, None, type(exception).__name__)

    def after_unexpected(self, exception: Exception) -> ConvoKitError:
        """The ConvoKitError to raise for an exception the send itself should not raise:
        nothing but a ConvoKitError leaves a call."""
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
    limits = timeout.as_dict().items()
    return httpx.Timeout(
        **{name: remaining if limit is None else min(limit, remaining) for name, limit in limits}
    )


def new_idempotency_key() -> str:
    """A random (version 4) UUID, as text: what uuid.uuid4() gives, without importing uuid
    (which imports platform) at startup, and at a fifth of its cost per call."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    hexa = raw.hex()
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


# The body as httpx's Request(json=...) writes it (compact UTF-8 JSON), by both backends.
_json_bytes = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


@functools.lru_cache(maxsize=64)
def _parsed_url(url: str) -> httpx.URL:
    # Parsed once per endpoint, not per call: httpx re-parses (and re-validates the host
    # of) a URL given as text on every request, which costs more than the SDK's own work.
    return httpx.URL(url)
