"""The `convokit` command: try the API and a key from a shell, or run the local mock server.

argparse and the SDK only, so the command starts fast and adds no dependency.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from enum import IntEnum
from pathlib import Path
from typing import NoReturn

from ._client import Client, create_client
from ._config import API_KEY_ENV, BASE_URL_ENV
from ._conversation import Conversation
from ._exceptions import (
    APIConnectionError,
    APIError,
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
from ._secrets import redact
from ._version import __version__

__all__ = ["ExitCode", "main"]

PROMPT = "> "
NEW_COMMAND = "/new"
EXIT_COMMAND = "/exit"
_HELP_WIDTH = 79


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
    """Ends the command with one line on stderr and an exit code."""

    def __init__(self, code: ExitCode, line: str) -> None:
        super().__init__(line)
        self.code = code
        self.line = line


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `convokit` command with `argv` (default: sys.argv[1:]); returns its exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits by itself after --help (0) and on bad usage (2).
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        code: int = args.run(args)
    except _Failure as failure:
        print(f"convokit: {failure.line}", file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return code


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse echoes unrecognized arguments, which may be a key typed by mistake.
        super().error(redact(message))


def _parser() -> argparse.ArgumentParser:
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
        # An abbreviation such as --api-key would mean --api-key-file and print the
        # key it was given as a file name in the error.
        allow_abbrev=False,
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
        allow_abbrev=False,
    )
    chat.add_argument("message", nargs="?", help="the message (omit for an interactive session)")
    chat.add_argument("--conversation-id", metavar="ID", help="continue this conversation")
    chat.add_argument("--widget-id", metavar="ID", help="group the conversation (bot, channel)")
    chat.add_argument("--instance-id", metavar="ID", help="the AI instance to talk to")
    chat.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per reply: reply, conversation_id, usage, request_id",
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
        "--max-retries",
        metavar="N",
        type=_non_negative_int,
        help="retries after a connection error, timeout, 429 or 5xx (default: 2)",
    )
    chat.set_defaults(run=_run_chat)

    mock = commands.add_parser(
        "mock-server",
        help="run a local mock of the ConvoKit API (for demos and tests)",
        description="Serve a local ConvoKit API that follows openapi.yaml until Ctrl-C.",
        allow_abbrev=False,
    )
    mock.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    mock.add_argument(
        "--port",
        type=_port,
        default=8787,
        help="port to listen on, 0 for any (default: %(default)s)",
    )
    mock.set_defaults(run=_run_mock_server)
    return parser


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"ports go up to 65535, got {value}")
    return value


def _run_mock_server(args: argparse.Namespace) -> int:
    # Imported here so that `import convokit` and `convokit chat` never load the mock.
    from .testing import run_mock_server

    return run_mock_server(args.host, args.port)


def _run_chat(args: argparse.Namespace) -> int:
    key = _read_key(args.api_key_file)
    options = {} if args.max_retries is None else {"max_retries": args.max_retries}
    try:
        client = create_client(key, base_url=args.base_url, **options)
    except (TypeError, ValueError) as error:
        raise _Failure(ExitCode.USAGE, _one_line(str(error), key)) from None
    with client:
        if args.message is None:
            return _interactive(client, args, key)
        try:
            response = client.chat(
                message=args.message,
                conversation_id=args.conversation_id,
                widget_id=args.widget_id,
                instance_id=args.instance_id,
            )
        except (ConvoKitError, TypeError, ValueError) as error:
            code, line = describe_error(error, client.base_url)
            raise _Failure(code, _one_line(line, key)) from None
        _print_reply(response, as_json=args.json, show_id=True)
    return ExitCode.OK


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
    def new_conversation(conversation_id: str | None = None) -> Conversation:
        return client.conversation(
            args.widget_id, args.instance_id, conversation_id=conversation_id
        )

    try:
        conversation = new_conversation(args.conversation_id)
    except (TypeError, ValueError) as error:
        raise _Failure(ExitCode.USAGE, _one_line(str(error), key)) from None
    # A service manager may start the command with no stdin at all: an empty session.
    terminal = sys.stdin is not None and sys.stdin.isatty()
    if terminal:
        print(
            f"Chatting with {client.base_url}. {NEW_COMMAND} starts a new conversation, "
            f"{EXIT_COMMAND} or Ctrl-D leaves.",
            file=sys.stderr,
        )
    status = ExitCode.OK
    for line in _input_lines(terminal):
        text = line.strip()
        if not text:
            continue
        if text == EXIT_COMMAND:
            break
        if text == NEW_COMMAND:
            conversation = new_conversation()
            print("(new conversation)", file=sys.stderr, flush=True)
            continue
        starts_thread = conversation.id is None
        try:
            response = conversation.send(text)
        except (ConvoKitError, TypeError, ValueError) as error:
            code, description = describe_error(error, client.base_url)
            print(f"convokit: {_one_line(description, key)}", file=sys.stderr, flush=True)
            if code == ExitCode.AUTH:
                return code  # every further message would be refused the same way
            status = code
            continue
        _print_reply(response, as_json=args.json, show_id=starts_thread)
    return status


def _input_lines(terminal: bool) -> Iterator[str]:
    if not terminal:
        yield from sys.stdin or ()
        return
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
        document = {
            "reply": response.reply,
            "conversation_id": response.conversation_id,
            "usage": response.usage.to_dict(),
            "request_id": response.request_id,
        }
        print(json.dumps(document, ensure_ascii=False), flush=True)
        return
    print(response.reply, flush=True)
    if show_id:
        print(f"conversation_id: {response.conversation_id}", file=sys.stderr, flush=True)


def describe_error(error: Exception, base_url: str) -> tuple[ExitCode, str]:
    """The exit code for a failed chat, and one line saying what happened and what to do."""
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
        return ExitCode.API, f"{error}. Leave out --conversation-id to start a new conversation."
    if isinstance(error, RateLimitError):
        return ExitCode.API, f"{error}. Still rate limited after retrying: wait, then try again."
    if isinstance(error, APIStatusError) and error.status_code >= 500:
        return ExitCode.API, f"{error}. A failure on ConvoKit's side: try again later."
    if isinstance(error, APIResponseValidationError):
        return ExitCode.API, f"{error}. Is --base-url / {BASE_URL_ENV} a ConvoKit API?"
    if isinstance(error, APIStatusError):
        return ExitCode.API, f"{error}. Check the message and options."
    if isinstance(error, APIError | ConvoKitError):
        return ExitCode.API, str(error)
    return ExitCode.USAGE, str(error)


def _one_line(text: str, key: str) -> str:
    # The SDK already redacts key-shaped text; the exact key is masked too in case it
    # has an unusual shape the pattern does not match.
    return " ".join(redact(text.replace(key, "sk_…")).split())
