"""Option names, in snake_case or the JS SDK's camelCase, merged and checked before
any I/O.

Nothing here lists an operation's arguments: chat()'s option names (Python, camelCase
and wire) come from the operation's generated descriptor, so a field added to
openapi.yaml is a valid option after regeneration with no edit to this file.
"""

# No `from __future__ import annotations`: the TypedDicts below then hold their types, not
# strings that typing compiles one by one at import (a third of this module's import).
import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import httpx

from ._arguments import WireArguments, slots, wire_arguments
from ._config import HttpBackend

if TYPE_CHECKING:
    from convokit_generated.api import Operation


class ClientSettings(TypedDict, total=False):
    """The client options `with_options()` can change: all but the connection pool's
    (`http_client`, `proxy`, `http_backend`), in snake_case or the JS SDK's camelCase."""

    api_key: str | None
    apiKey: str | None
    base_url: str | httpx.URL | None
    baseUrl: str | httpx.URL | None
    timeout: float | httpx.Timeout | None
    total_timeout: float | None
    totalTimeout: float | None
    max_retries: int
    maxRetries: int
    default_headers: Mapping[str, str] | None
    defaultHeaders: Mapping[str, str] | None
    allow_insecure: bool
    allowInsecure: bool


class ClientOptions(ClientSettings, total=False):
    """Options of `create_client()` and `Client()`, in snake_case or the JS SDK's camelCase
    (also as one TS-style dict: `create_client({"apiKey": ..., "baseUrl": ...})`)."""

    http_client: httpx.Client | None
    httpClient: httpx.Client | None
    proxy: str | httpx.URL | httpx.Proxy | None
    http_backend: Literal["httpx"]
    httpBackend: Literal["httpx"]


class AsyncClientOptions(ClientSettings, total=False):
    """Options of `create_async_client()` and `AsyncClient()`: ClientOptions with an
    `httpx.AsyncClient` as `http_client`."""

    http_client: httpx.AsyncClient | None
    httpClient: httpx.AsyncClient | None
    proxy: str | httpx.URL | httpx.Proxy | None
    http_backend: HttpBackend
    """"httpx" (the default) or "aiohttp" (the `convokit-server[aiohttp]` extra)."""
    httpBackend: HttpBackend


CLIENT_OPTIONS = tuple(name for name in ClientOptions.__annotations__ if name.islower())
"""Options of create_client() / Client(), by their Python names (ClientOptions' snake_case
keys: the list is that TypedDict)."""


def camel_case(name: str) -> str:
    """`conversation_id` -> `conversationId`."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _spellings(names: Iterable[str]) -> dict[str, str]:
    return {spelling: name for name in names for spelling in (name, camel_case(name))}


CLIENT_SPELLINGS: Mapping[str, str] = _spellings(CLIENT_OPTIONS)
"""Every accepted client option spelling -> its Python name."""


@functools.cache
def chat_operation() -> "Operation":
    """The operation chat() is the curated entry point of (`client.api.create_chat`)."""
    from ._models import CHAT  # on first use: it imports the generated models

    return CHAT


@functools.cache
def call_options() -> tuple[str, ...]:
    """The per-call options every operation takes (timeout, max_retries, ...), as the
    generated methods name them."""
    from convokit_generated.api import CALL_OPTIONS  # on first use: it imports the models

    return CALL_OPTIONS


@functools.cache
def operation_spellings(operation: "Operation") -> Mapping[str, str]:
    """Every accepted spelling of an operation's options -> its Python name: the per-call
    options and the operation's arguments in snake_case and camelCase, and the body
    fields' wire names (a JS-style dict uses those). Worked out once per operation."""
    return {
        **_spellings(call_options()),
        **_spellings(slots(operation)),
        **{field.wire_name: field.python_name for field in operation.body_fields},
    }


def operation_call(
    operation: "Operation",
    options: Mapping[str, Any] | None,
    keywords: Mapping[str, Any],
    caller: str,
) -> tuple[WireArguments, dict[str, Any]]:
    """An operation's arguments placed on the wire, and the per-call options given, from
    a JS-style dict and keywords in any accepted spelling."""
    if options is None and keywords.keys() <= slots(operation).keys():
        # Arguments by their Python names alone (chat(message=...)): nothing to merge.
        return wire_arguments(operation, keywords, caller), {}
    merged = merge_options(options, keywords, operation_spellings(operation), caller)
    call: dict[str, Any] = {name: merged.pop(name) for name in call_options() if name in merged}
    return wire_arguments(operation, merged, caller), call


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
