"""The `convokit` command, run as a real subprocess against MockServer on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs
import pytest
from _fault_server import FaultServer, json_reply, valid_body

from convokit._cli import NEW_COMMAND, PROMPT, ExitCode, describe_error
from convokit._exceptions import APITimeoutError
from convokit._models import CHAT
from convokit._retry import DEFAULT_MAX_RETRIES, is_retryable_status, retried_statuses_text
from convokit.testing import MockServer

pytestmark = pytest.mark.slow

KEY = "sk_test_cli0123456789abcdef"
REQUEST_ID = re.compile(r"request id req_[0-9a-f]+")


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


def run(
    *args: str,
    base_url: str | None,
    key: str | None = KEY,
    stdin: str | None = None,
    command: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CONVOKIT_")}
    if key is not None:
        env["CONVOKIT_SECRET_KEY"] = key
    if base_url is not None:
        env["CONVOKIT_BASE_URL"] = base_url
    return subprocess.run(
        [*(command or [sys.executable, "-m", "convokit"]), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: ExitCode) -> str:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convokit: ")
    assert "Traceback" not in result.stderr
    assert KEY not in result.stderr
    return lines[0]


def test_one_shot_prints_the_reply_and_the_conversation_id_on_stderr(mock: MockServer) -> None:
    result = run("chat", "What are your support hours?", base_url=mock.base_url)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == 'You said: "What are your support hours?" (turn 1 of this conversation)\n'
    )
    [conversation_id] = mock.conversations
    assert result.stderr == f"conversation_id: {conversation_id}\n"


def test_console_script_runs_the_same_command(mock: MockServer) -> None:
    script = Path(sys.executable).with_name("convokit")
    assert script.exists(), "pip install -e . should have created the convokit console script"
    result = run("chat", "Hi", base_url=mock.base_url, command=[str(script)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('You said: "Hi"')


def test_json_prints_one_object_with_the_reply_s_fields_and_request_id(mock: MockServer) -> None:
    result = run("chat", "--json", "Hello", base_url=mock.base_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert set(document) >= {"reply", "conversation_id", "usage", "request_id"}
    assert document["reply"] == 'You said: "Hello" (turn 1 of this conversation)'
    assert document["conversation_id"] in mock.conversations
    usage = document["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert re.fullmatch(r"req_[0-9a-f]+", document["request_id"])


def test_json_prints_a_reply_field_this_sdk_has_no_name_for() -> None:
    # A newer API's field reaches scripts as sent, as a field added to openapi.yaml does.
    newer = {**valid_body(), "finish_reason": "stop", "citations": [{"title": "Hours"}]}
    with FaultServer(json_reply(200, newer)) as server:
        result = run("chat", "--json", "Hello", base_url=server.base_url)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document == {**newer, "request_id": document["request_id"]}
    assert document["request_id"]


def test_conversation_id_continues_the_thread(mock: MockServer) -> None:
    first = json.loads(run("chat", "--json", "one", base_url=mock.base_url).stdout)
    result = run(
        "chat", "--conversation-id", first["conversation_id"], "two", base_url=mock.base_url
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'You said: "two" (turn 2 of this conversation)\n'
    assert mock.requests[-1].body["conversationId"] == first["conversation_id"]


def test_widget_and_instance_ids_are_sent(mock: MockServer) -> None:
    result = run(
        "chat", "--widget-id", "support", "--instance-id", "my-bot", "Hi", base_url=mock.base_url
    )
    assert result.returncode == 0, result.stderr
    body = mock.requests[-1].body
    assert body == {"message": "Hi", "widgetId": "support", "instanceId": "my-bot"}


def test_chat_has_a_flag_for_each_optional_scalar_field_of_the_spec() -> None:
    """The flags follow openapi.yaml: a field added there has one after regeneration (the
    drill in tests/test_spec_evolution.py sends two that way)."""
    flags = _flags_of("chat")
    for field in CHAT.body_fields:
        declared = field.schema.get("type")
        types = {declared} if isinstance(declared, str) else set(declared or ()) - {"null"}
        if not field.required and len(types) == 1 and types <= {"string", "integer", "number"}:
            assert "--" + field.python_name.replace("_", "-") in flags, field


def test_a_nullable_field_has_a_flag_and_one_of_several_types_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `type: [string, "null"]` is how OpenAPI 3.1 writes a nullable field.
    from convokit import _cli
    from convokit_generated.api import BodyField

    added = (
        BodyField("added_nullable", "addedNullable", False, {"type": ["string", "null"]}),
        BodyField("added_either", "addedEither", False, {"type": ["integer", "string"]}),
        BodyField("added_switch", "addedSwitch", False, {"type": "boolean"}),
    )
    grown = attrs.evolve(CHAT, body_fields=(*CHAT.body_fields, *added))
    monkeypatch.setattr(_cli, "chat_operation", lambda: grown)
    parser = _cli._parser()
    given = parser.parse_args(["chat", "--added-nullable", "nl", "Hi"])
    assert _cli._fields(given) == {"added_nullable": "nl"}
    for flag in ("--added-either", "--added-switch"):
        with pytest.raises(SystemExit):
            parser.parse_args(["chat", flag, "1", "Hi"])


def test_a_field_named_like_a_flag_leaves_the_flag_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fields a spec could add: one named like a flag, one like the parser's own `run`
    # (named so that no field the spec has takes their flags first).
    from convokit import _cli
    from convokit_generated.api import BodyField

    added = [
        (BodyField("timeout", "timeout", False, {"type": "integer"}), int),
        (BodyField("run", "run", False, {"type": "string"}), str),
        (BodyField("added", "added", False, {"type": "string", "description": "100% new"}), str),
    ]
    fields = [*_cli._field_flags(), *added]
    monkeypatch.setattr(_cli, "_field_flags", lambda: fields)
    parser = _cli._parser()
    args = parser.parse_args(["chat", "--timeout", "5", "--run", "x", "--added", "nl", "Hi"])
    assert (args.timeout, args.run) == (5.0, _cli._run_chat)
    assert _cli._fields(args) == {"run": "x", "added": "nl"}
    with pytest.raises(SystemExit):
        parser.parse_args(["chat", "--help"])
    assert "100% new" in capsys.readouterr().out


def test_key_file_is_read_when_the_variable_is_unset(mock: MockServer, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    result = run("chat", "--api-key-file", str(key_file), "Hi", base_url=mock.base_url, key=None)
    assert result.returncode == 0, result.stderr
    assert len(mock.conversations) == 1


def test_interactive_session_through_a_pipe_keeps_one_thread(mock: MockServer) -> None:
    session = "one\n\ntwo\n/new\nthree\n/exit\nfour\n"
    result = run("chat", base_url=mock.base_url, stdin=session)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'You said: "one" (turn 1 of this conversation)',
        'You said: "two" (turn 2 of this conversation)',
        'You said: "three" (turn 1 of this conversation)',
    ]
    assert "> " not in result.stdout  # no prompt when stdin is not a terminal
    assert [request.body["message"] for request in mock.requests] == ["one", "two", "three"]
    assert len(mock.conversations) == 2
    assert result.stderr.count("conversation_id: conv_") == 2
    assert "(new conversation)" in result.stderr


def test_interactive_session_ends_at_end_of_input(mock: MockServer) -> None:
    result = run("chat", "--json", base_url=mock.base_url, stdin="a\nb")
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [reply["reply"][-29:] for reply in replies] == [
        "(turn 1 of this conversation)",
        "(turn 2 of this conversation)",
    ]
    assert replies[0]["conversation_id"] == replies[1]["conversation_id"]


def test_interactive_session_can_continue_a_given_conversation(mock: MockServer) -> None:
    first = json.loads(run("chat", "--json", "one", base_url=mock.base_url).stdout)
    result = run(
        "chat",
        "--conversation-id",
        first["conversation_id"],
        base_url=mock.base_url,
        stdin="two\n",
    )
    assert result.stdout == 'You said: "two" (turn 2 of this conversation)\n'


def test_interactive_session_reports_a_failed_message_and_goes_on(mock: MockServer) -> None:
    mock.fail_next(500)
    result = run("chat", "--max-retries", "0", base_url=mock.base_url, stdin="lost\nkept\n")
    assert result.returncode == ExitCode.API
    assert result.stdout == 'You said: "kept" (turn 1 of this conversation)\n'
    assert "convokit: 500 api_error" in result.stderr
    assert "Traceback" not in result.stderr


def test_interactive_session_stops_at_an_auth_error(mock: MockServer) -> None:
    result = run("chat", base_url=mock.base_url, key="sk_test_wrong", stdin="a\nb\n")
    assert result.returncode == ExitCode.AUTH
    assert result.stdout == ""
    assert len(mock.requests) == 1


def test_no_key_is_a_usage_error_naming_the_variable(mock: MockServer) -> None:
    line = assert_one_error_line(
        run("chat", "Hi", base_url=mock.base_url, key=None), ExitCode.USAGE
    )
    assert "CONVOKIT_SECRET_KEY" in line
    assert "--api-key-file" in line
    assert mock.requests == []


def test_a_public_key_is_refused_before_sending(mock: MockServer) -> None:
    result = run("chat", "Hi", base_url=mock.base_url, key="pk_live_abcdef123456")
    line = assert_one_error_line(result, ExitCode.USAGE)
    assert "public key" in line
    assert "pk_live_abcdef123456" not in line
    assert mock.requests == []


@pytest.mark.parametrize("content", [None, ""], ids=["missing", "empty"])
def test_unusable_key_file_is_a_usage_error(
    mock: MockServer, tmp_path: Path, content: str | None
) -> None:
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)
    result = run("chat", "--api-key-file", str(key_file), "Hi", base_url=mock.base_url)
    line = assert_one_error_line(result, ExitCode.USAGE)
    assert str(key_file) in line
    assert mock.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["chat", "--no-such-option", "Hi"],
        ["chat", ""],
        ["chat", "--max-retries", "-1", "Hi"],
        ["chat", "--base-url", "ftp://127.0.0.1/", "Hi"],
        [],
    ],
    ids=["unknown-option", "empty-message", "negative-retries", "bad-base-url", "no-command"],
)
def test_usage_errors_exit_2_without_sending(mock: MockServer, args: list[str]) -> None:
    result = run(*args, base_url=mock.base_url)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()
    assert mock.requests == []


def test_wrong_key_is_an_auth_error_with_status_and_request_id(mock: MockServer) -> None:
    result = run("chat", "Hi", base_url=mock.base_url, key="sk_test_not_the_right_one")
    line = assert_one_error_line(result, ExitCode.AUTH)
    assert "401" in line
    assert REQUEST_ID.search(line)
    assert "CONVOKIT_SECRET_KEY" in line  # what to do
    assert "sk_test_not_the_right_one" not in line


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (403, ExitCode.AUTH, "may not use"),
        (429, ExitCode.API, "wait"),
        (500, ExitCode.API, "try again later"),
        (503, ExitCode.API, "try again later"),
        (422, ExitCode.API, "Check the message"),
    ],
)
def test_server_errors_print_one_line_and_exit_with_their_class(
    mock: MockServer, status: int, code: ExitCode, hint: str
) -> None:
    mock.fail_next(status)
    result = run("chat", "--max-retries", "0", "Hi", base_url=mock.base_url)
    line = assert_one_error_line(result, code)
    assert str(status) in line
    assert REQUEST_ID.search(line)
    assert hint in line


def test_server_error_is_retried_by_default(mock: MockServer) -> None:
    mock.fail_next(500)  # no Retry-After: the first backoff is at most half a second
    result = run("chat", "Hi", base_url=mock.base_url)
    assert result.returncode == 0, result.stderr
    assert len(mock.requests) == 2


def test_unknown_conversation_is_an_api_error(mock: MockServer) -> None:
    result = run("chat", "--conversation-id", "conv_missing", "Hi", base_url=mock.base_url)
    line = assert_one_error_line(result, ExitCode.API)
    assert "404" in line
    assert "--conversation-id" in line


def test_unreachable_api_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{closed_port}"
    result = run("chat", "--max-retries", "0", "Hi", base_url=base_url)
    line = assert_one_error_line(result, ExitCode.CONNECTION)
    assert base_url in line
    assert "--base-url" in line


def test_timeout_is_a_connection_error() -> None:
    code, line = describe_error(APITimeoutError("POST /v1/chat failed: timed out"), "http://x")
    assert code == ExitCode.CONNECTION
    assert "did not answer in time" in line


class _EchoingHandler(BaseHTTPRequestHandler):
    """A misbehaving API that echoes the Authorization header in its 401 body."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps(
            {
                "error": {
                    "type": "authentication_error",
                    "message": f"Bad credentials: {self.headers['Authorization']}",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", "req_0123abcd")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.mark.parametrize("key", [KEY, "sk_test_odd.shaped/key~12345"], ids=["usual", "odd"])
def test_key_echoed_by_a_server_never_reaches_the_output(key: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        result = run("chat", "Hi", base_url=base_url, key=key)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == ExitCode.AUTH
    assert "Bad credentials: Bearer sk_" in result.stderr
    assert key not in result.stderr + result.stdout
    for fragment in (key[8:14], key[-6:]):
        assert fragment not in result.stderr, f"part of the key leaked: {fragment!r}"


def test_help_lists_the_commands_and_the_exit_codes() -> None:
    result = run("--help", base_url=None, key=None)
    assert result.returncode == 0
    for text in ("chat", "mock-server", "exit codes:"):
        assert text in result.stdout
    for code in ExitCode:
        assert re.search(rf"^  {int(code)}\s", result.stdout, re.MULTILINE), code


@pytest.mark.parametrize("option", ["--api-key", "--api-key-f", "--key"])
def test_key_is_not_accepted_on_the_command_line(option: str) -> None:
    # Nor as an abbreviation of --api-key-file, which would echo it as a file name.
    result = run("chat", "Hi", option, KEY, base_url=None, key=None)
    assert result.returncode == ExitCode.USAGE
    assert "unrecognized arguments" in result.stderr
    assert KEY not in result.stdout + result.stderr


def test_the_command_does_not_import_the_mock_server_or_web_frameworks() -> None:
    code = (
        "import sys, convokit.__main__, convokit._cli\n"
        "heavy = ['convokit.testing', 'fastapi', 'starlette', 'uvicorn', 'pydantic']\n"
        "print([name for name in heavy if name in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_mock_server_command_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "convokit", "mock-server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.fullmatch(
            r"ConvoKit mock server on (http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)\n", banner
        )
        assert match, banner
        result = run("chat", "Hi", base_url=match.group(1))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith('You said: "Hi"')
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_interactive_session_on_a_terminal_shows_a_prompt(mock: MockServer) -> None:
    controller, terminal = pty.openpty()
    env = {name: value for name, value in os.environ.items() if not name.startswith("CONVOKIT_")}
    env |= {"CONVOKIT_SECRET_KEY": KEY, "CONVOKIT_BASE_URL": mock.base_url}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "convokit", "chat"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        os.write(controller, b"Hello\n/exit\n")
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert process.returncode == 0, stderr
    assert stdout.startswith(PROMPT)
    assert 'You said: "Hello" (turn 1 of this conversation)' in stdout
    assert "/new starts a new conversation" in stderr


# -- --timeout, --allow-insecure, --json errors, retried statuses ------------------


def test_timeout_bounds_an_attempt_against_a_server_that_never_answers() -> None:
    with socket.socket() as silent:
        # Connections complete in the kernel's backlog and are never answered.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = run("chat", "--timeout", "0.5", "--max-retries", "0", "Hi", base_url=base_url)
    line = assert_one_error_line(result, ExitCode.CONNECTION)
    assert "did not answer in time" in line


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_timeout_must_be_a_positive_number_of_seconds(mock: MockServer, value: str) -> None:
    result = run("chat", "--timeout", value, "Hi", base_url=mock.base_url)
    assert result.returncode == ExitCode.USAGE
    assert "--timeout" in result.stderr
    assert mock.requests == []


def test_plain_http_to_another_host_names_the_flag_that_allows_it() -> None:
    refused = run("chat", "Hi", base_url="http://api.example.com")
    line = assert_one_error_line(refused, ExitCode.USAGE)
    assert "--allow-insecure" in line
    assert "allow_insecure" not in line
    # With the flag the client is created; an empty session then sends nothing.
    allowed = run("chat", "--allow-insecure", base_url="http://api.example.com")
    assert allowed.returncode == ExitCode.OK, allowed.stderr
    assert allowed.stderr == ""


def _flags_of(*command: str) -> set[str]:
    help_text = run(*command, "--help", base_url=None, key=None).stdout
    return set(re.findall(r"--[a-z][a-z-]*", help_text))


@pytest.mark.parametrize(
    ("args", "base_url"),
    [
        (["chat", "Hi"], "http://api.example.com"),
        (["chat", "Hi"], "ftp://127.0.0.1/"),
        (["chat", "Hi"], "http://127.0.0.1:9/?region=eu"),
        (["chat", ""], "http://127.0.0.1:9"),
        (["chat", "--conversation-id", "", "Hi"], "http://127.0.0.1:9"),
        (["chat", "--timeout", "0", "Hi"], "http://127.0.0.1:9"),
        (["mock-server", "--api-key", "pk_test_123"], None),
    ],
    ids=["insecure", "scheme", "query", "message", "conversation-id", "timeout", "mock-key"],
)
def test_usage_errors_name_only_flags_the_command_has(
    args: list[str], base_url: str | None
) -> None:
    result = run(*args, base_url=base_url)
    assert result.returncode == ExitCode.USAGE, result.stderr
    named = set(re.findall(r"--[a-z][a-z-]*", result.stderr))
    assert named <= _flags_of(args[0]), result.stderr
    # SDK spellings a shell user cannot type.
    for sdk_only in ("=True", "create_client", "chat()", "MockServer(", "_url", "_id'"):
        assert sdk_only not in result.stderr, result.stderr


def _statuses_in(text: str) -> set[int]:
    statuses = {int(number) for number in re.findall(r"\b[1-5][0-9][0-9]\b", text)}
    for digit in re.findall(r"\b([1-5])xx\b", text):
        statuses |= set(range(int(digit) * 100, int(digit) * 100 + 100))
    return statuses


def test_max_retries_help_lists_exactly_the_statuses_the_policy_retries() -> None:
    help_text = " ".join(run("chat", "--help", base_url=None, key=None).stdout.split())
    # The option's entry, not the usage line's "[--max-retries N]".
    described = re.search(r"--max-retries N (.*?)\(default", help_text)
    assert described, help_text
    retried = {status for status in range(100, 600) if is_retryable_status(status)}
    assert _statuses_in(described.group(1)) == retried
    assert f"(default: {DEFAULT_MAX_RETRIES})" in help_text


def test_retried_statuses_text_follows_the_policy() -> None:
    text = retried_statuses_text()
    assert _statuses_in(text) == {s for s in range(100, 600) if is_retryable_status(s)}
    assert " and " in text


def assert_one_json_error(
    result: subprocess.CompletedProcess[str], code: ExitCode, error: str
) -> dict[str, object]:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    document = json.loads(lines[0])
    assert isinstance(document, dict)
    assert {"error", "status", "request_id", "message"} <= set(document)
    assert document["error"] == error
    assert isinstance(document["message"], str) and document["message"]
    assert KEY not in result.stderr
    return document


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, ExitCode.AUTH, "AuthenticationError"),
        (403, ExitCode.AUTH, "PermissionDeniedError"),
        (422, ExitCode.API, "UnprocessableEntityError"),
        (503, ExitCode.API, "InternalServerError"),
    ],
)
def test_json_reports_an_api_error_as_one_object_with_the_same_exit_code(
    mock: MockServer, status: int, code: ExitCode, error: str
) -> None:
    mock.fail_next(status)
    result = run("chat", "--json", "--max-retries", "0", "Hi", base_url=mock.base_url)
    document = assert_one_json_error(result, code, error)
    assert document["status"] == status
    assert document["request_id"] == mock_request_id(document)
    assert str(status) in str(document["message"])


def mock_request_id(document: dict[str, object]) -> str:
    match = re.search(r"req_[0-9a-f]+", str(document["message"]))
    assert match, document
    return match.group(0)


def test_json_reports_a_connection_error_without_status_or_request_id() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = run(
        "chat", "--json", "--max-retries", "0", "Hi", base_url=f"http://127.0.0.1:{closed_port}"
    )
    document = assert_one_json_error(result, ExitCode.CONNECTION, "APIConnectionError")
    assert document["status"] is None
    assert document["request_id"] is None


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["chat", "--json", "Hi"], None),
        (["chat", "--json", "--max-retries", "-1", "Hi"], KEY),
        (["chat", "--json", "--no-such-option", "Hi"], KEY),
        (["chat", "--json", "--timeout", "0", "Hi"], KEY),
    ],
    ids=["no-key", "bad-retries", "unknown-option", "bad-timeout"],
)
def test_json_reports_a_usage_error_as_one_object(
    mock: MockServer, args: list[str], key: str | None
) -> None:
    result = run(*args, base_url=mock.base_url, key=key)
    document = assert_one_json_error(result, ExitCode.USAGE, "UsageError")
    assert document["status"] is None
    assert mock.requests == []


