"""README.md's examples run as written: every ```python block against the embedded mock
server (a block that holds pytest tests, under pytest), and the shell blocks of the
command-line and testing sections with bash from the repository root."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import inspect
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _spec import ROOT

from convokit import plugin, testing
from convokit.testing import MockServer, RecordedRequest

README = ROOT / "README.md"
_BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)
CLI_SECTION = "Command line"
TESTING_SECTION = "Testing your app without the network"
# The sections whose shell blocks a newcomer runs to try the CLI and the mock server.
SHELL_SECTIONS = (CLI_SECTION, TESTING_SECTION)


@dataclasses.dataclass(frozen=True)
class Block:
    line: int
    language: str
    section: str
    source: str


def _blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    headings = [(match.start(), match.group(1)) for match in _HEADING.finditer(text)]
    blocks = []
    for match in _BLOCK.finditer(text):
        section = next((title for start, title in reversed(headings) if start < match.start()), "")
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(line, match.group(1), section, match.group(2)))
    return blocks


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _holds_tests(block: Block) -> bool:
    return re.search(r"^def test_", block.source, re.MULTILINE) is not None


ALL_BLOCKS = _blocks()
BLOCKS = [
    (block.line, block.source)
    for block in ALL_BLOCKS
    if block.language == "python" and not _holds_tests(block)
]
TEST_BLOCKS = [block for block in ALL_BLOCKS if block.language == "python" and _holds_tests(block)]
SHELL_BLOCKS = [
    block for block in ALL_BLOCKS if block.language == "sh" and block.section in SHELL_SECTIONS
]


@pytest.fixture(autouse=True)
def _restore_convokit_logger() -> Iterator[None]:
    logger = logging.getLogger("convokit")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


def test_readme_has_the_js_readme_examples() -> None:
    sources = "\n".join(source for _, source in BLOCKS)
    # The JS README's examples, each with a Python twin: new conversation, follow-up,
    # TypeScript-style typed call, conversation history; plus async and MockServer.
    for needle in (
        'client.chat(message="What are your support hours?")',
        "conversation_id=res.conversation_id",
        'options: ChatOptions = {"message": "Hello", "instanceId": "my-bot", "chatHistory": []}',
        '{"role": "assistant", "content": "We are open 9am–5pm Monday to Friday."}',
        "await client.chat(",
        "MockServer(",
    ):
        assert needle in sources, needle
    assert len(BLOCKS) >= 10
    assert TEST_BLOCKS, "README shows the convokit_mock fixture in a test"


@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_readme_block_runs(
    line: int, source: str, server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOKIT_SECRET_KEY", "sk_test_readme")
    monkeypatch.setenv("CONVOKIT_BASE_URL", server.base_url)
    monkeypatch.delenv("CONVOKIT_LOG", raising=False)
    received_before = len(server.requests)
    output = io.StringIO()
    code = compile(source, f"README.md:{line}", "exec")
    with contextlib.redirect_stdout(output):
        exec(code, {"__name__": "__readme__"})
    talks_to_env_server = (
        "chat(" in source and "MockServer(" not in source and "except TypeError" not in source
    )
    if talks_to_env_server:
        assert len(server.requests) > received_before, "the block sent nothing"


# -- the blocks that are pytest tests: the convokit_mock fixture ---------------------


def _clean_env(**extra: str) -> dict[str, str]:
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CONVOKIT_", "PYTEST_"))
    }
    return {**kept, **extra}


@pytest.mark.slow
@pytest.mark.parametrize("block", TEST_BLOCKS, ids=[f"line{b.line}" for b in TEST_BLOCKS])
def test_readme_test_block_passes_under_pytest(block: Block, tmp_path: Path) -> None:
    path = tmp_path / f"test_readme_line{block.line}.py"
    path.write_text(block.source, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = len(re.findall(r"^def test_", block.source, re.MULTILINE))
    assert re.search(rf"^{expected} passed\b", result.stdout, re.MULTILINE), result.stdout


# -- the testing section documents everything a test can use ---------------------------


def _documented_names() -> list[str]:
    init = inspect.signature(MockServer.__init__).parameters
    return [
        *(name for name in init if name != "self"),
        *(name for name in dir(MockServer) if not name.startswith("_")),
        *(field.name for field in dataclasses.fields(RecordedRequest)),
        *(name for name in testing.__all__ if name != "run_mock_server"),
        *plugin.__all__,
        plugin.MARKER,
        "MAX_BODY_BYTES",
    ]


@pytest.mark.parametrize("name", _documented_names())
def test_testing_section_documents_every_option_and_attribute(name: str) -> None:
    assert re.search(rf"`[^`]*\b{re.escape(name)}\b[^`]*`", _section(TESTING_SECTION)), name


# -- the shell blocks a newcomer runs -----------------------------------------------------


def test_cli_section_starts_with_the_mock_server_and_its_exports() -> None:
    first = next(block for block in SHELL_BLOCKS if block.section == CLI_SECTION)
    commands = [line.split("#", 1)[0].strip() for line in first.source.splitlines()]
    assert re.fullmatch(r"\.venv/bin/convokit mock-server\b.*&.*", commands[0]), commands[0]
    assert re.match(r"export .*CONVOKIT_BASE_URL=http://127\.0\.0\.1:\d+", commands[1])
    assert "CONVOKIT_SECRET_KEY=sk_test_" in commands[1]


def test_shell_examples_call_the_venv_commands() -> None:
    text = README.read_text(encoding="utf-8")
    sh_sources = [block.source for block in ALL_BLOCKS if block.language == "sh"]
    for source in sh_sources:
        for line in source.splitlines():
            command = line.split("#", 1)[0]
            # A bare `convokit` or `python` command works only in an activated venv.
            assert not re.search(r"(^|[|;&(])\s*(convokit|python3?)\b(?!-)", command), line
    assert "source .venv/bin/activate" in text


@contextlib.contextmanager
def _ports_for(source: str) -> Iterator[None]:
    """Holds the ports the block listens on, across this machine's test runs."""
    ports = sorted({int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)", source)})
    with contextlib.ExitStack() as stack:
        for port in ports:
            lock = stack.enter_context(
                (Path(tempfile.gettempdir()) / f"convokit-readme-port-{port}.lock").open("w")
            )
            deadline = time.monotonic() + 120
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        pytest.skip(f"port {port} stayed locked by another run of this test")
                    time.sleep(0.2)
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    pytest.skip(f"port {port}, which the README block uses, is taken here")
        yield


@pytest.mark.slow
@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[f"line{b.line}" for b in SHELL_BLOCKS])
def test_readme_shell_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    assert (ROOT / ".venv" / "bin" / "convokit").exists(), "make demo creates .venv"
    stdout_path, stderr_path = tmp_path / "stdout", tmp_path / "stderr"
    with (
        _ports_for(block.source),
        stdout_path.open("w") as stdout,
        stderr_path.open("w") as stderr,
    ):
        # Its own process group, so that a server the block left running is stopped too.
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.source],
            cwd=ROOT,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    out, err = stdout_path.read_text(), stderr_path.read_text()
    assert returncode == 0, f"README.md:{block.line}\n{out}\n{err}"
    assert "Traceback" not in err
    assert "command not found" not in err
    assert "export CONVOKIT_BASE_URL=http://127.0.0.1:" in out  # the mock printed its exports
    assert re.search(r"^POST /v1/chat 200 req_", err, re.MULTILINE), err  # and answered
