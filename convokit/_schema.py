"""A small JSON Schema checker (the keywords openapi.yaml's schemas use), standard library
only: the client checks arguments with it before any I/O, and the mock server checks
requests, both against the schemas the generated descriptors carry, so a constraint
added to the spec is enforced by both after regeneration.

Keywords: type, enum, minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum,
exclusiveMaximum, required, properties, additionalProperties, items, minItems, maxItems.
Others (format, description, ...) are ignored; tests/test_properties.py holds the mock to
a full JSON Schema validator, so a spec that starts using another keyword fails there.

A schema is compiled once into a check function that tests only the keywords it has:
the client runs one on every argument of every call.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = ["Check", "Problem", "compile_schema", "type_names"]


class Problem(NamedTuple):
    """Why a value does not match its schema, and where."""

    path: str
    """Where, in wire names, from the value checked: `chatHistory[0].role` (empty for the
    value itself)."""
    message: str
    """What is wrong, e.g. `must be at most 255 characters`."""
    wrong_type: bool = False
    """The value is of the wrong JSON type (not merely out of range)."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def under(self, step: str) -> Problem:
        """The problem as seen from the value holding this one at `step` (a key, or an
        index as `[0]`): where to look is only spelled out once something is wrong."""
        if not self.path:
            return self._replace(path=step)
        joint = "" if self.path[0] == "[" else "."
        return self._replace(path=f"{step}{joint}{self.path}")


Check = Callable[[Any], Problem | None]
"""A compiled schema: `check(value)` is the first problem, or None."""

_JSON_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": Mapping,
    "array": (list, tuple),
    "null": type(None),
}


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """`schema` as a check function."""
    checks = [
        check
        for check in (
            _value_check(schema),
            _string_check(schema),
            _number_check(schema),
            _object_check(schema),
            _array_check(schema),
        )
        if check is not None
    ]
    rest: Check | None = None
    if len(checks) == 1:
        rest = checks[0]
    elif checks:
        rest = functools.partial(_first, checks)
    names = type_names(schema)
    if not names:
        return rest or _nothing_to_check
    wanted = " or ".join(map(_article, names))
    # The Python types that are one of `names` whatever their value, to skip _is_type.
    exact = {kind for name in names for kind in _EXACT_TYPES.get(name, ())}

    # The type is checked here, not by a check of its own: one call less for each value.
    def check(value: Any) -> Problem | None:
        if type(value) not in exact and not any(_is_type(value, name) for name in names):
            return Problem("", f"must be {wanted}, got {_kind(value)}", wrong_type=True)
        return None if rest is None else rest(value)

    return check


def type_names(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The JSON types `schema` allows, as `type` names them (one, or a list of them, as
    OpenAPI 3.1 writes a nullable field: `[string, "null"]`); empty when it names none."""
    declared = schema.get("type")
    if declared is None:
        return ()
    return (declared,) if isinstance(declared, str) else tuple(declared)


def _nothing_to_check(value: Any) -> Problem | None:
    return None


def _first(checks: list[Check], value: Any) -> Problem | None:
    for check in checks:
        problem = check(value)
        if problem is not None:
            return problem
    return None


_EXACT_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _value_check(schema: Mapping[str, Any]) -> Check | None:
    if "enum" not in schema:
        return None
    choices = list(schema["enum"])
    listed = ", ".join(repr(choice) for choice in choices)

    def check(value: Any) -> Problem | None:
        if value in choices:
            return None
        return Problem("", f"must be one of {listed}, got {value!r}")

    return check


def _string_check(schema: Mapping[str, Any]) -> Check | None:
    shortest: int | None = schema.get("minLength")
    longest: int | None = schema.get("maxLength")
    pattern = schema.get("pattern")
    compiled = None if pattern is None else re.compile(pattern)
    if shortest is None and longest is None and compiled is None:
        return None

    def check(value: Any) -> Problem | None:
        if not isinstance(value, str):
            return None
        if shortest is not None and len(value) < shortest:
            if shortest == 1:
                return Problem("", "must not be empty")
            return Problem("", f"must be at least {shortest} characters")
        if longest is not None and len(value) > longest:
            return Problem("", f"must be at most {longest} characters")
        if compiled is not None and compiled.search(value) is None:
            return Problem("", f"must match the pattern {pattern!r}")
        return None

    return check


_BOUNDS: tuple[tuple[str, Callable[[Any, Any], bool], str], ...] = (
    ("minimum", operator.ge, "at least"),
    ("maximum", operator.le, "at most"),
    ("exclusiveMinimum", operator.gt, "more than"),
    ("exclusiveMaximum", operator.lt, "less than"),
)


def _number_check(schema: Mapping[str, Any]) -> Check | None:
    bounds = [(schema[key], holds, words) for key, holds, words in _BOUNDS if key in schema]
    if not bounds:
        return None

    def check(value: Any) -> Problem | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        for bound, holds, words in bounds:
            if not holds(value, bound):
                return Problem("", f"must be {words} {bound}, got {value}")
        return None

    return check


def _object_check(schema: Mapping[str, Any]) -> Check | None:
    properties = {name: compile_schema(part) for name, part in schema.get("properties", {}).items()}
    required = list(schema.get("required", ()))
    extra = schema.get("additionalProperties", True)
    extra_check = compile_schema(extra) if isinstance(extra, Mapping) else None
    if not properties and not required and extra is True:
        return None
    known = ", ".join(repr(name) for name in properties)

    def check(value: Any) -> Problem | None:
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        for name in required:
            if name not in value:
                return Problem(name, "is required")
        for name, item in value.items():
            property_check = properties.get(name)
            if property_check is not None:
                problem = property_check(item)
            elif extra is False:
                problem = Problem("", f"is an unknown key (known: {known})")
            elif extra_check is not None:
                problem = extra_check(item)
            else:
                problem = None
            if problem is not None:
                return problem.under(str(name))
        return None

    return check


def _array_check(schema: Mapping[str, Any]) -> Check | None:
    fewest: int | None = schema.get("minItems")
    most: int | None = schema.get("maxItems")
    items = schema.get("items")
    item_check = compile_schema(items) if isinstance(items, Mapping) else None
    if fewest is None and most is None and item_check is None:
        return None

    def check(value: Any) -> Problem | None:
        if not isinstance(value, list | tuple):
            return None
        if fewest is not None and len(value) < fewest:
            return Problem("", f"must have at least {fewest} items")
        if most is not None and len(value) > most:
            return Problem("", f"must have at most {most} items")
        if item_check is not None:
            for index, item in enumerate(value):
                problem = item_check(item)
                if problem is not None:
                    return problem.under(f"[{index}]")
        return None

    return check


def _is_type(value: object, name: str) -> bool:
    if type(value) is str:  # the common case, first
        return name == "string"
    expected = _JSON_TYPES.get(name)
    if expected is None:
        return True  # an unknown type name: nothing to check
    if isinstance(value, bool) and name != "boolean":
        return False  # True is an int to Python, not to JSON
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, expected)


def _kind(value: object) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name):
            return name
    return type(value).__name__


def _article(name: str) -> str:
    # JSON's names, with Python's beside them for the two that differ.
    articles = {"integer": "an integer", "array": "an array (list)", "object": "an object (dict)"}
    return articles.get(name, f"a {name}")
