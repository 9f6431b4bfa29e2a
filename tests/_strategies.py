"""Hypothesis strategies read from openapi.yaml's schemas, so that property tests cover
every field the spec has, fields added later included.

`valid_values(schema)` generates values that are meant to match `schema` (most do; the
tests keep jsonschema as the oracle, so a near miss only becomes a negative example).
It knows the keywords openapi.yaml uses: type, enum, const, minLength, maxLength,
pattern, minimum, maximum, exclusive bounds, items, minItems, maxItems, properties,
required, additionalProperties, anyOf and oneOf.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from _spec import resolve, spec
from hypothesis import strategies as st

from convokit_generated.api.chat import create_chat

_TEXT = st.text(max_size=20)


def deref(node: Any) -> Any:
    """`node` with every local `$ref` in it replaced by its target."""
    if isinstance(node, Mapping):
        target = resolve(dict(node)) if "$ref" in node else node
        return {key: deref(value) for key, value in target.items()}
    if isinstance(node, list):
        return [deref(item) for item in node]
    return node


def chat_operation() -> dict[str, Any]:
    """The chat operation of openapi.yaml, every `$ref` in it resolved."""
    operation: dict[str, Any] = deref(spec()["paths"][create_chat.PATH][create_chat.METHOD.lower()])
    return operation


def chat_body_schema() -> dict[str, Any]:
    """The chat operation's JSON request body schema."""
    schema: dict[str, Any] = chat_operation()["requestBody"]["content"]["application/json"][
        "schema"
    ]
    return schema


def snake_case(name: str) -> str:
    """`conversationId` -> `conversation_id`, `Idempotency-Key` -> `idempotency_key`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").lower()


def camel_case(name: str) -> str:
    """`Idempotency-Key` -> `idempotencyKey`, `conversationId` stays."""
    first, *rest = re.split(r"[-_]", name)
    return first[:1].lower() + first[1:] + "".join(part[:1].upper() + part[1:] for part in rest)


def valid_values(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values meant to match `schema`."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return st.one_of([valid_values(part) for part in schema[combined]])
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or ["string"])
    return st.one_of([_of_type(name, schema) for name in types])


def _of_type(name: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    if name == "string":
        return _strings(schema)
    if name in ("integer", "number"):
        return _numbers(name, schema)
    if name == "boolean":
        return st.booleans()
    if name == "null":
        return st.none()
    if name == "array":
        items = schema.get("items")
        return st.lists(
            valid_values(items) if isinstance(items, Mapping) else _TEXT,
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    return _objects(schema)


def _strings(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    shortest = schema.get("minLength", 0)
    longest = schema.get("maxLength", max(shortest, 20))
    pattern = schema.get("pattern")
    if pattern is None:
        return st.text(min_size=shortest, max_size=longest)
    return st.from_regex(pattern).filter(lambda text: shortest <= len(text) <= longest)


def _numbers(name: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if name == "integer":
        return st.integers(
            min_value=None if low is None else math.ceil(low),
            max_value=None if high is None else math.floor(high),
        )
    return st.floats(
        min_value=low,
        max_value=high,
        exclude_min="exclusiveMinimum" in schema,
        exclude_max="exclusiveMaximum" in schema,
        allow_nan=False,
        allow_infinity=False,
    )


def _objects(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: valid_values(part) for name, part in properties.items() if name in required},
        optional={
            name: valid_values(part) for name, part in properties.items() if name not in required
        },
    )
