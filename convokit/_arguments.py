"""An operation's arguments, by Python name, checked against the spec's schemas and put
in their places on the wire (path, query, headers, JSON body), before any I/O.

Each operation's shape is read from its generated descriptor once, not per call.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from convokit_generated.types import Unset

from ._schema import Check, Problem, compile_schema
from ._values import check_header_value

if TYPE_CHECKING:
    from convokit_generated.api import BodyField, Operation, Parameter


class WireArguments(NamedTuple):
    """Where an operation's arguments go in its request: the path with its parameters
    filled in (quoted), the query, the header parameters, and the JSON body by wire name
    (None when the operation takes none)."""

    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: dict[str, Any] | None


class _Slot(NamedTuple):
    """One argument of an operation: where it goes, under which wire name, and its
    schema's compiled check."""

    python_name: str
    wire_name: str
    location: str  # "path", "query", "header" or "body"
    required: bool
    check: Check


@functools.cache
def slots(operation: Operation) -> Mapping[str, _Slot]:
    """The operation's arguments by Python name: its parameters, then its body fields
    (worked out once per operation)."""
    parts: tuple[Parameter | BodyField, ...] = (*operation.parameters, *operation.body_fields)
    return {
        part.python_name: _Slot(
            part.python_name,
            part.wire_name,
            part.location,
            part.required,
            compile_schema(part.schema),
        )
        for part in parts
    }


@functools.cache
def _required(operation: Operation) -> tuple[str, ...]:
    return tuple(name for name, slot in slots(operation).items() if slot.required)


def wire_arguments(
    operation: Operation, arguments: Mapping[str, Any], caller: str
) -> WireArguments:
    """Checks `arguments` (Python names; None or UNSET for "not given") and places them.

    Raises TypeError for an unknown name or a value of the wrong type, ValueError for a
    missing required argument or a value the schema refuses (too long, not one of its
    values, a nested field wrong...), naming the argument.
    """
    known = slots(operation)
    path_values: dict[str, str] = {}
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    body: dict[str, Any] | None = {} if operation.body_model is not None else None
    for name, given in arguments.items():
        slot = known.get(name)
        if slot is None:
            raise TypeError(f"{caller} got an unexpected argument {name!r}")
        if given is None or isinstance(given, Unset):
            continue
        value = to_json(given)
        problem = slot.check(value)
        if problem is not None:
            raise _refusal(caller, slot, problem)
        if slot.location == "body":
            assert body is not None
            body[slot.wire_name] = value
        elif slot.location == "path":
            path_values[slot.wire_name] = quote(_text(value), safe="")
        elif slot.location == "query":
            query[slot.wire_name] = value
        else:
            text = _text(value)
            check_header_value(name, slot.wire_name, text)
            headers[slot.wire_name] = text
    for name in _required(operation):
        given = arguments.get(name)
        if given is None or isinstance(given, Unset):
            raise ValueError(f"{caller} needs {name!r}")
    path = operation.path.format_map(path_values) if path_values else operation.path
    return WireArguments(path, query, headers, body)


_SCALARS = frozenset({str, int, float, bool})


def to_json(value: object) -> Any:
    """A value as JSON data: generated models (e.g. ChatMessage) by their to_dict()."""
    if type(value) in _SCALARS:
        return value
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None and getattr(type(value), "__attrs_attrs__", None) is not None:
        return to_dict()
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: to_json(item) for key, item in value.items()}
    return value


def _text(value: object) -> str:
    """A path, query or header value as text, as JSON would write a bool."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refusal(caller: str, slot: _Slot, problem: Problem) -> TypeError | ValueError:
    where = problem.under(slot.python_name).path
    if problem.wrong_type and not problem.path:
        return TypeError(f"{caller} option {where!r} {problem.message}")
    return ValueError(f"{caller} option {where!r} {problem.message}")
