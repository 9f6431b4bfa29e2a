"""Go from the same spec: openapi-generator (the pinned PyPI wheel, which bundles the JAR and
runs it on the machine's Java) generates the client as README "Other languages" says, Go
builds it offline with the standard library alone, and clients/go/main.go holds a real
two-turn conversation with MockServer through it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from _spec import ROOT

from convokit.testing import MockServer

pytestmark = pytest.mark.slow

GENERATOR = ROOT / ".venv" / "bin" / "openapi-generator-cli"
CLIENT_DIR = ROOT / "clients" / "go"
GO = shutil.which("go")
API_KEY = "sk_test_go_client"
# No Go module proxy is reachable, and none may be needed: the build must not fetch anything.
OFFLINE = {"GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOSUMDB": "off"}


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of clients/go/ with the client generated into it, as README's command does."""
    if shutil.which("java") is None:
        pytest.fail(
            "openapi-generator needs Java 17+: install it (e.g. apt-get install default-jre)"
        )
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: run `make test` (it installs the dev extra)")
    out = tmp_path_factory.mktemp("go")
    for name in ("go.mod", "main.go"):
        shutil.copy2(CLIENT_DIR / name, out / name)
    result = subprocess.run(
        _readme_generate_command(output=out / "convokit"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _readme_generate_command(output: Path) -> list[str]:
    """README's openapi-generator command for Go, with its output folder replaced."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^\.venv/bin/openapi-generator-cli generate (?:.*\\\n)*.*$", readme, re.M)
    assert match, "README's Other languages section has no openapi-generator-cli command"
    words = shlex.split(match[0].replace("\\\n", " "))
    assert words[words.index("-g") + 1] == "go" and words[words.index("-i") + 1] == "openapi.yaml"
    words[0] = str(ROOT / words[0])
    words[words.index("-o") + 1] = str(output)
    return words


def _go_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, **OFFLINE}
    if "GOCACHE" not in env and "HOME" not in env and "XDG_CACHE_HOME" not in env:
        env["GOCACHE"] = str(tmp_path / "go-cache")
    return env


def _go(module_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert GO is not None
    return subprocess.run(
        [GO, *args],
        cwd=module_dir,
        env=_go_env(module_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def chat_program(module_dir: Path) -> Path:
    """clients/go/main.go built against the generated client."""
    if GO is None:
        if os.environ.get("CI") == "true":
            pytest.fail("go is missing on CI: .ci/run should have installed golang-go")
        pytest.skip(
            "Go is not installed, so the generated Go client is not built or run: "
            "run `apt-get install -y golang-go` (.ci/run does this before make test)"
        )
    program = module_dir / "convokit-chat"
    result = _go(module_dir, "build", "-o", str(program), ".")
    assert result.returncode == 0, result.stdout + result.stderr
    return program


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(api_key=API_KEY) as running:
        yield running


def test_the_go_client_has_the_operation(module_dir: Path) -> None:
    api = (module_dir / "convokit" / "api_chat.go").read_text(encoding="utf-8")
    assert "func (a *ChatAPIService) CreateChat(ctx context.Context) ApiCreateChatRequest" in api
    assert "func (r ApiCreateChatRequest) IdempotencyKey(idempotencyKey string)" in api
    assert 'parameterAddToHeaderOrQuery(localVarHeaderParams, "Idempotency-Key"' in api


def test_the_go_models_use_the_wire_names(module_dir: Path) -> None:
    request = (module_dir / "convokit" / "model_chat_request.go").read_text(encoding="utf-8")
    assert 'json:"conversationId,omitempty"' in request
    assert 'json:"chatHistory,omitempty"' in request
    response = (module_dir / "convokit" / "model_chat_response.go").read_text(encoding="utf-8")
    assert 'json:"conversation_id"' in response


def test_the_go_client_needs_the_standard_library_alone(
    module_dir: Path, chat_program: Path
) -> None:
    result = _go(module_dir, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["convokit-chat/convokit", "convokit-chat"]


def test_the_go_client_holds_a_two_turn_conversation(
    chat_program: Path, server: MockServer
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CONVOKIT_")}
    env |= {"CONVOKIT_BASE_URL": server.base_url, "CONVOKIT_SECRET_KEY": API_KEY}

    result = subprocess.run(
        [str(chat_program)], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    (conversation_id, thread), *others = server.conversations.items()
    assert not others, "the follow-up started a second conversation"
    assert printed["conversation_ids"] == [conversation_id, conversation_id]
    assert [message["role"] for message in thread] == ["user", "assistant"] * 2
    assert printed["replies"] == [m["content"] for m in thread if m["role"] == "assistant"]
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/v1/chat")] * 2


def test_a_wrong_key_is_refused_with_the_error_body(chat_program: Path, server: MockServer) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CONVOKIT_")}
    env |= {"CONVOKIT_BASE_URL": server.base_url, "CONVOKIT_SECRET_KEY": "sk_test_not_the_key"}

    result = subprocess.run(
        [str(chat_program)], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 1
    assert "401" in result.stderr
    body = json.loads(result.stderr[result.stderr.index("{") :])
    assert body["error"]["type"] and body["error"]["message"]
    assert not server.conversations
