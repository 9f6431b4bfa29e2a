"""The secret key never leaks (repr, str, logs, errors, tracebacks), bad keys and
plain-http hosts are refused up front, TLS is verified, and logging says what
happened without the key or the user's message."""

from __future__ import annotations

import asyncio
import gc
import logging
import ssl
import traceback
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _fault_server import (
    FaultServer,
    echo_authorization,
    error,
    json_reply,
    ok,
    reset,
    stall,
)

from convokit import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    create_async_client,
    create_client,
)
from convokit._logging import logger as convokit_logger


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


pytestmark = pytest.mark.usefixtures("no_sleep")


@pytest.fixture
def env_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A clean `convokit` logger, so CONVOKIT_LOG attaches its handler in this test
    (bound to this test's captured stderr); the logger is restored afterwards."""
    handlers, level = list(convokit_logger.handlers), convokit_logger.level
    convokit_logger.handlers = [h for h in handlers if type(h).__name__ != "_EnvHandler"]
    yield
    convokit_logger.handlers = handlers
    convokit_logger.setLevel(level)


class Canary:
    """A unique secret key, and the unique text of the user's messages."""

    def __init__(self) -> None:
        self.secret = uuid.uuid4().hex
        self.key = f"sk_test_CANARY{self.secret}"
        self.message = f"private message {uuid.uuid4().hex}"

    def assert_absent(self, where: str, text: str) -> None:
        assert self.secret not in text, f"the key leaked into {where}: {text!r}"
        assert "CANARY" not in text, f"part of the key leaked into {where}: {text!r}"


def everything_said_about(error_: BaseException, *, with_locals: bool = True) -> dict[str, str]:
    """Every text a person or an error tracker could get from an exception, its chained
    causes included; `with_locals` adds each frame's local variables, as error
    trackers capture them."""
    said = {
        "str": str(error_),
        "repr": repr(error_),
        "args": repr(error_.args),
        "traceback": "".join(traceback.format_exception(error_)),
    }
    if with_locals:
        said["traceback with locals"] = "".join(
            traceback.TracebackException.from_exception(error_, capture_locals=True).format()
        )
    if isinstance(error_, APIError):
        said["message"] = error_.message
    return said


def test_the_key_appears_nowhere(
    server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    env_logging: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    canary = Canary()
    monkeypatch.setenv("CONVOKIT_LOG", "debug")
    caplog.set_level(logging.DEBUG)  # every logger, httpx's and httpcore's included
    client = create_client(canary.key, base_url=server.base_url)
    res = client.chat(message=canary.message)
    server.then(
        error(401, "Invalid API key.", error_type="authentication_error"),
        *(error(500) for _ in range(3)),
        *(reset() for _ in range(3)),
        json_reply(200, {"reply": "no usage", "conversation_id": "c"}),
        echo_authorization(401),
        echo_authorization(403, as_json=False),
        stall(5),
    )
    said: list[dict[str, str]] = []
    for options in [{}, {}, {}, {}, {}, {}, {"timeout": 0.2, "max_retries": 0}]:
        with pytest.raises(APIError) as raised:
            client.chat(message=canary.message, **options)
        said.append(everything_said_about(raised.value))
    # Refused before any I/O. The key is an argument of the frames that refuse it, so
    # their locals hold it by necessity (error trackers scrub `api_key` themselves).
    with pytest.raises(ValueError) as refused:
        create_client(canary.key + " ")
    said.append(everything_said_about(refused.value, with_locals=False))
    with pytest.raises(ValueError) as refused:
        create_client({"apiKey": canary.key, "baseUrl": "http://example.com"})
    said.append(everything_said_about(refused.value, with_locals=False))
    client.close()

    assert len(said) == 9
    assert server.received[1].headers["authorization"] == f"Bearer {canary.key}"
    texts = {
        "repr(client)": repr(client),
        "str(client)": str(client),
        "repr(config)": repr(client._config),
        "repr(with_options copy)": repr(client.with_options(max_retries=1)._config),
        "repr(response)": repr(res),
        "str(response)": str(res),
        "caplog": caplog.text,
    }
    stderr = capfd.readouterr().err
    texts["stderr"] = stderr
    for number, error_texts in enumerate(said):
        for what, text in error_texts.items():
            texts[f"error {number} {what}"] = text
    for where, text in texts.items():
        canary.assert_absent(where, text)
    # The logs are there (the test is not vacuous) and never hold the message.
    assert "convokit INFO POST /v1/chat status=401 attempt=1" in stderr
    assert "status=ReadError" in stderr
    assert "POST /v1/chat status=200" in caplog.text
    assert canary.message not in caplog.text
    assert canary.message not in stderr


@pytest.mark.anyio
async def test_the_key_appears_nowhere_async(
    server: FaultServer, caplog: pytest.LogCaptureFixture, async_backend: str
) -> None:
    canary = Canary()
    caplog.set_level(logging.DEBUG)
    server.then(echo_authorization(401), reset(), reset(), reset())
    async with create_async_client(
        canary.key, base_url=server.base_url, http_backend=async_backend
    ) as client:
        with pytest.raises(AuthenticationError) as echoed:
            await client.chat(message=canary.message)
        with pytest.raises(APIError) as reset_error:
            await client.chat(message=canary.message)
        texts = {"repr(client)": repr(client), "repr(config)": repr(client._config)}
    for error_ in (echoed.value, reset_error.value):
        for what, text in everything_said_about(error_).items():
            texts[what] = text
    texts["logs"] = caplog.text
    for where, text in texts.items():
        canary.assert_absent(where, text)
    assert "sk_test_" in echoed.value.message  # the echo arrived, redacted


def test_an_echoed_key_is_redacted_from_the_error_message(server: FaultServer) -> None:
    canary = Canary()
    server.then(echo_authorization(401), echo_authorization(401, as_json=False))
    with create_client(canary.key, base_url=server.base_url) as client:
        for _ in range(2):
            with pytest.raises(AuthenticationError) as raised:
                client.chat(message="Hello")
            assert "Invalid credentials" in raised.value.message
            canary.assert_absent("message", raised.value.message)
            canary.assert_absent("str", str(raised.value))


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        " sk_test_abc123",
        "sk_test_abc123 ",
        "sk_test_abc123\n",
        "sk_test_abc\t123",
        "sk_test_abc\x00123",
        "sk_test_abc\x7f123",
        "sk_test_abc\u200b123",
    ],
)
def test_empty_keys_and_keys_with_whitespace_or_control_characters_are_refused(
    bad_key: str,
) -> None:
    for make in (create_client, create_async_client):
        with pytest.raises(ValueError) as refused:
            make(bad_key, base_url="https://api.convokit.dev")
        if bad_key.strip():
            assert "abc" not in str(refused.value)
            assert "whitespace or control characters" in str(refused.value)


