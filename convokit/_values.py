"""Checks of the option values every call and client share (timeouts, retries,
headers), before any I/O."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import httpx


@functools.cache
def _reserved_headers() -> Mapping[str, str]:
    """Headers the SDK owns on every request, lowercased -> the argument that sets them:
    letting an option set them would defeat the key handling, or the one-key-per-call
    idempotency guarantee of an operation that declares the key (or any header
    parameter, which has its own argument)."""
    from convokit_generated.api import OPERATIONS  # on first use: it imports the models

    return {"authorization": "api_key"} | {
        parameter.wire_name.lower(): parameter.python_name
        for operation in OPERATIONS.values()
        for parameter in operation.parameters
        if parameter.location == "header"
    }


# What HTTP/1.1 can carry (RFC 9110 tokens; visible ASCII values, inner spaces only).
# Anything else would fail inside the send, after the call has started, or smuggle a
# second header in through a line break.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?")


def check_timeout(name: str, value: object) -> httpx.Timeout | None:
    """A per-attempt timeout: None (no limit), seconds, or an httpx.Timeout."""
    if value is None or isinstance(value, httpx.Timeout):
        return value
    seconds = check_seconds(name, value)
    # Connecting should never take the whole budget of a slow model call.
    return httpx.Timeout(seconds, connect=min(5.0, seconds))


def check_seconds(name: str, value: object) -> float:
    """A positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name!r} must be a number of seconds, got {type(value).__name__}")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name!r} must be a positive, finite number of seconds, got {value!r}")
    return float(value)


def check_max_retries(value: object) -> int:
    """A whole number of retries, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'max_retries' must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"'max_retries' must be 0 or more, got {value}")
    return value


def check_header_value(name: str, header: str, value: str) -> None:
    """Refuses a header value HTTP/1.1 cannot carry (a line break would smuggle a header)."""
    if not _HEADER_VALUE.fullmatch(value):
        # The value itself is not shown: headers often carry credentials.
        raise ValueError(
            f"{name!r} header {header!r} has an invalid value: use printable ASCII "
            "without line breaks or leading/trailing spaces"
        )


def check_headers(name: str, value: object) -> dict[str, str]:
    """Extra or default headers: str -> str, none of the headers the SDK owns, and each
    name once (names are case-insensitive: `X-Bar` and `x-bar` are one header)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name!r} must be a dict of header name -> value")
    headers: dict[str, str] = {}
    spellings: dict[str, str] = {}
    for header, header_value in value.items():
        if not isinstance(header, str) or not isinstance(header_value, str):
            raise TypeError(f"{name!r} must map str to str, got {header!r}: {header_value!r}")
        owner = _reserved_headers().get(header.lower())
        if owner is not None:
            raise ValueError(f"{name!r} cannot set {header!r}: the SDK sets it; use {owner}=")
        if not _HEADER_NAME.fullmatch(header):
            raise ValueError(f"{name!r} has an invalid header name {header!r}")
        check_header_value(name, header, header_value)
        first = spellings.setdefault(header.lower(), header)
        if first != header:
            if headers[first] != header_value:
                raise ValueError(
                    f"{name!r} sets header {first!r} twice with different values (also as "
                    f"{header!r}); header names are case-insensitive: pass it once"
                )
            continue
        headers[header] = header_value
    return headers
