"""The README's Go client command: openapi-generator (pinned PyPI wheel, bundled JAR)
generates a Go client from openapi.yaml with the operation and fields of the spec."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from _spec import ROOT, SPEC_PATH

pytestmark = pytest.mark.slow

GENERATOR = ROOT / ".venv" / "bin" / "openapi-generator-cli"


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("java") is None:
        pytest.fail("openapi-generator needs a Java 11+ runtime: apt-get install default-jre")
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: run `make test` (it installs the dev extra)")
    out = tmp_path_factory.mktemp("go")
    # The README's command, with the output folder moved to a temporary one.
    result = subprocess.run(
        [
            str(GENERATOR), "generate", "-i", str(SPEC_PATH), "-g", "go", "-o", str(out),
            "--package-name", "convokit",
            "--git-user-id", "convokit", "--git-repo-id", "convokit-go",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_go_client_has_the_operation(go_client: Path) -> None:
    api = (go_client / "api_chat.go").read_text(encoding="utf-8")
    assert "func (a *ChatAPIService) CreateChat(ctx context.Context) ApiCreateChatRequest" in api
    assert "func (r ApiCreateChatRequest) IdempotencyKey(idempotencyKey string)" in api
    assert 'parameterAddToHeaderOrQuery(localVarHeaderParams, "Idempotency-Key"' in api


def test_the_go_models_use_the_wire_names(go_client: Path) -> None:
    request = (go_client / "model_chat_request.go").read_text(encoding="utf-8")
    assert 'json:"conversationId,omitempty"' in request
    assert 'json:"chatHistory,omitempty"' in request
    response = (go_client / "model_chat_response.go").read_text(encoding="utf-8")
    assert 'json:"conversation_id"' in response
    module = (go_client / "go.mod").read_text(encoding="utf-8")
    # No third-party module: the client builds with the Go standard library alone.
    assert "require (\n)" in module
