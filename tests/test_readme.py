"""Every ```python block of README.md runs, as written, against the embedded mock server."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator

import pytest
from _spec import ROOT

from convokit.testing import MockServer

README = ROOT / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _python_blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start()) + 1, match.group(1)) for match in _BLOCK.finditer(text)
    ]


BLOCKS = _python_blocks()


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
