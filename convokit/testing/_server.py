"""MockServer: the mock API on a background thread, and ``convokit mock-server``."""

from __future__ import annotations

import shlex
import socket
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

from .._config import API_KEY_ENV, BASE_URL_ENV
from ._api import MockApi, RecordedRequest, Responder
from ._http import MockHTTPServer

TEST_KEY: Final = "sk_test_123"
"""A secret key for tests: ``MockServer()`` accepts any ``sk_...`` key, and this is the one
``convokit mock-server`` and the ``convokit_mock`` pytest fixture hand out."""


class MockServer:
    """A local ConvoKit API on a background thread, for demos and tests.

    ``MockServer(api_key=None, responder=None, host="127.0.0.1", port=0, *, log=None)``:
    ``api_key=None`` accepts any secret key (``sk_...``), a given key only that key;
    ``responder(messages) -> str`` replaces the default reply; ``port=0`` picks a
    free port; ``log`` receives one line per request (method, path, status,
    request id); nothing is logged by default.

    Use it as a context manager (or ``start()`` / ``close()``); ``base_url`` is the
    address to give the client. State (``conversations``, ``requests``) is shared by
    all connections and guarded by one lock.

    The default reply is deterministic and shows what was heard, e.g.
    ``'You said: "Hi" (turn 2 of this conversation)'``, where the turn counts the
    user messages of the stored thread, this one included.

    ``usage`` is a deterministic approximation of a tokenizer:
    ``tokens(text) = max(1, ceil(len(text) / 4))``; ``prompt_tokens`` is the sum of
    ``tokens(content)`` over the context (the request's ``chatHistory``, then the
    stored thread, then the new message: the list a responder receives);
    ``completion_tokens = tokens(reply)``; ``total_tokens`` is their sum.

    Requests to one conversation run concurrently: each sees the thread as it
    was when it arrived, and its two turns are appended when its reply is ready.

    Every other operation of the spec answers its documented 2xx example once the
    request passes the same checks (path, query and header parameters and the body,
    each against its schema).
    """

    def __init__(
        self,
        api_key: str | None = None,
        responder: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if api_key is not None and not (api_key.startswith("sk_") and len(api_key) > 3):
            raise ValueError(
                "MockServer(api_key=...) must be a secret key such as 'sk_test_123' "
                "(the real API refuses every other kind of key)"
            )
        self._api = MockApi(api_key, responder, log=log)
        self._host = host
        self._port = port
        self._httpd: MockHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and serve on a daemon thread; returns the server itself."""
        if self._closed:
            raise RuntimeError("this MockServer was closed; create a new one")
        if self._httpd is not None:
            raise RuntimeError("this MockServer is already running")
        httpd = MockHTTPServer((self._host, self._port), self._api)
        self._httpd = httpd
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread = threading.Thread(
            target=httpd.serve_until,
            args=(self._wake_reader,),
            name=f"convokit-mock-server:{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, close open connections and join the server thread (idempotent)."""
        self._closed = True
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._httpd = None
        if self._wake_writer is not None:
            self._wake_writer.send(b"x")
        thread.join()
        httpd.server_close()
        for wake in (self._wake_reader, self._wake_writer):
            if wake is not None:
                wake.close()
        httpd.close_connections()

    def __enter__(self) -> Self:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "not running"
        return f"<MockServer {where}>"

    # -- what tests look at --------------------------------------------------

    @property
    def base_url(self) -> str:
        """``"http://127.0.0.1:<port>"``: the URL to pass to the client as ``base_url``."""
        if self._httpd is None:
            raise RuntimeError("MockServer is not running: call start() or use `with MockServer()`")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def conversations(self) -> dict[str, list[dict[str, str]]]:
        """A snapshot: conversation id -> its ``{"role", "content"}`` messages in order."""
        return self._api.conversations()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, failed and dropped ones included, in order."""
        return self._api.requests()

    # -- fault injection -----------------------------------------------------

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` and its documented error body.

        The body is the spec's example for that status (of the operation the request
        names, else of any operation); a status the spec documents nowhere gets a
        generic error envelope. The request is recorded but not processed (no turn is
        stored). ``retry_after`` (seconds) adds a ``Retry-After`` header. Calls queue
        up in order; a queued failure is used before a queued ``drop_next``. A 409 is
        the conflict a retry may pass (the key's first request in progress), not the
        one no retry can fix (a key reused with another body).
        """
        self._api.faults.fail_next(status, times, retry_after)

    def drop_next(self, times: int = 1) -> None:
        """Process the next ``times`` requests fully, then close the connection unanswered.

        The turn is stored and an idempotent answer saved, as if the response had
        been lost on the network: a retry with the same ``Idempotency-Key`` gets it.
        """
        self._api.faults.drop_next(times)


def run_mock_server(
    host: str,
    port: int,
    *,
    api_key: str | None = None,
    fail_status: int | None = None,
    fail_times: int = 1,
) -> int:
    """Run a MockServer in the foreground until Ctrl-C; the body of ``convokit mock-server``.

    Prints ``ConvoKit mock server on http://HOST:PORT (Ctrl-C to stop)`` to stdout
    (the real port when ``port`` is 0), then the shell lines that point the CLI and
    the SDK at it: ``export CONVOKIT_BASE_URL=...`` and ``export CONVOKIT_SECRET_KEY=...``
    (``api_key``, or ``TEST_KEY`` when any secret key is accepted); then one line per
    request to stderr. ``api_key`` and ``fail_status`` / ``fail_times`` are
    MockServer's ``api_key`` and ``fail_next(status, times)``. Returns 0 after Ctrl-C,
    1 if the address cannot be bound; raises ValueError for a bad key or status.
    """

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    server = MockServer(api_key=api_key, host=host, port=port, log=log)
    if fail_status is not None:
        server.fail_next(fail_status, times=fail_times)
    try:
        server.start()
    except OSError as exc:
        print(
            f"convokit mock-server: cannot listen on {host}:{port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    try:
        print(f"ConvoKit mock server on {server.base_url} (Ctrl-C to stop)")
        print(f"export {BASE_URL_ENV}={shlex.quote(server.base_url)}")
        print(f"export {API_KEY_ENV}={shlex.quote(api_key or TEST_KEY)}", flush=True)
        if fail_status is not None:
            log(f"(the next {fail_times} request(s) will be answered with {fail_status})")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