def test_json_session_reports_each_failed_message_as_one_object(mock: MockServer) -> None:
    mock.fail_next(500)
    result = run("chat", "--json", "--max-retries", "0", base_url=mock.base_url, stdin="a\nb\n")
    assert result.returncode == ExitCode.API
    [failed] = [json.loads(line) for line in result.stderr.splitlines()]
    assert (failed["error"], failed["status"]) == ("InternalServerError", 500)
    [reply] = [json.loads(line) for line in result.stdout.splitlines()]
    assert reply["reply"].startswith('You said: "b"')


# -- 404 messages (issue 10, item 8) ---------------------------------------------


def test_a_wrong_base_url_path_is_not_blamed_on_a_conversation_id(mock: MockServer) -> None:
    result = run("chat", "Hi", base_url=f"{mock.base_url}/not-the-api")
    line = assert_one_error_line(result, ExitCode.API)
    assert "404" in line
    assert "conversation" not in line.lower().replace("new conversation", "")
    assert "--conversation-id" not in line
    assert "--base-url" in line


def test_an_unknown_conversation_says_how_to_start_over_once(mock: MockServer) -> None:
    result = run("chat", "--conversation-id", "conv_missing", "Hi", base_url=mock.base_url)
    line = assert_one_error_line(result, ExitCode.API)
    assert "404" in line
    assert REQUEST_ID.search(line)
    assert line.lower().count("new conversation") == 1, line
    assert line.count("--conversation-id") == 1, line


