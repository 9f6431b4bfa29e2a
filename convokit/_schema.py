"""A small JSON Schema checker (the keywords openapi.yaml's schemas use), standard library
only: the client checks arguments with it before any I/O, and the mock server checks
requests, both against the schemas the generated descriptors carry, so a constraint
added to the spec is enforced by both after regeneration.

Keywords: type, enum, const, minLength, maxLength, pattern, minimum, maximum,
exclusiveMinimum, exclusiveMaximum, required, properties, additionalProperties, items,
minItems, maxItems, allOf, anyOf, oneOf. Others (format, description, ...) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Problem", "first_problem"]

_JSON_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": Mapping,
    "array": (list, tuple),
    "null": type(None),
}


@attrs.frozen
class Problem:
    """Why a value does not match its schema, and where."""

    path: str
    """Where, in wire names: `chatHistory[0].role` (empty for the value itself)."""
    message: str
    """What is wrong, e.g. `must be at most 255 characters`."""

    @property
    def param(self) -> str:
        """The top-level field or parameter at fault."""
        return re.split(r"[.\[]", self.path, maxsplit=1)[0]

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def first_problem(schema: Mapping[str, Any], value: object, path: str = "") -> Problem | None:
    """The first way `value` breaks `schema`, or None when it matches."""
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is_type(value, name) for name in names):
            return Problem(path, f"must be {' or '.join(map(_article, names))}, got {_kind(value)}")
    if "const" in schema and value != schema["const"]:
        return Problem(path, f"must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(choice) for choice in schema["enum"])
        return Problem(path, f"must be one of {choices}, got {value!r}")
    if isinstance(value, str):
        return _string_problem(schema, value, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_problem(schema, value, path)
    if isinstance(value, Mapping):
        problem = _object_problem(schema, value, path)
    elif isinstance(value, list | tuple):
        problem = _array_problem(schema, value, path)
    else:
        problem = None
    return problem or _combined_problem(schema, value, path)


def _string_problem(schema: Mapping[str, Any], value: str, path: str) -> Problem | None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        if schema["minLength"] == 1:
            return Problem(path, "must not be empty")
        return Problem(path, f"must be at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return Problem(path, f"must be at most {schema['maxLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        return Problem(path, f"must match the pattern {schema['pattern']!r}")
    return _combined_problem(schema, value, path)


def _number_problem(schema: Mapping[str, Any], value: float, path: str) -> Problem | None:
    if "minimum" in schema and value < schema["minimum"]:
        return Problem(path, f"must be at least {schema['minimum']}, got {value}")
    if "maximum" in schema and value > schema["maximum"]:
        return Problem(path, f"must be at most {schema['maximum']}, got {value}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return Problem(path, f"must be more than {schema['exclusiveMinimum']}, got {value}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        return Problem(path, f"must be less than {schema['exclusiveMaximum']}, got {value}")
    return _combined_problem(schema, value, path)


def _object_problem(
    schema: Mapping[str, Any], value: Mapping[Any, Any], path: str
) -> Problem | None:
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            return Problem(_join(path, name), "is required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        where = _join(path, str(name))
        if name in properties:
            problem = first_problem(properties[name], item, where)
        elif extra is False:
            allowed = ", ".join(repr(known) for known in properties)
            problem = Problem(where, f"is not a known field (known: {allowed})")
        elif isinstance(extra, Mapping):
            problem = first_problem(extra, item, where)
        else:
            problem = None
        if problem is not None:
            return problem
    return None


def _array_problem(
    schema: Mapping[str, Any], value: list[Any] | tuple[Any, ...], path: str
) -> Problem | None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        return Problem(path, f"must have at least {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return Problem(path, f"must have at most {schema['maxItems']} items")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            problem = first_problem(items, item, f"{path}[{index}]")
            if problem is not None:
                return problem
    return None


def _combined_problem(schema: Mapping[str, Any], value: object, path: str) -> Problem | None:
    for part in schema.get("allOf", ()):
        problem = first_problem(part, value, path)
        if problem is not None:
            return problem
    for keyword, wanted in (("anyOf", range(1, 1 << 30)), ("oneOf", range(1, 2))):
        if keyword in schema:
            matches = [first_problem(part, value, path) is None for part in schema[keyword]]
            if sum(matches) not in wanted:
                return Problem(path, f"does not match {keyword} of its schema")
    return None


def _is_type(value: object, name: str) -> bool:
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
    return {"integer": "an integer", "array": "an array", "object": "an object"}.get(
        name, f"a {name}"
    )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