def test_a_public_key_is_refused_with_an_explanation() -> None:
    with pytest.raises(ValueError, match="public key") as refused:
        create_client("pk_live_abcdef123456")
    message = str(refused.value)
    assert "secret key" in message
    assert "abcdef123456" not in message


def test_a_missing_key_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVOKIT_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="CONVOKIT_SECRET_KEY"):
        create_client()
    monkeypatch.setenv("CONVOKIT_SECRET_KEY", "sk_test_from_env")
    assert create_client().base_url == "https://api.convokit.dev"


def test_with_options_checks_a_new_key_too() -> None:
    client = create_client("sk_test_abcdef")
    with pytest.raises(ValueError, match="public key"):
        client.with_options(api_key="pk_test_abcdef")
    with pytest.raises(ValueError, match="whitespace"):
        client.with_options(api_key="sk_test_abc def")


@pytest.mark.parametrize(
    "base_url",
    [
        "http://localhost:8787",
        "http://LOCALHOST",
        "http://127.0.0.1:9",
        "http://127.10.20.30",
        "http://[::1]:8787",
    ],
)
def test_plain_http_is_allowed_to_loopback(base_url: str) -> None:
    client = create_client("sk_test_abcdef", base_url=base_url)
    assert client.base_url == base_url.lower()


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.convokit.dev",
        "http://example.com:8080",
        "http://10.0.0.7",
        "http://192.168.1.2",
        "http://0.0.0.0",
        "http://[::]:8080",
        "http://localhost.example.com",
        "http://127.0.0.1.example.com",
    ],
)
def test_plain_http_elsewhere_is_refused_unless_allowed(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="allow_insecure"):
        create_client("sk_test_abcdef", base_url=base_url)
    with pytest.raises(ValueError, match="allow_insecure"):
        create_async_client({"apiKey": "sk_test_abcdef", "baseUrl": base_url})
    with pytest.raises(ValueError, match="allow_insecure"):
        create_client("sk_test_abcdef").with_options(base_url=base_url)
    monkeypatch.setenv("CONVOKIT_BASE_URL", base_url)
    with pytest.raises(ValueError, match="allow_insecure"):
        create_client("sk_test_abcdef")
    allowed = create_client("sk_test_abcdef", base_url=base_url, allow_insecure=True)
    assert allowed.base_url == base_url
    assert create_client("sk_test_abcdef", allowInsecure=True).base_url == base_url


