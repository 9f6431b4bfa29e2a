"""The `convokit` command: try the API and a key from a shell, or run the local mock server.

argparse and the SDK only, so the command starts fast and adds no dependency.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from convokit_generated.api.chat import create_chat

from ._client import Client, create_client
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_TIMEOUT
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConvoKitError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from ._models import ChatResponse
from ._options import chat_operation
from ._retry import DEFAULT_MAX_RETRIES, retried_statuses_text
from ._schema import type_names
from ._secrets import redact
from ._version import __version__

if TYPE_CHECKING:
    from convokit_generated.api import BodyField

__all__ = ["ExitCode", "main"]

PROMPT = "> "
NEW_COMMAND = "/new"
EXIT_COMMAND = "/exit"
_HELP_WIDTH = 79
# `chat` flags passed to create_client() under their own name: --base-url is base_url.
_CLIENT_OPTION_FLAGS: Final = ("base_url", "allow_insecure", "timeout", "max_retries")
# What --json reports as `error` for a failure found before anything was sent.
USAGE_ERROR: Final = "UsageError"
# The body field of a 404 that means "no such conversation" (openapi.yaml's NotFound).
_CONVERSATION_ID_FIELD: Final = create_chat.BODY_FIELDS["conversation_id"]


class ExitCode(IntEnum):
    """The command's exit statuses: one per class of failure, so scripts can tell them apart."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    AUTH = 3
    API = 4
    CONNECTION = 5
    INTERRUPTED = 130


