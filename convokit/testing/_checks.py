"""Request checks, compiled from the descriptors' schemas: path, query and header
parameters and the JSON body. A failure raises Reject with the 400 to answer."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from convokit_generated.api import Operation, Parameter

from .._schema import Check, Problem, compile_schema, type_names


class Reject(Exception):
    """An error answer, raised to leave request handling early.

    Its body is ``body`` as given (a documented example), or the error envelope of
    ``status``: the documented ``type``, ``message``, ``code`` (the documented one
    when None) and ``param``.
    """

    def __init__(
        self,
        status: int,
        message: str = "",
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        body: Any | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = list(headers)
        self.body = body


@dataclass(frozen=True, slots=True)
class Json:
    """A request body read as JSON: its value, or why it is not JSON."""

    ok: bool
    value: Any = None
    problem: str = ""
    empty: bool = False
    """No body was sent."""


@dataclass(frozen=True, slots=True)
class OperationChecks:
    """An operation's schemas, compiled once."""

    parameters: tuple[tuple[Parameter, Check], ...]
    query_names: frozenset[str]
    body: Check | None


def compile_checks(operation: Operation) -> OperationChecks:
    """The checks of ``operation``'s parameters and body."""
    return OperationChecks(
        parameters=tuple(
            (parameter, compile_schema(parameter.schema)) for parameter in operation.parameters
        ),
        query_names=frozenset(
            parameter.wire_name
            for parameter in operation.parameters
            if parameter.location == "query"
        ),
        body=None if operation.body_schema is None else compile_schema(operation.body_schema),
    )


def check_parameters(
    checks: OperationChecks, path_values: Mapping[str, str], query: str, headers: Mapping[str, str]
) -> None:
    """Raise Reject(400) for the first parameter that breaks its schema, or for a query
    parameter the operation does not declare."""
    query_values = parse_qs(query, keep_blank_values=True) if query else {}
    for parameter, check in checks.parameters:
        name = parameter.wire_name
        raw: str | list[str] | None
        if parameter.location == "path":
            raw = path_values.get(name)
        elif parameter.location == "query":
            found = query_values.get(name)
            # A repeated key is an array's items; a value is the first of its key's.
            raw = found if found is None or type_names(parameter.schema) == ("array",) else found[0]
        else:
            raw = headers.get(name.lower())
        if raw is None:
            if parameter.required:
                raise Reject(400, f"{name}: is required", param=name)
            continue
        problem = check(_from_text(raw, parameter.schema))
        if problem is not None:
            raise Reject(400, str(problem.under(name)), param=name)
    for name in query_values:
        if name in checks.query_names:
            continue
        # Refused as an unknown body field is: a mistyped parameter is not silently ignored.
        close = difflib.get_close_matches(name, checks.query_names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise Reject(400, f"{name}: is not a query parameter of this operation.{hint}", param=name)


def check_body(
    operation: Operation, checks: OperationChecks, content_type: str | None, parsed: Json
) -> Any:
    """The request's JSON body (``parsed``, sent as ``content_type``), checked against the
    operation's schema; None when the operation takes no body, or an optional one is absent."""
    if checks.body is None or (parsed.empty and not operation.body_required):
        return None
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise Reject(
                400,
                f"Content-Type must be application/json (got {short(media_type)}).",
                code="unsupported_content_type",
            )
    if not parsed.ok:
        raise Reject(400, f"The request body is not JSON ({parsed.problem}).", code="invalid_json")
    problem = checks.body(parsed.value)
    if problem is None:
        return parsed.value
    if not problem.path:
        raise Reject(400, f"The request body {problem.message}.", code="invalid_body")
    keys = [str(key) for key in parsed.value] if isinstance(parsed.value, Mapping) else []
    param = _field_at(problem, [*keys, *(f.wire_name for f in operation.body_fields)])
    raise Reject(400, str(problem) + _did_you_mean(operation, param, problem), param=param)


def _field_at(problem: Problem, fields: Sequence[str]) -> str:
    """The top-level field a problem's path starts with: the longest of ``fields`` that
    it does (a key may itself hold "." or "["), else the whole path."""
    starts = [
        name
        for name in fields
        if problem.path == name or problem.path.startswith((f"{name}.", f"{name}["))
    ]
    return max(starts, key=len, default=problem.path)


def _did_you_mean(operation: Operation, param: str, problem: Problem) -> str:
    """For an unknown field: the field meant (its Python name, or a near spelling)."""
    wire_names = [f.wire_name for f in operation.body_fields]
    if problem.path != param or param in wire_names:
        return ""
    by_python_name = {f.python_name: f.wire_name for f in operation.body_fields}
    hint = by_python_name.get(param) or next(
        iter(difflib.get_close_matches(param, wire_names, n=1)), None
    )
    return "" if hint is None else f". Did you mean {hint!r}?"


def _from_text(raw: str | list[str], schema: Mapping[str, Any]) -> Any:
    """A path, query or header value as the JSON value its schema describes: ``"3"`` is
    3 for an integer, ``"true"`` true for a boolean; text that is no such value stays
    text, for the check to refuse."""
    if isinstance(raw, list):
        items = schema.get("items")
        return [_from_text(item, items if isinstance(items, Mapping) else {}) for item in raw]
    types = type_names(schema)
    if "integer" in types or "number" in types:
        try:
            number = float(raw) if "number" in types else int(raw, 10)
        except ValueError:
            return raw
        if math.isfinite(number):
            return number
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON; the real API refuses them.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Json:
    """``raw`` as JSON (NaN and Infinity refused, as JSON has neither)."""
    if not raw:
        return Json(False, problem="the body is empty", empty=True)
    try:
        return Json(True, json.loads(raw.decode("utf-8"), parse_constant=_reject_constant))
    except UnicodeDecodeError:
        return Json(False, problem="the body is not UTF-8")
    except ValueError as exc:
        return Json(False, problem=str(exc))


def short(value: str, limit: int = 40) -> str:
    """``value``'s repr, cut to ``limit`` characters: for messages quoting a client's input."""
    return repr(value if len(value) <= limit else value[:limit] + "...")
