"""openapi.yaml, loaded once, with JSON Schema validators that resolve its local refs."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
import yaml

from convokit_generated.api.chat import create_chat

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi.yaml"
SPEC_URI = "urn:convokit:openapi"


@functools.cache
def spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as spec_file:
        loaded: dict[str, Any] = yaml.safe_load(spec_file)
    return loaded


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resource = referencing.Resource.from_contents(
        spec(), default_specification=referencing.jsonschema.DRAFT202012
    )
    return referencing.Registry().with_resource(SPEC_URI, resource)


def validator_at(pointer: str) -> jsonschema.Draft202012Validator:
    """A validator for the schema at JSON pointer `pointer` (e.g. '/components/schemas/Error')."""
    return jsonschema.Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=_registry())


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for `components.schemas[name]`."""
    return validator_at(f"/components/schemas/{name}")


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follows a local `$ref` (one level is all openapi.yaml uses outside schemas)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return resolve(target)


def examples_of(media: dict[str, Any]) -> list[Any]:
    """Every example value of a media type object: its `example` and its named `examples`."""
    found = [media["example"]] if "example" in media else []
    found += [resolve(example)["value"] for example in media.get("examples", {}).values()]
    return found


def documented_errors(status: int) -> list[dict[str, Any]]:
    """The `error` object of every example openapi.yaml gives for the chat operation's
    response `status`."""
    operation = spec()["paths"][create_chat.PATH][create_chat.METHOD.lower()]
    media = resolve(operation["responses"][str(status)])["content"]["application/json"]
    return [example["error"] for example in examples_of(media)]
