"""The example's chat page in headless Chromium: it sends messages and shows the replies.

Debian's `chromium` package (`.ci/run` installs it). Everything stays on 127.0.0.1:
the browser may resolve no host name, and its background services are off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

import pytest
from _example_app import load_example, serve_example

from convokit import AsyncClient
from convokit.testing import MockServer

pytestmark = pytest.mark.slow

KEY = "sk_test_browser_0123456789abcdef"
CHROMIUM = shutil.which("chromium")


@pytest.fixture
def app_url(monkeypatch: pytest.MonkeyPatch, mock: MockServer) -> Iterator[str]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing on CI: .ci/run should have installed it")
        pytest.skip(
            "chromium is not installed, so the page cannot be checked in a browser: "
            "run `apt-get install -y chromium` (.ci/run does this before make test)"
        )

    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(AsyncClient, "_sleep", staticmethod(no_wait))
    monkeypatch.setenv("SESSION_SECRET", "browser-test-session-secret")
    monkeypatch.setenv("CONVOKIT_SECRET_KEY", KEY)
    monkeypatch.setenv("CONVOKIT_BASE_URL", mock.base_url)
    example: ModuleType = load_example()
    with serve_example(example) as url:
        yield url


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


def rendered_page(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran and its requests finished."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-proxy-server",
        # No name resolves: the only address the browser can reach is the one in the URL.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        # Virtual time stands still while requests are in flight: the DOM is dumped
        # after the page's fetches have completed, however slow the machine is.
        "--virtual-time-budget=30000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def chat_log(dom: str) -> list[tuple[str, str]]:
    return re.findall(r'<li class="(user|assistant|error)" data-role="\1">([^<]*)</li>', dom)


def test_the_page_sends_messages_and_shows_replies_in_one_conversation(
    app_url: str, mock: MockServer, tmp_path: Path
) -> None:
    query = urlencode([("autosend", "What are your support hours?"), ("autosend", "And then?")])
    dom = rendered_page(f"{app_url}/?{query}", tmp_path / "profile")
    assert '<body data-state="idle">' in dom
    assert chat_log(dom) == [
        ("user", "What are your support hours?"),
        ("assistant", 'You said: "What are your support hours?" (turn 1 of this conversation)'),
        ("user", "And then?"),
        ("assistant", 'You said: "And then?" (turn 2 of this conversation)'),
    ]
    [conversation_id] = mock.conversations
    assert mock.requests[1].body["conversationId"] == conversation_id
    assert KEY not in dom


def test_the_page_shows_an_error_without_details(
    app_url: str, mock: MockServer, tmp_path: Path
) -> None:
    mock.fail_next(401)
    dom = rendered_page(f"{app_url}/?autosend=Hello", tmp_path / "profile")
    assert chat_log(dom) == [
        ("user", "Hello"),
        ("error", "The assistant is unavailable. Try again later."),
    ]
    assert "sk_test" not in dom