_EXIT_CODE_HELP = {
    ExitCode.OK: "success",
    ExitCode.FAILURE: "mock-server could not listen on the address",
    ExitCode.USAGE: "usage or configuration error: bad arguments, no key or a malformed key, "
    "bad base URL (nothing was sent)",
    ExitCode.AUTH: "the API refused the key (401) or what it may use (403)",
    ExitCode.API: "any other API error (4xx, 5xx after retries, a reply that breaks the contract)",
    ExitCode.CONNECTION: "could not reach the API, or it did not answer in time",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


class _Failure(Exception):
    """Ends the command (or, in a session, one message) with an error report and an exit code.

    `cause` is the SDK's error when the API was called: --json reports its class, and
    the API's status and request id when it answered (else USAGE_ERROR: nothing was sent).
    """

    def __init__(self, code: ExitCode, line: str, cause: ConvoKitError | None = None) -> None:
        super().__init__(line)
        self.code = code
        self.cause = cause

    def report(self, *, as_json: bool) -> None:
        """Prints the failure on stderr: one line of text, or one JSON object with --json."""
        document = {
            "error": USAGE_ERROR if self.cause is None else type(self.cause).__name__,
            "status": getattr(self.cause, "status_code", None),
            "request_id": getattr(self.cause, "request_id", None),
            "message": str(self),
        }
        text = json.dumps(document, ensure_ascii=False) if as_json else f"convokit: {self}"
        print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `convokit` command with `argv` (default: sys.argv[1:]); returns its exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    # Known before parsing, so that bad arguments are reported as JSON too.
    as_json = "--json" in arguments[: arguments.index("--") if "--" in arguments else None]
    parser = _parser(json_errors=as_json)
    try:
        args = parser.parse_args(arguments)
        if args.command is None:
            parser.print_help(sys.stderr)
            return ExitCode.USAGE
        code: int = args.run(args)
    except SystemExit as exit_:
        # argparse exits by itself after --help (0) and on bad usage (2).
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    except _Failure as failure:
        failure.report(as_json=as_json)
        return failure.code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return code


class _ArgumentParser(argparse.ArgumentParser):
    def __init__(self, *, json_errors: bool = False, **kwargs: Any) -> None:
        # An abbreviation such as --api-key would mean --api-key-file and print the
        # key it was given as a file name in the error.
        super().__init__(allow_abbrev=False, **kwargs)
        self.json_errors = json_errors

    def error(self, message: str) -> NoReturn:
        # argparse echoes unrecognized arguments, which may be a key typed by mistake.
        if self.json_errors:
            raise _Failure(ExitCode.USAGE, redact(message))
        super().error(redact(message))


def _parser(*, json_errors: bool = False) -> argparse.ArgumentParser:
    exit_codes = "\n".join(
        textwrap.fill(
            text, _HELP_WIDTH, initial_indent=f"  {int(code):<4}", subsequent_indent=" " * 6
        )
        for code, text in _EXIT_CODE_HELP.items()
    )
    parser = _ArgumentParser(
        prog="convokit",
        description="Talk to the ConvoKit chat API from a shell, or run a local mock of it.",
        epilog=f"exit codes:\n{exit_codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        json_errors=json_errors,
    )
    parser.add_argument("--version", action="version", version=f"convokit {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    chat = commands.add_parser(
        "chat",
        help="send a message and print the reply (no message: an interactive session)",
        description=textwrap.fill(
            "Send MESSAGE and print the reply (the conversation id goes to stderr). "
            "Without MESSAGE, read messages line by line from stdin in one thread: "
            f"{NEW_COMMAND} starts a new thread, {EXIT_COMMAND} or end of input leaves. "
            f"The key comes from {API_KEY_ENV} or --api-key-file, never from the command "
            "line, where other users could see it in the process list.",
            width=_HELP_WIDTH,
        ),
        epilog=f"exit codes:\n{exit_codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        json_errors=json_errors,
    )
    chat.add_argument(
        "message", nargs="?", type=_text, help="the message (omit for an interactive session)"
    )
    chat.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per reply (its fields, as the API sent them, and request_id), "
        "and report a failure as one JSON object on stderr (error, status, request_id, message)",
    )
    chat.add_argument(
        "--api-key-file",
        metavar="PATH",
        type=Path,
        help=f"read the secret key from this file instead of {API_KEY_ENV}",
    )
    chat.add_argument(
        "--base-url", metavar="URL", help=f"the API's address (default: {BASE_URL_ENV} or ConvoKit)"
    )
    chat.add_argument(
        "--allow-insecure",
        action="store_true",
        help="allow a plain http:// --base-url on another machine (the key travels unencrypted)",
    )
    chat.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        help="give up on an attempt after this long "
        f"(default: {DEFAULT_TIMEOUT.read:g}, connecting at most {DEFAULT_TIMEOUT.connect:g})",
    )
    chat.add_argument(
        "--max-retries",
        metavar="N",
        type=_whole_number(),
        help=f"retries after a connection error, a timeout, or HTTP {retried_statuses_text()} "
        f"(default: {DEFAULT_MAX_RETRIES})",
    )
    for field, read in _field_flags():
        description = field.schema.get("description", "").strip().replace("`", "")
        # Last, and under a dest of their own: a field named like a flag above (or like
        # `run`) keeps its SDK option only, and cannot take that flag's place.
        with contextlib.suppress(argparse.ArgumentError):
            chat.add_argument(
                _flag(field.python_name),
                dest=_FIELD_DEST + field.python_name,
                metavar=field.python_name.rsplit("_", 1)[-1].upper(),
                type=read,
                help=description.replace("%", "%%"),  # argparse formats help with %
            )
    chat.set_defaults(run=_run_chat)

    mock = commands.add_parser(
        "mock-server",
        help="run a local mock of the ConvoKit API (for demos and tests)",
        description="Serve a local ConvoKit API that follows openapi.yaml until Ctrl-C. It prints "
        f"the {BASE_URL_ENV} and {API_KEY_ENV} to export for `convokit chat` and the SDK.",
        json_errors=json_errors,
    )
    mock.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    mock.add_argument(
        "--port",
        type=_whole_number(0, 65535, "ports go up to 65535"),
        default=8787,
        help="port to listen on, 0 for any (default: %(default)s)",
    )
    mock.add_argument(
        "--api-key",
        metavar="KEY",
        help="accept only this secret key, e.g. sk_test_ci (default: any sk_... key)",
    )
    mock.add_argument(
        "--fail-next",
        metavar="STATUS",
        type=_whole_number(400, 599, "must be an HTTP error status (400-599)"),
        help="answer the next requests with this HTTP error status (400-599) and its "
        "documented error body",
    )
    mock.add_argument(
        "--fail-times",
        metavar="N",
        type=_whole_number(1, rule="must be 1 or more"),
        default=1,
        help="how many requests --fail-next answers (default: %(default)s)",
    )
    mock.set_defaults(run=_run_mock_server)
    return parser


