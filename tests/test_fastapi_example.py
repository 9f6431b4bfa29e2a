"""examples/fastapi_backend.py under a real uvicorn on 127.0.0.1, relaying to MockServer."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from _example_app import load_example, serve_example

from convokit import APITimeoutError, AsyncClient
from convokit.testing import MockServer

KEY = "sk_test_backend_0123456789abcdef"
SESSION_COOKIE = "chat_session"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(AsyncClient, "_sleep", staticmethod(no_wait))


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("SESSION_SECRET", "test-session-secret-0123456789")
    monkeypatch.delenv("CONVOKIT_LOG", raising=False)
    return load_example()


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def app_url(
    example: ModuleType, mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("CONVOKIT_SECRET_KEY", KEY)
    monkeypatch.setenv("CONVOKIT_BASE_URL", mock.base_url)
    with serve_example(example) as url:
        yield url


class Browser:
    """An HTTP client with a cookie jar that remembers every response it got."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.responses: list[httpx.Response] = []

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        self.responses.append(response)
        return response

    def chat(self, message: object) -> httpx.Response:
        return self.request("POST", "/api/chat", json={"message": message})


@pytest.fixture
def browser(app_url: str) -> Iterator[Browser]:
    browser = Browser(app_url)
    yield browser
    browser.http.close()
    # Whatever a test did, nothing the browser received may hold the key.
    for response in browser.responses:
        assert_no_key(response)


def assert_no_key(response: httpx.Response) -> None:
    everything = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
    assert KEY not in everything
    assert "sk_test" not in everything
    assert "Bearer" not in everything
    for cookie in response.cookies.values():
        payload = cookie.split(".")[0]
        decoded = base64.b64decode(payload + "=" * (-len(payload) % 4)).decode()
        assert KEY not in decoded


def test_messages_from_one_browser_share_a_conversation(browser: Browser, mock: MockServer) -> None:
    first = browser.chat("What are your support hours?")
    second = browser.chat("And on weekends?")
    assert first.status_code == second.status_code == 200
    assert first.json() == {
        "reply": 'You said: "What are your support hours?" (turn 1 of this conversation)'
    }
    assert second.json() == {"reply": 'You said: "And on weekends?" (turn 2 of this conversation)'}
    [conversation_id] = mock.conversations
    assert mock.requests[1].body == {
        "message": "And on weekends?",
        "conversationId": conversation_id,
    }
    assert mock.requests[0].headers["authorization"].startswith("Bearer sk_test_")


def test_the_session_cookie_is_httponly_strict_and_holds_only_the_conversation_id(
    browser: Browser, mock: MockServer
) -> None:
    response = browser.chat("Hi")
    set_cookie = response.headers["set-cookie"].lower()
    assert set_cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in set_cookie
    assert "samesite=strict" in set_cookie
    payload = response.cookies[SESSION_COOKIE].split(".")[0]
    session = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert session == {"conversation_id": next(iter(mock.conversations))}


def test_each_browser_has_its_own_conversation(app_url: str, mock: MockServer) -> None:
    alice, bob = Browser(app_url), Browser(app_url)
    try:
        alice.chat("one")
        assert bob.chat("one").json()["reply"].endswith("(turn 1 of this conversation)")
        assert alice.chat("two").json()["reply"].endswith("(turn 2 of this conversation)")
    finally:
        alice.http.close()
        bob.http.close()
    assert len(mock.conversations) == 2


def test_a_forged_session_cookie_is_ignored(browser: Browser, mock: MockServer) -> None:
    browser.chat("mine")
    [victim_thread] = mock.conversations
    forged = base64.b64encode(json.dumps({"conversation_id": victim_thread}).encode()).decode()
    browser.http.cookies.clear()
    browser.http.cookies.set(SESSION_COOKIE, f"{forged}.AAAAAA.not-a-signature")
    response = browser.chat("let me in")
    assert response.json()["reply"].endswith("(turn 1 of this conversation)")
    assert "conversationId" not in mock.requests[-1].body


def test_new_conversation_starts_a_new_thread(browser: Browser, mock: MockServer) -> None:
    browser.chat("one")
    assert browser.request("POST", "/api/new-conversation").status_code == 204
    assert browser.chat("two").json()["reply"].endswith("(turn 1 of this conversation)")
    assert len(mock.conversations) == 2


