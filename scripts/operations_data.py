"""Writes convokit_generated/operations_data.py: every operation of openapi.yaml as plain
data, each `$ref` resolved. scripts/regen.sh runs it after openapi-python-client.

The generator's template context keeps Python names, types and models, but not the
schemas of parameters (Idempotency-Key's maxLength, say) nor the examples of `$ref`'d
responses. convokit/ and its mock server need both, and must not restate them: this
carries them over, keyed by the operation's Python name: its operationId as the
generator names it (each generated endpoint module's NAME).

    python scripts/operations_data.py SPEC OUTPUT
"""

from __future__ import annotations

import pprint
import sys
from pathlib import Path
from typing import Any

import yaml

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_DEPTH = 64


def _resolver(spec: dict[str, Any]) -> Any:
    def lookup(ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SystemExit(f"operations_data.py: only local $refs are supported, got {ref!r}")
        node: Any = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def resolve(node: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise SystemExit("operations_data.py: a $ref cycle (recursive schemas unsupported)")
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(lookup(node["$ref"]), depth + 1)
            return {key: resolve(value, depth + 1) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item, depth + 1) for item in node]
        return node

    return resolve


def _examples(media: dict[str, Any]) -> list[Any]:
    found = [media["example"]] if "example" in media else []
    found += [example["value"] for example in media.get("examples", {}).values()]
    return found


def _media(content: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The JSON media type of a body (the one the SDK speaks), or the first."""
    for content_type, media in content.items():
        if content_type == "application/json" or content_type.endswith("+json"):
            return content_type, media
    return next(iter(content.items()), (None, {}))


def python_name(operation_id: str) -> str:
    """The generator's own Python name for an operationId (its endpoint module's name)."""
    from openapi_python_client.strings import PythonIdentifier

    config = yaml.safe_load(Path("generator-config.yml").read_text(encoding="utf-8")) or {}
    return str(PythonIdentifier(operation_id, prefix=config.get("field_prefix", "field_")))


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resolve = _resolver(spec)
    found: dict[str, dict[str, Any]] = {}
    for path, path_item in spec.get("paths", {}).items():
        path_item = resolve(path_item)
        shared = path_item.get("parameters", [])
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            by_key = {(p["in"], p["name"]): p for p in [*shared, *operation.get("parameters", [])]}
            parameters = [
                {
                    "name": parameter["name"],
                    "in": parameter["in"],
                    "required": bool(parameter.get("required", parameter["in"] == "path")),
                    "schema": parameter.get("schema", {}),
                }
                for parameter in by_key.values()
            ]
            body = None
            if "requestBody" in operation:
                content_type, media = _media(operation["requestBody"].get("content", {}))
                body = {
                    "content_type": content_type,
                    "required": bool(operation["requestBody"].get("required", False)),
                    "schema": media.get("schema", {}),
                    "examples": _examples(media),
                }
            responses = {}
            for status, response in operation.get("responses", {}).items():
                content_type, media = _media(response.get("content", {}))
                responses[str(status)] = {
                    "description": response.get("description", ""),
                    "content_type": content_type,
                    "schema": media.get("schema"),
                    "examples": _examples(media),
                    "headers": sorted(response.get("headers", {})),
                }
            operation_id = operation.get("operationId")
            if operation_id is None:
                raise SystemExit(f"operations_data.py: {method.upper()} {path} has no operationId")
            found[python_name(operation_id)] = {
                "operation_id": operation_id,
                "method": method.upper(),
                "path": path,
                "summary": operation.get("summary", ""),
                "parameters": parameters,
                "body": body,
                "responses": responses,
            }
    return found


def main() -> None:
    source, output = (Path(argument) for argument in sys.argv[1:3])
    with source.open(encoding="utf-8") as spec_file:
        spec = yaml.safe_load(spec_file)
    data = pprint.pformat(operations(spec), width=1_000_000, sort_dicts=False)  # ruff wraps it
    output.write_text(
        '"""openapi.yaml\'s operations as data, every $ref resolved: their parameters with\n'
        "their schemas, request body schema and examples, and each documented response with\n"
        'its schema and examples. Written by scripts/regen.sh; never edit by hand."""\n\n'
        "from typing import Any, Final\n\n"
        f"OPERATIONS: Final[dict[str, dict[str, Any]]] = {data}\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