def reachable_ssl_contexts(root: object, depth: int = 10) -> list[ssl.SSLContext]:
    """The SSL contexts reachable from `root` through object references, whatever the
    transport's internal layout; modules, classes and functions are not followed."""
    skipped = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    found: list[ssl.SSLContext] = []
    seen = {id(root)}
    frontier = [root]
    for _ in range(depth):
        following = []
        for item in frontier:
            for referent in gc.get_referents(item):
                if id(referent) in seen or isinstance(referent, skipped):
                    continue
                seen.add(id(referent))
                if isinstance(referent, ssl.SSLContext):
                    found.append(referent)
                else:
                    following.append(referent)
        frontier = following
    return found


def test_the_sdk_made_http_clients_verify_tls_and_do_not_follow_redirects(
    server: FaultServer,
) -> None:
    sync_client = create_client("sk_test_abcdef", base_url=server.base_url)
    async_client = create_async_client("sk_test_abcdef", base_url=server.base_url)
    sync_client.chat(message="Hello")  # pools made on first use exist from here on
    asyncio.run(async_client.chat(message="Hello"))
    for http in (sync_client._pool.http, async_client._pool.http):
        assert http.follow_redirects is False
        contexts = reachable_ssl_contexts(http)
        assert contexts, "no SSL context found behind the SDK's httpx client"
        for context in contexts:
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname is True
    sync_client.close()


def test_an_untrusted_certificate_is_refused(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with FaultServer(tls=tls) as server:
        with (
            create_client("sk_test_abcdef", base_url=server.base_url, max_retries=0) as client,
            pytest.raises(APIConnectionError) as raised,
        ):
            client.chat(message="Hello")
        assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
        assert server.received == []
        # The same server, trusted explicitly by the caller's own http client, works:
        # what failed above was the verification, nothing else.
        trusting = httpx.Client(verify=ssl.create_default_context(cafile=str(cert)))
        with create_client("sk_test_abcdef", base_url=server.base_url, http_client=trusting) as ok_:
            assert ok_.chat(message="Hello").reply
        trusting.close()
        assert len(server.received) == 1


def test_logging_is_off_by_default(
    server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    env_logging: None,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CONVOKIT_LOG", raising=False)
    with create_client("sk_test_abcdef", base_url=server.base_url) as client:
        client.chat(message="Hello")
    assert capfd.readouterr().err == ""
    assert not any(type(h).__name__ == "_EnvHandler" for h in convokit_logger.handlers)


@pytest.mark.parametrize("level", ["info", "INFO", "debug"])
def test_convokit_log_attaches_one_stderr_handler(
    server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    env_logging: None,
    capfd: pytest.CaptureFixture[str],
    level: str,
) -> None:
    monkeypatch.setenv("CONVOKIT_LOG", level)
    server.then(error(503))
    for _ in range(2):  # a second client must not add a second handler
        with create_client("sk_test_abcdef", base_url=server.base_url) as client:
            client.chat(message="Hello")
    handlers = [h for h in convokit_logger.handlers if type(h).__name__ == "_EnvHandler"]
    assert len(handlers) == 1
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 3  # 503 then 200, then 200
    assert "POST /v1/chat status=503 attempt=1 request_id=req_fault_1" in lines[0]
    assert "retry_in=" in lines[0]
    assert "status=200 attempt=2 request_id=req_fault_2" in lines[1]
    assert all("elapsed_ms=" in line for line in lines)


def test_the_success_path_never_logs_the_reply_or_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        FaultServer(ok("a reply nobody should log")) as server,
        create_client("sk_test_abcdef", base_url=server.base_url) as client,
    ):
        client.chat(message="a message nobody should log")
    assert "status=200" in caplog.text
    assert "nobody should log" not in caplog.text
