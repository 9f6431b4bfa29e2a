"""Prism, a mock server nobody here wrote, holds the SDK to openapi.yaml.

`prism mock openapi.yaml --errors` validates each request against the spec and
answers with the spec's examples. Every kind of call the SDK makes must pass
Prism's validation (no `sl-violations` header, nothing in Prism's log), the SDK
must parse every example Prism serves (`Prefer: code=NNN` picks an error
example), and a deliberately wrong request must be reported by both Prism and
openapi-core (the checks can fail).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from _contract import DOCUMENTED_ERRORS, ContractValidator, error_class, error_example
from _spec import ROOT, SPEC_PATH, spec

import convokit

pytestmark = pytest.mark.slow

PRISM = ROOT / "node_modules" / ".bin" / "prism"
API_KEY = "sk_test_prism"
CHAT = spec()["paths"]["/v1/chat"]["post"]
OK_EXAMPLE: dict[str, Any] = CHAT["responses"]["200"]["content"]["application/json"]["example"]
REQUEST_ID_EXAMPLE: str = spec()["components"]["headers"]["XRequestId"]["example"]
RETRY_AFTER_EXAMPLE: int = spec()["components"]["headers"]["RetryAfter"]["example"]
START_TIMEOUT = 90.0
# Lines Prism's validator writes for a request that breaks the spec.
VIOLATION_MARKERS = ("Request did not pass the validation rules", "Violation:")

# One entry per kind of call: (id, chat() options as keywords or a JS-style dict).
CALLS: list[tuple[str, Any]] = [
    ("message", {"message": "What are your support hours?"}),
    ("message-positional", "What are your support hours?"),
    ("conversation_id", {"message": "And on weekends?", "conversation_id": "conv_7f3a9c2e"}),
    ("widget_id", {"message": "Hi", "widget_id": "support-page"}),
    ("instance_id", {"message": "Hi", "instance_id": "my-bot"}),
    ("history-user", {"message": "Hi", "chat_history": [{"role": "user", "content": "a"}]}),
    (
        "history-assistant",
        {"message": "Hi", "chat_history": [{"role": "assistant", "content": "b"}]},
    ),
    ("history-system", {"message": "Hi", "chat_history": [{"role": "system", "content": "c"}]}),
    ("history-empty", {"message": "Hi", "chat_history": []}),
    (
        "camelCase-all-fields",
        {
            "options": {
                "message": "What did I just ask?",
                "conversationId": "conv_7f3a9c2e",
                "widgetId": "support-page",
                "instanceId": "my-bot",
                "chatHistory": [
                    {"role": "system", "content": "You are the support bot."},
                    {"role": "user", "content": "What are your support hours?"},
                    {"role": "assistant", "content": "We are open 9am-5pm."},
                ],
            }
        },
    ),
    ("idempotency_key", {"message": "Hi", "idempotency_key": "5f0c8a3e-9d7b-4c52-b1e4"}),
    ("extra_headers", {"message": "Hi", "extra_headers": {"X-Trace-Id": "trace-1"}}),
    (
        "per-call-options",
        {"message": "Hi", "timeout": 30, "total_timeout": 60, "max_retries": 1},
    ),
]


@dataclass
class Prism:
    """A running `prism mock` and its log."""

    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def settled_log(self, start: int) -> str:
        """Prism's log from byte `start`, once every request sent so far is in it.

        A request to a made-up path is logged after everything sent before it, so
        seeing it means the log of the earlier requests is complete.
        """
        marker = f"/__log_marker_{uuid.uuid4().hex}"
        httpx.get(self.base_url + marker, timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[start:].decode("utf-8", errors="replace")
            if "Route not resolved" in text.split(marker, 1)[-1] and marker in text:
                return text.split(marker, 1)[0]
            time.sleep(0.05)
        pytest.fail(f"Prism never logged {marker}:\n{self.log_text()[-3000:]}")

    @contextlib.contextmanager
    def no_violations_logged(self) -> Iterator[None]:
        """Fails when Prism logs a request violation for what the block sends."""
        start = self.log_path.stat().st_size
        yield
        log = self.settled_log(start)
        assert "Request received" in log, "nothing reached Prism"
        violations = [
            line for line in log.splitlines() if any(m in line for m in VIOLATION_MARKERS)
        ]
        assert not violations, "\n".join(violations)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _start_prism(log_path: Path) -> Prism:
    port = _free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PRISM), "mock", str(SPEC_PATH), "--errors", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so teardown can stop all of it
        )
    prism = Prism(f"http://127.0.0.1:{port}", log_path, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if "Prism is listening on" in prism.log_text():
            with contextlib.suppress(httpx.TransportError):
                httpx.get(prism.base_url + "/__ready", timeout=5)
                return prism
        time.sleep(0.1)
    _stop(process)
    pytest.fail(f"prism mock did not start on port {port}:\n{prism.log_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism]:
    if not PRISM.exists():
        pytest.fail("node_modules/.bin/prism is missing: run `make test` (it runs npm ci)")
    log_dir = tmp_path_factory.mktemp("prism")
    running = None
    for attempt in range(3):  # the free port can be taken between probe and bind
        try:
            running = _start_prism(log_dir / f"prism-{attempt}.log")
            break
        except pytest.fail.Exception:
            if attempt == 2 or "EADDRINUSE" not in (log_dir / f"prism-{attempt}.log").read_text():
                raise
    assert running is not None
    try:
        yield running
    finally:
        _stop(running.process)


@dataclass
class Exchanges:
    """What the SDK's http client saw: status and Prism's sl-violations header per response."""

    seen: list[tuple[int, str | None]] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        self.seen.append((response.status_code, response.headers.get("sl-violations")))

    async def arecord(self, response: httpx.Response) -> None:
        self.record(response)

    def assert_no_violation_headers(self, count: int) -> None:
        assert len(self.seen) == count
        assert [v for _, v in self.seen if v is not None] == []


def _call_arguments(options: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(options, str):
        return (options,), {}
    if "options" in options:
        return (options["options"],), {}
    return (), dict(options)


def _assert_is_the_ok_example(response: convokit.ChatResponse) -> None:
    assert response.reply == OK_EXAMPLE["reply"]
    assert response.conversation_id == OK_EXAMPLE["conversation_id"]
    assert response.usage.prompt_tokens == OK_EXAMPLE["usage"]["prompt_tokens"]
    assert response.usage.completion_tokens == OK_EXAMPLE["usage"]["completion_tokens"]
    assert response.usage.total_tokens == OK_EXAMPLE["usage"]["total_tokens"]
    assert response.request_id == REQUEST_ID_EXAMPLE


@pytest.mark.parametrize("options", [options for _, options in CALLS], ids=[i for i, _ in CALLS])
def test_every_kind_of_sync_call_passes_prism(prism: Prism, options: Any) -> None:
    exchanges = Exchanges()
    args, kwargs = _call_arguments(options)
    with (
        prism.no_violations_logged(),
        httpx.Client(event_hooks={"response": [exchanges.record]}) as http,
    ):
        client = convokit.create_client(
            API_KEY,
            base_url=prism.base_url,
            http_client=http,
            default_headers={"X-Team": "support"},
        )
        response = client.chat(*args, **kwargs)
    _assert_is_the_ok_example(response)
    exchanges.assert_no_violation_headers(1)


@pytest.mark.anyio
async def test_every_kind_of_async_call_passes_prism(prism: Prism) -> None:
    exchanges = Exchanges()
    with prism.no_violations_logged():
        async with httpx.AsyncClient(event_hooks={"response": [exchanges.arecord]}) as http:
            client = convokit.create_async_client(
                API_KEY, base_url=prism.base_url, http_client=http
            )
            for _, options in CALLS:
                args, kwargs = _call_arguments(options)
                _assert_is_the_ok_example(await client.chat(*args, **kwargs))
            tuned = client.with_options(timeout=15, max_retries=0)
            _assert_is_the_ok_example(await tuned.chat(message="Hi"))
    exchanges.assert_no_violation_headers(len(CALLS) + 1)


@pytest.mark.parametrize("status", DOCUMENTED_ERRORS)
def test_the_sdk_parses_each_error_example_prism_serves(prism: Prism, status: int) -> None:
    exchanges = Exchanges()
    expected = error_example(status)
    with (
        prism.no_violations_logged(),
        httpx.Client(event_hooks={"response": [exchanges.record]}) as http,
    ):
        client = convokit.create_client(
            API_KEY, base_url=prism.base_url, http_client=http, max_retries=0
        )
        with pytest.raises(convokit.APIStatusError) as raised:
            client.chat(message="Hi", extra_headers={"Prefer": f"code={status}"})
    error = raised.value
    assert type(error) is error_class(status)
    assert error.status_code == status
    assert error.message == expected["message"]
    assert error.error_type == expected["type"]
    assert error.code == expected.get("code")
    assert error.param == expected.get("param")
    assert error.request_id == REQUEST_ID_EXAMPLE
    if status in (429, 503):
        assert error.headers["retry-after"] == str(RETRY_AFTER_EXAMPLE)
    exchanges.assert_no_violation_headers(1)


@pytest.mark.anyio
async def test_async_errors_and_retries_against_prism(prism: Prism, no_sleep: None) -> None:
    exchanges = Exchanges()
    with prism.no_violations_logged():
        async with httpx.AsyncClient(event_hooks={"response": [exchanges.arecord]}) as http:
            client = convokit.create_async_client(
                API_KEY, base_url=prism.base_url, http_client=http, max_retries=2
            )
            with pytest.raises(convokit.RateLimitError) as raised:
                await client.chat(message="Hi", extra_headers={"Prefer": "code=429"})
    assert raised.value.message == error_example(429)["message"]
    # Retried twice after Retry-After, each attempt as valid as the first.
    exchanges.assert_no_violation_headers(3)
    assert [status for status, _ in exchanges.seen] == [429, 429, 429]


# A wrong body, what Prism names in its violation, and what openapi-core names.
WRONG_BODIES: dict[str, tuple[dict[str, Any], str, str]] = {
    "snake_case-conversation_id": (
        {"message": "And on weekends?", "conversation_id": "conv_7f3a9c2e"},
        "found 'conversation_id'",
        "'conversation_id' was unexpected",
    ),
    "unknown-role": (
        {"message": "Hi", "chatHistory": [{"role": "robot", "content": "beep"}]},
        "chatHistory.0.role must be equal to one of the allowed values",
        "'robot' is not one of ['user', 'assistant', 'system'",  # and any role added later
    ),
}


@pytest.mark.parametrize("case", list(WRONG_BODIES), ids=list(WRONG_BODIES))
def test_prism_and_openapi_core_both_report_a_wrong_request(prism: Prism, case: str) -> None:
    body, prism_says, openapi_core_says = WRONG_BODIES[case]
    content = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    request = httpx.Request("POST", prism.base_url + "/v1/chat", headers=headers, content=content)

    # The guard every SDK call above runs under must fail here.
    with (
        pytest.raises(AssertionError) as guard,
        prism.no_violations_logged(),
        httpx.Client() as http,
    ):
        response = http.send(request)
    log = str(guard.value)

    violations = json.loads(response.headers.get("sl-violations", "[]"))
    assert response.status_code == 422
    assert [v["location"][:2] for v in violations] == [["request", "body"]]
    assert prism_says in violations[0]["message"]
    assert "Request did not pass the validation rules" in log
    assert "Violation: request.body" in log
    assert prism_says in log

    problems = ContractValidator().request_problems(request, content)
    assert len(problems) == 1
    assert problems[0].startswith("InvalidRequestBody")
    assert openapi_core_says in problems[0]


def test_the_sdk_itself_would_not_send_those_requests() -> None:
    client = convokit.create_client(API_KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="robot"):
        client.chat(message="Hi", chat_history=[{"role": "robot", "content": "beep"}])
    with pytest.raises(TypeError, match="conversationId"):
        client.chat(message="Hi", conversationid="conv_7f3a9c2e")
