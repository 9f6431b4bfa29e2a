"""A 2xx response body as its generated model, checked against the contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from convokit_generated.types import Unset

from ._exceptions import APIResponseValidationError

Model = TypeVar("Model")


def parse_body(
    status_code: int, header: Callable[[str], str | None], content: bytes, model: type[Model]
) -> Model:
    """A 2xx response's body as `model` (a generated model, with its request_id set), or
    APIResponseValidationError when the body is not one. `header` looks a response
    header up, case-insensitively (httpx's or aiohttp's headers' `get`)."""
    request_id = header("x-request-id")

    def invalid(problem: str, body: object) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"{status_code} response does not match the API contract: {problem}",
            status_code=status_code,
            body=body,
            request_id=request_id,
        )

    try:
        data = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        text = content.decode("utf-8", errors="replace")
        raise invalid(f"body is not JSON: {text[:200]!r}", text) from None
    if not isinstance(data, dict):
        raise invalid(f"body is {type(data).__name__}, not an object", data)
    try:
        parsed = model.from_dict(data)  # type: ignore[attr-defined]
    except KeyError as missing:
        raise invalid(f"required field {missing} is missing", data) from None
    except (TypeError, ValueError, AttributeError) as error:
        raise invalid(str(error), data) from None
    problem = _type_problem(parsed)
    if problem:
        raise invalid(problem, data)
    parsed.request_id = request_id
    result: Model = parsed
    return result


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
}


_FieldCheck = tuple[str, bool, bool, str, type | tuple[type, ...] | None]
_FIELD_CHECKS: dict[type, tuple[_FieldCheck, ...]] = {}


def _field_checks(model_class: type) -> tuple[_FieldCheck, ...]:
    """Once per model class (not per response): each field's name, whether None or Unset
    may stand for it, and the JSON type its declaration names."""
    checks = _FIELD_CHECKS.get(model_class)
    if checks is None:
        import attrs  # the generated models imported it already: no cost at startup

        checks = _FIELD_CHECKS[model_class] = tuple(
            (field.name, "None" in declared, "Unset" in declared, base, _JSON_TYPES.get(base))
            for field in attrs.fields(model_class)
            for declared in (str(field.type),)
            for base in (declared.split(" | ")[0],)
        )
    return checks


def _type_problem(model: Any, path: str = "") -> str | None:
    """Checks each field declared str/int/float/bool (the generated from_dict does not)."""
    for name, may_be_none, may_be_unset, base, expected in _field_checks(type(model)):
        value = getattr(model, name)
        if (value is None and may_be_none) or (may_be_unset and isinstance(value, Unset)):
            continue  # an optional field left out
        if expected is not None:
            if not isinstance(value, expected) or (isinstance(value, bool) and base != "bool"):
                return f"{path}{name} should be {base}, got {type(value).__name__}"
        elif getattr(type(value), "__attrs_attrs__", None) is not None:  # attrs.has(), faster
            problem = _type_problem(value, f"{path}{name}.")
            if problem:
                return problem
    return None