def test_a_session_on_an_unknown_conversation_points_to_new(mock: MockServer) -> None:
    result = run("chat", "--conversation-id", "conv_missing", base_url=mock.base_url, stdin="Hi\n")
    assert result.returncode == ExitCode.API
    [line] = result.stderr.splitlines()
    assert f"Type {NEW_COMMAND} to start a new conversation" in line
    assert line.lower().count("new conversation") == 1, line
    assert "--conversation-id" not in line


# -- mock-server: exports, --api-key, --fail-next ------------------------------------


class _MockCommand:
    """`convokit mock-server ... --port 0` running as a subprocess, and what it printed."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "convokit", "mock-server", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stdout, self._stderr = self.process.stdout, self.process.stderr
        assert stdout is not None and self._stderr is not None
        # Read on a thread, so that a banner shorter than expected fails the test in
        # seconds instead of blocking readline() until the suite's timeout.
        lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(
            target=lambda: [lines.put(line) for line in stdout], daemon=True
        )
        self._reader.start()
        try:
            self.banner = [lines.get(timeout=30) for _ in range(3)]
        except queue.Empty:
            self.process.kill()
            pytest.fail("convokit mock-server printed less than its banner and two exports")
        self.exports = dict(
            re.findall(r"^export (CONVOKIT_[A-Z_]+)=(\S+)$", "".join(self.banner), re.MULTILINE)
        )

    def stop(self) -> str:
        """Ctrl-C; returns what it logged on stderr."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=30) == 0
        return self._stderr.read()

    def close(self) -> None:
        """Kills the process if it still runs and closes its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def mock_command(request: pytest.FixtureRequest) -> Iterator[_MockCommand]:
    command = _MockCommand(*request.param)
    try:
        yield command
    finally:
        command.close()


@pytest.mark.parametrize("mock_command", [()], indirect=True)
def test_mock_server_prints_the_exports_that_point_the_cli_at_it(
    mock_command: _MockCommand,
) -> None:
    assert mock_command.banner[0].startswith("ConvoKit mock server on http://127.0.0.1:")
    assert set(mock_command.exports) == {"CONVOKIT_BASE_URL", "CONVOKIT_SECRET_KEY"}
    assert mock_command.exports["CONVOKIT_BASE_URL"] in mock_command.banner[0]
    result = run(
        "chat",
        "Hi",
        base_url=mock_command.exports["CONVOKIT_BASE_URL"],
        key=mock_command.exports["CONVOKIT_SECRET_KEY"],
    )
    assert result.returncode == 0, result.stderr
    assert mock_command.stop().count("POST /v1/chat 200") == 1


@pytest.mark.parametrize("mock_command", [("--api-key", "sk_test_only_this")], indirect=True)
def test_mock_server_api_key_is_the_only_key_it_accepts(mock_command: _MockCommand) -> None:
    assert mock_command.exports["CONVOKIT_SECRET_KEY"] == "sk_test_only_this"
    base_url = mock_command.exports["CONVOKIT_BASE_URL"]
    refused = run("chat", "Hi", base_url=base_url, key="sk_test_another_key")
    assert assert_one_error_line(refused, ExitCode.AUTH).startswith("convokit: 401")
    accepted = run("chat", "Hi", base_url=base_url, key="sk_test_only_this")
    assert accepted.returncode == 0, accepted.stderr
    assert "sk_test_only_this" not in mock_command.stop()


@pytest.mark.parametrize(
    "mock_command", [("--fail-next", "503", "--fail-times", "2")], indirect=True
)
def test_mock_server_fails_the_next_requests_with_the_given_status(
    mock_command: _MockCommand,
) -> None:
    base_url = mock_command.exports["CONVOKIT_BASE_URL"]
    outcomes = [
        run("chat", "--json", "--max-retries", "0", "Hi", base_url=base_url) for _ in range(3)
    ]
    assert [outcome.returncode for outcome in outcomes] == [ExitCode.API, ExitCode.API, 0]
    assert [json.loads(outcome.stderr)["status"] for outcome in outcomes[:2]] == [503, 503]
    log = mock_command.stop()
    assert [line.split()[2] for line in log.splitlines() if line.startswith("POST")] == [
        "503",
        "503",
        "200",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--api-key", "pk_test_123"],
        ["--fail-next", "200"],
        ["--fail-next", "503", "--fail-times", "0"],
    ],
    ids=["public-key", "not-an-error", "zero-times"],
)
def test_mock_server_refuses_bad_options(args: list[str]) -> None:
    result = run("mock-server", "--port", "0", *args, base_url=None)
    assert result.returncode == ExitCode.USAGE
    assert args[0] in result.stderr
    assert "Traceback" not in result.stderr
