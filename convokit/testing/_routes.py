"""Routing: the operation a method and path name, by the descriptors' path templates."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from convokit_generated.api import Operation

_PARAMETER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """An operation, and the values of its path parameters in the request's path."""

    operation: Operation
    path_values: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Template:
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    by_method: dict[str, Operation]


class Routes:
    """Every operation's path template, compiled once."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        by_path: dict[str, dict[str, Operation]] = {}
        for operation in operations:
            by_path.setdefault(operation.path, {})[operation.method.upper()] = operation
        templates = [_compile(path, by_method) for path, by_method in by_path.items()]
        # A literal segment beats a parameter: /v1/items/latest before /v1/items/{id}.
        self._templates = sorted(templates, key=lambda template: len(template.names))

    def find(self, method: str, path: str) -> Route | None:
        """The operation for ``method`` on ``path`` (HEAD is served as GET), or None."""
        for template in self._templates:
            match = template.pattern.fullmatch(path)
            if match is None:
                continue
            operation = template.by_method.get(method)
            if operation is None and method == "HEAD":
                operation = template.by_method.get("GET")
            if operation is not None:
                values = {
                    name: unquote(value)
                    for name, value in zip(template.names, match.groups(), strict=True)
                }
                return Route(operation, values)
        return None

    def methods(self, path: str) -> list[str]:
        """The methods the API serves on ``path`` (none: the path is unknown)."""
        found = {
            method
            for template in self._templates
            if template.pattern.fullmatch(path)
            for method in template.by_method
        }
        return sorted(found)


def _compile(path: str, by_method: dict[str, Operation]) -> _Template:
    parts = _PARAMETER.split(path)  # literal, name, literal, name, ..., literal
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else "([^/]+)" for index, part in enumerate(parts)
    )
    return _Template(re.compile(pattern), tuple(parts[1::2]), by_method)