def _field_flags() -> list[tuple[BodyField, Callable[[str], object]]]:
    """The chat body fields `chat` has a flag for, each with how its flag reads a value:
    the optional fields of one _FLAG_TYPES type, or of one and null (`type: [string,
    "null"]`, OpenAPI 3.1's nullable: the flag sets a value, leaving it out sends none)."""
    flags = []
    for field in chat_operation().body_fields:
        not_null = [name for name in type_names(field.schema) if name != "null"]
        read = _FLAG_TYPES.get(not_null[0]) if len(not_null) == 1 else None
        if not field.required and read is not None:
            flags.append((field, read))
    return flags


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _whole_number(low: int = 0, high: float = math.inf, rule: str = "") -> Callable[[str], int]:
    # An argparse type: a whole number, never below 0, from `low` to `high` (`rule` says so).
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{rule}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


# How `chat` reads a body field from its flag, by the field's JSON type: each optional
# body field of one of these types has a flag (one added to openapi.yaml too), named
# after it, with the spec's description as its help; the SDK checks the value.
_FLAG_TYPES: Final[Mapping[str, Callable[[str], object]]] = {
    "string": _text,
    "integer": int,
    "number": float,
}


def _run_mock_server(args: argparse.Namespace) -> int:
    # Imported here so that `import convokit` and `convokit chat` never load the mock.
    from .testing import TEST_KEY, run_mock_server

    try:
        return run_mock_server(
            args.host,
            args.port,
            api_key=args.api_key,
            fail_status=args.fail_next,
            fail_times=args.fail_times,
        )
    except ValueError:
        # fail_next's arguments were checked by argparse: the key is what MockServer refused.
        raise _Failure(
            ExitCode.USAGE,
            f"--api-key must be a secret key such as {TEST_KEY} (the API accepts only sk_... keys)",
        ) from None


def _run_chat(args: argparse.Namespace) -> int:
    key = _read_key(args.api_key_file)
    options = {
        name: getattr(args, name)
        for name in _CLIENT_OPTION_FLAGS
        if getattr(args, name) is not None
    }
    try:
        client = create_client(key, **options)
    except (TypeError, ValueError) as error:
        raise _Failure(ExitCode.USAGE, _one_line(_in_cli_terms(str(error)), key)) from None
    with client:
        if args.message is None:
            return _interactive(client, args, key)
        fields = _fields(args)
        try:
            response = client.chat(message=args.message, **fields)
        except (ConvoKitError, TypeError, ValueError) as error:
            start_over = "Leave out --conversation-id" if "conversation_id" in fields else None
            raise _failure(error, client.base_url, key, start_over=start_over) from None
        _print_reply(response, as_json=args.json, show_id=True)
    return ExitCode.OK


_FIELD_DEST = "field:"


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    """The body fields given as flags, by Python name."""
    given = vars(args).items()
    return {
        name.removeprefix(_FIELD_DEST): value
        for name, value in given
        if name.startswith(_FIELD_DEST) and value is not None
    }


def _read_key(path: Path | None) -> str:
    if path is None:
        key = os.environ.get(API_KEY_ENV, "").strip()
        if not key:
            raise _Failure(
                ExitCode.USAGE,
                f"no API key: set {API_KEY_ENV} to your secret key (sk_live_... or sk_test_...) "
                "or pass --api-key-file PATH",
            )
        return key
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not text"
        raise _Failure(ExitCode.USAGE, f"cannot read --api-key-file {path}: {reason}") from None
    if not key:
        raise _Failure(ExitCode.USAGE, f"--api-key-file {path} is empty: put your secret key in it")
    return key


def _interactive(client: Client, args: argparse.Namespace, key: str) -> int:
    # The conversation carries the thread's id; every other field rides on each message.
    fields = _fields(args)
    conversation = client.conversation(conversation_id=fields.pop("conversation_id", None))
    greeting = (
        f"Chatting with {client.base_url}. {NEW_COMMAND} starts a new conversation, "
        f"{EXIT_COMMAND} or Ctrl-D leaves."
    )
    status = ExitCode.OK
    for line in _input_lines(greeting):
        text = line.strip()
        if not text:
            continue
        if text == EXIT_COMMAND:
            break
        if text == NEW_COMMAND:
            conversation = client.conversation()
            print("(new conversation)", file=sys.stderr, flush=True)
            continue
        starts_thread = conversation.id is None
        try:
            response = conversation.send(text, **fields)
        except (ConvoKitError, TypeError, ValueError) as error:
            start_over = None if starts_thread else f"Type {NEW_COMMAND}"
            failure = _failure(error, client.base_url, key, start_over=start_over)
            failure.report(as_json=args.json)
            if failure.code == ExitCode.AUTH:
                return failure.code  # every further message would be refused the same way
            status = failure.code
            continue
        _print_reply(response, as_json=args.json, show_id=starts_thread)
    return status


