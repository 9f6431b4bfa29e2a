"""Option names and values, checked before any I/O.

Options are accepted in snake_case and in the JS SDK's camelCase. The chat body's
options are not listed here: their names (Python and wire) come from the generated
operation's BODY_FIELDS, so a field added to openapi.yaml is a valid option after
regeneration with no edit to this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import httpx

from convokit_generated.api.chat.create_chat import (
    BODY_FIELDS,
    HEADER_PARAMETERS,
    REQUIRED_BODY_FIELDS,
)
from convokit_generated.models import ChatMessage, ChatRequest
from convokit_generated.models.chat_message_role import CHAT_MESSAGE_ROLE_VALUES

CLIENT_OPTIONS = (
    "api_key",
    "base_url",
    "timeout",
    "total_timeout",
    "max_retries",
    "default_headers",
    "http_client",
    "allow_insecure",
    "proxy",
)
"""Options of create_client() / Client(), by their Python names."""

CALL_OPTIONS = ("timeout", "total_timeout", "max_retries", "extra_headers", *HEADER_PARAMETERS)
"""Per-call transport options of chat() (not part of the request body)."""

# Headers the SDK owns on every request: letting an option set them would defeat
# the key handling or the one-key-per-call idempotency guarantee.
_RESERVED_HEADERS = frozenset({"authorization", *(h.lower() for h in HEADER_PARAMETERS.values())})
# What HTTP/1.1 can carry (RFC 9110 tokens; visible ASCII values, inner spaces only).
# Anything else would fail inside the send, after the call has started, or smuggle a
# second header in through a line break.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?")
_MAX_IDEMPOTENCY_KEY_LENGTH = 255


def camel_case(name: str) -> str:
    """`conversation_id` -> `conversationId`."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _spellings(names: Iterable[str]) -> dict[str, str]:
    return {spelling: name for name in names for spelling in (name, camel_case(name))}


CLIENT_SPELLINGS: Mapping[str, str] = _spellings(CLIENT_OPTIONS)
"""Every accepted client option spelling -> its Python name."""

CHAT_SPELLINGS: Mapping[str, str] = {
    **_spellings(CALL_OPTIONS),
    **_spellings(BODY_FIELDS),
    **{wire: python for python, wire in BODY_FIELDS.items()},
}
"""Every accepted chat() option spelling -> its Python name."""

_FIELD_TYPES = {field.name: str(field.type) for field in attrs.fields(ChatRequest)}
_CHAT_MESSAGE_KEYS = frozenset(field.name for field in attrs.fields(ChatMessage))


def merge_options(
    positional: Mapping[str, Any] | None,
    keywords: Mapping[str, Any],
    spellings: Mapping[str, str],
    caller: str,
) -> dict[str, Any]:
    """One dict of options by Python name, from a JS-style dict and keywords.

    Raises TypeError for an unknown name (naming the closest valid one) and for one
    option given in two spellings with different values.
    """
    merged: dict[str, Any] = {}
    spelled_as: dict[str, str] = {}
    for source in (positional or {}, keywords):
        for spelling, value in source.items():
            name = spellings.get(spelling) if isinstance(spelling, str) else None
            if name is None:
                raise TypeError(unknown_option_message(spelling, spellings, caller))
            if name in merged and not _same(merged[name], value):
                raise TypeError(
                    f"{caller} got option {name!r} twice with different values "
                    f"(as {spelled_as[name]!r} and as {spelling!r}); pass it once"
                )
            merged[name] = value
            spelled_as[name] = spelling
    return merged


def unknown_option_message(spelling: object, spellings: Mapping[str, str], caller: str) -> str:
    """`caller got an unknown option 'x'; did you mean 'y'?` (or the list of valid options)."""
    if not isinstance(spelling, str):
        return f"{caller} option names must be strings, got {spelling!r}"
    folded = {name.replace("_", "").lower(): name for name in spellings}
    suggestion = folded.get(spelling.replace("_", "").replace("-", "").lower())
    if suggestion is None:
        import difflib  # only for a mistyped option: not worth its import time at startup

        close = difflib.get_close_matches(spelling, list(spellings), n=1, cutoff=0.6)
        suggestion = close[0] if close else None
    if suggestion is not None:
        return f"{caller} got an unknown option {spelling!r}; did you mean {suggestion!r}?"
    valid = ", ".join(sorted({name for name in spellings.values()}))
    return f"{caller} got an unknown option {spelling!r}; valid options: {valid}"


