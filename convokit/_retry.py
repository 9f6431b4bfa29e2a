"""The retry policy: which failures are retried and how long to wait. Pure functions,
shared by the sync and async clients (only their sleeping differs)."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping

import httpx

DEFAULT_MAX_RETRIES = 2
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
MIN_JITTER = 0.75
# A server's Retry-After is honoured only in (0, MAX_RETRY_AFTER_SECONDS]: a longer
# wait inside one chat() call would hang a web worker; the caller decides instead.
MAX_RETRY_AFTER_SECONDS = 60.0

KEY_REUSED_CODE = "idempotency_key_reused"
"""The 409 error code that no retry can fix: the Idempotency-Key was already used with a
different request body. openapi.yaml documents it (components.responses.Conflict, example
`reused`); its other 409 code, `idempotency_key_in_use`, and any code it does not name
are retried, since the key's first request may still complete."""

_RETRIED_STATUSES = frozenset({408, 409, 429})
_MAX_BACKOFF_EXPONENT = 16  # 0.5 * 2**16 is far past MAX_BACKOFF_SECONDS already


def is_retryable_status(status_code: int, error_code: str | None = None) -> bool:
    """Whether an error response is worth another attempt: 408, 429, every 5xx, and 409
    unless its error body's `code` is KEY_REUSED_CODE (the key's first request is in
    flight, and a retry with the same key gets its answer)."""
    if status_code == 409 and error_code == KEY_REUSED_CODE:
        return False
    return status_code in _RETRIED_STATUSES or status_code >= 500


def is_retryable_exception(error: httpx.RequestError) -> bool:
    """Connection failures and timeouts are retried; a bad URL or protocol is not, nor a
    request the client itself could not put on the wire (LocalProtocolError)."""
    if isinstance(error, httpx.UnsupportedProtocol | httpx.ProxyError | httpx.LocalProtocolError):
        return False
    return isinstance(error, httpx.TransportError)


def may_have_reached_the_server(error: httpx.RequestError) -> bool:
    """False only for failures before a connection existed (refused, DNS, connect or
    pool timeout): the one kind a request that is not idempotent may be sent again after."""
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def backoff_seconds(retry_number: int, jitter: float) -> float:
    """Backoff before the `retry_number`-th retry (0-based): min(0.5 * 2**n, 8) * jitter."""
    # The exponent is capped: 2.0**1024 overflows, and max_retries has no upper bound.
    exponent = min(retry_number, _MAX_BACKOFF_EXPONENT)
    return min(INITIAL_BACKOFF_SECONDS * 2.0**exponent, MAX_BACKOFF_SECONDS) * jitter


def random_jitter() -> float:
    """A jitter factor in [0.75, 1] so that many clients do not retry in lock-step."""
    return MIN_JITTER + (1 - MIN_JITTER) * random.random()  # noqa: S311 (not cryptographic)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's requested wait, from `retry-after-ms` or `Retry-After` (seconds or an
    HTTP date), or None when absent, unparsable, or outside (0, 60] seconds."""
    milliseconds = _finite_number(headers.get("retry-after-ms", ""))
    if milliseconds is not None:
        seconds: float | None = milliseconds / 1000
    else:
        seconds = _parse_retry_after(headers.get("retry-after", ""), now)
    if seconds is None or not 0 < seconds <= MAX_RETRY_AFTER_SECONDS:
        return None
    return seconds


def wait_seconds(
    retry_number: int, headers: Mapping[str, str] | None, jitter: float, now: float | None = None
) -> float:
    """How long to wait before retry `retry_number`: the server's Retry-After when it gave a
    usable one, else the jittered exponential backoff."""
    if headers is not None:
        requested = retry_after_seconds(headers, now)
        if requested is not None:
            return requested
    return backoff_seconds(retry_number, jitter)


def _finite_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_retry_after(value: str, now: float | None) -> float | None:
    seconds = _finite_number(value)
    if seconds is not None:
        return seconds
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment.timestamp() - (time.time() if now is None else now)


def retried_statuses_text() -> str:
    """The HTTP statuses `is_retryable_status` retries, in words for help texts, read from
    the policy itself: e.g. "408, 409, 429 and 5xx" (a class retried whole reads "5xx")."""
    parts: list[str] = []
    for first in range(100, 600, 100):
        retried = [status for status in range(first, first + 100) if is_retryable_status(status)]
        parts += [f"{first // 100}xx"] if len(retried) == 100 else [str(s) for s in retried]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