def _input_lines(greeting: str) -> Iterator[str]:
    # A service manager may start the command with no stdin at all: an empty session.
    if sys.stdin is None or not sys.stdin.isatty():
        yield from sys.stdin or ()
        return
    print(greeting, file=sys.stderr)
    # Line editing and history for the prompt, where the platform has readline.
    with contextlib.suppress(ImportError):
        importlib.import_module("readline")
    while True:
        try:
            yield input(PROMPT)
        except EOFError:
            print(file=sys.stderr)
            return


def _print_reply(response: ChatResponse, *, as_json: bool, show_id: bool) -> None:
    if as_json:
        # Every field of the reply, a field added to openapi.yaml (or unknown to it) too.
        document = {**response.to_dict(), "request_id": response.request_id}
        print(json.dumps(document, ensure_ascii=False), flush=True)
        return
    print(response.reply, flush=True)
    if show_id:
        print(f"conversation_id: {response.conversation_id}", file=sys.stderr, flush=True)


def _failure(error: Exception, base_url: str, key: str, *, start_over: str | None) -> _Failure:
    code, line = describe_error(error, base_url, start_over=start_over)
    if isinstance(error, ConvoKitError):
        return _Failure(code, _one_line(line, key), error)
    return _Failure(code, _one_line(_in_cli_terms(line), key))


def describe_error(
    error: Exception, base_url: str, *, start_over: str | None = None
) -> tuple[ExitCode, str]:
    """The exit code for a failed chat, and one line saying what happened and what to do.

    `start_over` says how to start a new conversation ("Leave out --conversation-id")
    when the message continued one; None when it started a new one, so a 404 can only
    mean that `base_url` is not the API's address.
    """
    if isinstance(error, APITimeoutError):
        return ExitCode.CONNECTION, f"{error}. The API did not answer in time: try again later."
    if isinstance(error, APIConnectionError):
        return ExitCode.CONNECTION, (
            f"cannot reach {base_url}: {error}. Check the network, or --base-url / {BASE_URL_ENV}."
        )
    if isinstance(error, AuthenticationError):
        return ExitCode.AUTH, (
            f"{error}. Check the key in {API_KEY_ENV} or --api-key-file: it must be a "
            "current secret key (sk_live_... or sk_test_...)."
        )
    if isinstance(error, PermissionDeniedError):
        return ExitCode.AUTH, f"{error}. This key may not use that widget or instance."
    if isinstance(error, NotFoundError):
        if start_over is not None and error.param == _CONVERSATION_ID_FIELD:
            # The API's own message may say how to start over in its terms; say it once, in ours.
            kind = f" {error.error_type}" if error.error_type else ""
            request = f" (request id {error.request_id})" if error.request_id else ""
            return ExitCode.API, (
                f"{error.status_code}{kind}: the API does not know this conversation{request}. "
                f"{start_over} to start a new conversation."
            )
        return ExitCode.API, (
            f"{error}. Is --base-url / {BASE_URL_ENV} the address of a ConvoKit API? "
            f"It is {base_url}."
        )
    if isinstance(error, RateLimitError):
        return ExitCode.API, f"{error}. Still rate limited after retrying: wait, then try again."
    if isinstance(error, APIStatusError) and error.status_code >= 500:
        return ExitCode.API, f"{error}. A failure on ConvoKit's side: try again later."
    if isinstance(error, APIResponseValidationError):
        return ExitCode.API, f"{error}. Is --base-url / {BASE_URL_ENV} a ConvoKit API?"
    if isinstance(error, APIStatusError):
        return ExitCode.API, f"{error}. Check the message and options."
    if isinstance(error, ConvoKitError):
        return ExitCode.API, str(error)
    return ExitCode.USAGE, str(error)


def _in_cli_terms(text: str) -> str:
    # The SDK's messages name its options ('base_url', allow_insecure=True) and fields
    # ('widget_id'); a shell user knows the flags.
    for name in (*_CLIENT_OPTION_FLAGS, *(field.python_name for field, _ in _field_flags())):
        text = re.sub(rf"'{name}'|\b{name}=\w+", _flag(name), text)
    return text


def _one_line(text: str, key: str) -> str:
    # The SDK already redacts key-shaped text; the exact key is masked too in case it
    # has an unusual shape the pattern does not match.
    return " ".join(redact(text.replace(key, "sk_…")).split())