def test_a_thread_gone_upstream_is_replaced_by_a_new_one(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOKIT_SECRET_KEY", KEY)
    with MockServer(api_key=KEY) as first_mock:
        port = int(first_mock.base_url.rsplit(":", 1)[1])
        monkeypatch.setenv("CONVOKIT_BASE_URL", first_mock.base_url)
        with serve_example(example) as url, httpx.Client(base_url=url, timeout=60) as http:
            assert http.post("/api/chat", json={"message": "one"}).status_code == 200
            first_mock.close()
            # The API forgot every thread (a new server on the same address).
            with MockServer(api_key=KEY, port=port) as second_mock:
                response = http.post("/api/chat", json={"message": "two"})
                assert response.status_code == 200
                assert response.json()["reply"].endswith("(turn 1 of this conversation)")
                [new_thread] = second_mock.conversations
                third = http.post("/api/chat", json={"message": "three"})
                assert third.json()["reply"].endswith("(turn 2 of this conversation)")
                assert second_mock.requests[-1].body["conversationId"] == new_thread


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"json": {"message": ""}},
        {"json": {"message": "   "}},
        {"json": {"message": "x" * 4001}},
        {"json": {"message": 42}},
        {"json": {"text": "Hi"}},
        {"json": ["Hi"]},
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        # A cross-site HTML form can send text/plain without a preflight: refused.
        {"content": b'{"message": "Hi"}', "headers": {"Content-Type": "text/plain"}},
    ],
    ids=["empty", "blank", "too-long", "number", "no-message", "array", "bad-json", "text-plain"],
)
def test_bad_input_is_a_400_and_nothing_is_sent(
    browser: Browser, mock: MockServer, request_kwargs: dict[str, Any]
) -> None:
    response = browser.request("POST", "/api/chat", **request_kwargs)
    assert response.status_code == 400
    assert "message" in response.json()["error"]["message"]
    assert mock.requests == []


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        (400, 400),
        (413, 400),
        (422, 400),
        (401, 502),
        (403, 502),
        (500, 502),
        (503, 502),
        (429, 429),
    ],
)
def test_upstream_errors_map_to_browser_statuses(
    browser: Browser, mock: MockServer, upstream: int, expected: int
) -> None:
    mock.fail_next(upstream, times=3)  # the first try and both retries, where retried
    response = browser.chat("Hi")
    assert response.status_code == expected
    error = response.json()["error"]
    assert error["message"]
    assert error["request_id"].startswith("req_")
    assert set(response.json()) == {"error"}


def test_rate_limit_passes_retry_after_through(browser: Browser, mock: MockServer) -> None:
    mock.fail_next(429, times=3, retry_after=7)
    response = browser.chat("Hi")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_a_retried_failure_is_invisible_to_the_browser(browser: Browser, mock: MockServer) -> None:
    mock.fail_next(503, times=2)
    response = browser.chat("Hi")
    assert response.status_code == 200
    assert len(mock.requests) == 3


def test_an_unreachable_api_is_a_503(example: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("CONVOKIT_SECRET_KEY", KEY)
    monkeypatch.setenv("CONVOKIT_BASE_URL", f"http://127.0.0.1:{closed_port}")
    with serve_example(example) as url, httpx.Client(base_url=url, timeout=60) as http:
        response = http.post("/api/chat", json={"message": "Hi"})
    assert response.status_code == 503
    assert response.json()["error"]["request_id"] is None
    assert_no_key(response)


@pytest.mark.anyio
async def test_a_timeout_is_a_504(example: ModuleType) -> None:
    response = await example.api_error(None, APITimeoutError("POST /v1/chat failed: timed out"))
    assert response.status_code == 504


@pytest.mark.anyio
async def test_the_app_does_not_start_without_a_key(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONVOKIT_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="CONVOKIT_SECRET_KEY"):
        async with example.lifespan(example.create_app()):
            pass


def test_the_page_and_its_assets_are_served_with_security_headers(browser: Browser) -> None:
    page = browser.request("GET", "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/chat.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    script = browser.request("GET", "/static/chat.js")
    assert script.status_code == 200
    assert "/api/chat" in script.text
    assert browser.request("GET", "/static/chat.css").status_code == 200
