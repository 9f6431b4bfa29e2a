"""The contract itself: valid OpenAPI, lint-clean, and every example valid against its schema."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from _spec import ROOT, SPEC_PATH, examples_of, resolve, spec, validator_at
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
CHAT = spec()["paths"]["/v1/chat"]["post"]
DOCUMENTED_STATUSES = {"200", "400", "401", "403", "404", "409", "413", "422", "429", "500", "503"}


def _redocly_lint(spec_file: Path) -> subprocess.CompletedProcess[str]:
    if not REDOCLY.exists():
        pytest.fail("node_modules/.bin/redocly is missing: run `make test` (it runs npm ci)")
    return subprocess.run(
        [str(REDOCLY), "lint", "--config", str(ROOT / "redocly.yaml"), str(spec_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_openapi_spec_validator_accepts_the_spec() -> None:
    spec_dict, _ = read_from_filename(str(SPEC_PATH))
    validate(spec_dict)


def test_redocly_lint_reports_nothing() -> None:
    result = _redocly_lint(SPEC_PATH)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Woohoo! Your API description is valid" in result.stdout + result.stderr
    output = (result.stdout + result.stderr).lower().replace("deprecation warning", "")
    assert "warning" not in output


def test_redocly_lint_fails_on_an_invalid_example(tmp_path: Path) -> None:
    broken = copy.deepcopy(spec())
    media = broken["paths"]["/v1/chat"]["post"]["responses"]["200"]["content"]["application/json"]
    media["example"]["usage"]["total_tokens"] = "twenty-three"  # the schema says integer
    (tmp_path / "openapi.yaml").write_text(yaml.safe_dump(broken, sort_keys=False), "utf-8")
    shutil.copy(ROOT / "redocly.yaml", tmp_path / "redocly.yaml")
    result = _redocly_lint(tmp_path / "openapi.yaml")
    assert result.returncode != 0
    assert "no-invalid-media-type-examples" in result.stdout + result.stderr


def test_the_operation_is_what_the_design_says() -> None:
    assert spec()["openapi"] == "3.1.0"
    assert spec()["servers"][0]["url"] == "https://api.convokit.dev"
    assert spec()["components"]["securitySchemes"]["secretKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec()["components"]["securitySchemes"]["secretKey"]["description"],
    }
    assert CHAT["operationId"] == "createChat"
    assert "chat" in CHAT["tags"]
    assert set(CHAT["responses"]) >= DOCUMENTED_STATUSES
    parameter = resolve(CHAT["parameters"][0])
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "Idempotency-Key",
        "header",
        False,
    )
    request = spec()["components"]["schemas"]["ChatRequest"]
    assert "message" in request["required"]
    assert set(request["properties"]) >= {
        "message",
        "conversationId",
        "widgetId",
        "instanceId",
        "chatHistory",
    }
    roles = spec()["components"]["schemas"]["ChatMessage"]["properties"]["role"]["enum"]
    assert set(roles) >= {"user", "assistant", "system"}
    # Responses stay open to new fields (forward compatibility).
    for name in ("ChatResponse", "Usage", "Error", "ErrorDetail"):
        assert spec()["components"]["schemas"][name].get("additionalProperties", True) is not False


def _responses() -> list[tuple[str, str, dict[str, Any]]]:
    """(operationId, status, response) of every documented response of every operation."""
    return [
        (operation["operationId"], status, resolve(response))
        for path_item in spec()["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "responses" in operation
        for status, response in operation["responses"].items()
    ]


@pytest.mark.parametrize(
    ("operation_id", "status", "response"),
    _responses(),
    ids=[f"{operation_id}-{status}" for operation_id, status, _ in _responses()],
)
def test_every_response_has_request_id_and_a_valid_example(
    operation_id: str, status: str, response: dict[str, Any]
) -> None:
    assert "X-Request-Id" in response["headers"]
    if status in ("429", "503"):
        assert "Retry-After" in response["headers"]
    if "content" not in response:
        # A response without a body (a 204) has nothing to exemplify; an error always has one.
        assert int(status) < 400, f"error response {status} has no body"
        return
    media = response["content"]["application/json"]
    examples = examples_of(media)
    assert examples, f"response {status} has no example"
    pointer = _schema_pointer(media["schema"])
    for example in examples:
        errors = list(validator_at(pointer).iter_errors(example))
        assert not errors, f"{status} example invalid: {[e.message for e in errors]}"
    if int(status) >= 400:
        assert pointer == "/components/schemas/Error"


def test_every_request_example_is_valid() -> None:
    media = CHAT["requestBody"]["content"]["application/json"]
    examples = examples_of(media)
    assert len(examples) >= 3
    for example in examples:
        assert not list(validator_at("/components/schemas/ChatRequest").iter_errors(example))


def test_schema_validation_rejects_what_the_contract_forbids() -> None:
    request = validator_at("/components/schemas/ChatRequest")
    assert not request.is_valid({"message": ""})
    assert not request.is_valid({})
    assert not request.is_valid({"message": "hi", "conversation_id": "conv_1"})
    assert not request.is_valid({"message": "hi", "chatHistory": [{"role": "bot", "content": "x"}]})
    assert request.is_valid({"message": "hi", "chatHistory": [{"role": "system", "content": "x"}]})


def _schema_pointer(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).removeprefix("#")