def _same(first: object, second: object) -> bool:
    if first is second:
        return True
    try:
        return bool(first == second)
    except Exception:  # noqa: BLE001 (an exotic __eq__ must not escape option parsing)
        return False


def chat_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The request body (wire names) for chat options given by Python name.

    None means "not given". Raises ValueError for a missing or empty message, an
    empty id, or a malformed chat_history item; TypeError for a value of the wrong type.
    """
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        wire = BODY_FIELDS[name]
        if name == "chat_history":
            body[wire] = _chat_history(value)
        else:
            _check_field_type(name, value)
            body[wire] = value
    for name in REQUIRED_BODY_FIELDS:
        if BODY_FIELDS[name] not in body:
            raise ValueError(f"chat() needs {name!r}: the user message to send")
    return body


def _check_field_type(name: str, value: object) -> None:
    declared = _FIELD_TYPES.get(name, "")
    if declared.startswith("str"):
        if not isinstance(value, str):
            raise TypeError(f"chat() option {name!r} must be a string, got {type(value).__name__}")
        if not value.strip() and name in REQUIRED_BODY_FIELDS:
            raise ValueError(f"chat() {name!r} must be a non-empty string")
        if not value:
            raise ValueError(f"chat() option {name!r} must not be empty (leave it out instead)")


def _chat_history(history: object) -> list[dict[str, Any]]:
    if isinstance(history, str | bytes | Mapping) or not isinstance(history, Iterable):
        raise TypeError(
            "chat() 'chat_history' must be a list of {'role': ..., 'content': ...} messages"
        )
    items = []
    for index, item in enumerate(history):
        message = item.to_dict() if isinstance(item, ChatMessage) else item
        if not isinstance(message, Mapping):
            raise ValueError(
                f"chat_history[{index}] must be a dict with 'role' and 'content', "
                f"got {type(item).__name__}"
            )
        unknown = set(message) - _CHAT_MESSAGE_KEYS
        if unknown:
            raise ValueError(
                f"chat_history[{index}] has unknown key(s) {sorted(map(str, unknown))}; "
                f"a message has only {sorted(_CHAT_MESSAGE_KEYS)}"
            )
        role = message.get("role")
        if role not in CHAT_MESSAGE_ROLE_VALUES:
            raise ValueError(
                f"chat_history[{index}]['role'] must be one of "
                f"{sorted(CHAT_MESSAGE_ROLE_VALUES)}, got {role!r}"
            )
        if not isinstance(message.get("content"), str):
            raise ValueError(
                f"chat_history[{index}]['content'] must be a string, "
                f"got {type(message.get('content')).__name__}"
            )
        items.append(dict(message))
    return items


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
        if header.lower() in _RESERVED_HEADERS:
            hint = "api_key" if header.lower() == "authorization" else "idempotency_key"
            raise ValueError(f"{name!r} cannot set {header!r}: the SDK sets it; use {hint}=")
        if not _HEADER_NAME.fullmatch(header):
            raise ValueError(f"{name!r} has an invalid header name {header!r}")
        if not _HEADER_VALUE.fullmatch(header_value):
            # The value itself is not shown: headers often carry credentials.
            raise ValueError(
                f"{name!r} header {header!r} has an invalid value: use printable ASCII "
                "without line breaks or leading/trailing spaces"
            )
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


def check_idempotency_key(value: object) -> str:
    """A caller's Idempotency-Key: 1 to 255 visible ASCII characters."""
    if not isinstance(value, str):
        raise TypeError(f"'idempotency_key' must be a string, got {type(value).__name__}")
    if not 0 < len(value) <= _MAX_IDEMPOTENCY_KEY_LENGTH or not all(
        "!" <= char <= "~" for char in value
    ):
        raise ValueError(
            "'idempotency_key' must be 1 to 255 visible ASCII characters (a UUID is ideal)"
        )
    return value
