"""A raw-socket HTTP/1.1 server on 127.0.0.1 that misbehaves on cue.

Each request it reads takes the next behaviour of its script (then `ok()` once the
script is used up): a valid reply, an HTML 502 from a "proxy", a reset connection,
a stall, a truncated body, a redirect... It records every request it reads
(request line, lower-cased headers, body, client port) so tests can check what the
client sent, e.g. that every retry of one call carried the same Idempotency-Key.

Bounded in time: stalls wait at most MAX_STALL_SECONDS, sockets time out, and the
server stops accepting by itself after `lifetime` seconds; `close()` (or leaving
the `with` block) stops it at once.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, BinaryIO, Self

MAX_STALL_SECONDS = 10.0
_SOCKET_TIMEOUT_SECONDS = 10.0
_MAX_HEADER_LINES = 100


@dataclass(frozen=True)
class Received:
    """One request as the server read it."""

    index: int
    """1-based position among all requests this server read; the reply's X-Request-Id
    is `request_id_for(index)`."""
    request_line: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    header_lines: tuple[tuple[str, str], ...] = ()
    """Every header line as sent, in order, names in their own case: `headers` keeps
    only the last of two lines that differ in case alone."""

    @property
    def idempotency_key(self) -> str | None:
        """The Idempotency-Key header, or None."""
        return self.headers.get("idempotency-key")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def request_id_for(index: int) -> str:
    """The X-Request-Id the server sends with its answer to request number `index`."""
    return f"req_fault_{index}"


@dataclass
class Exchange:
    """What a behaviour works with: the connection and the request it answers."""

    connection: socket.socket
    request: Received
    stop: threading.Event

    @property
    def request_id(self) -> str:
        """The X-Request-Id of this exchange's answer."""
        return request_id_for(self.request.index)

    def send(self, data: bytes) -> None:
        """Writes raw bytes to the client."""
        self.connection.sendall(data)


Behaviour = Callable[[Exchange], bool]
"""Answers one request; returns True to keep the connection open for the next one."""


def response_head(status: int, headers: Iterable[tuple[str, str]], reason: str = "") -> bytes:
    """A response's status line and `headers`, up to and including the blank line."""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw(
    status: int,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    request_id: bool = True,
    keep_alive: bool = True,
    reason: str = "",
) -> Behaviour:
    """Any response: `status`, `headers`, `body`, plus X-Request-Id (unless
    request_id=False) and the body's Content-Length."""
    extra = list(headers)

    def behave(exchange: Exchange) -> bool:
        head: list[tuple[str, str]] = []
        if request_id:
            head.append(("X-Request-Id", exchange.request_id))
        head += extra
        head.append(("Content-Length", str(len(body))))
        if not keep_alive:
            head.append(("Connection", "close"))
        exchange.send(response_head(status, head, reason) + body)
        return keep_alive

    return behave


def json_reply(
    status: int, value: Any, headers: Iterable[tuple[str, str]] = (), **options: Any
) -> Behaviour:
    """A JSON response."""
    body = json.dumps(value).encode()
    return raw(status, body, [("Content-Type", "application/json"), *headers], **options)


def valid_body(
    reply: str = "Hello from the fault server", conversation_id: str = "conv_fault"
) -> Any:
    """A ChatResponse body that satisfies openapi.yaml."""
    return {
        "reply": reply,
        "conversation_id": conversation_id,
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


def ok(
    reply: str = "Hello from the fault server", conversation_id: str = "conv_fault"
) -> Behaviour:
    """A valid 200 chat reply with X-Request-Id."""
    return json_reply(200, valid_body(reply, conversation_id))


def error(
    status: int,
    message: str = "Injected failure.",
    headers: Iterable[tuple[str, str]] = (),
    error_type: str = "api_error",
) -> Behaviour:
    """An error in the API's JSON envelope."""
    return json_reply(status, {"error": {"type": error_type, "message": message}}, headers)


def html(status: int = 502, title: str = "502 Bad Gateway") -> Behaviour:
    """An HTML error page, as a proxy or load balancer sends it."""
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
    return raw(status, page, [("Content-Type", "text/html")])


def empty(status: int = 503) -> Behaviour:
    """An error status with no body at all."""
    return raw(status, b"")


def truncated(declared_length: int = 200) -> Behaviour:
    """A 200 whose Content-Length promises more than is sent before the connection closes."""
    partial = json.dumps(valid_body()).encode()[:20]

    def behave(exchange: Exchange) -> bool:
        head = [
            ("X-Request-Id", exchange.request_id),
            ("Content-Type", "application/json"),
            ("Content-Length", str(declared_length)),
        ]
        exchange.send(response_head(200, head) + partial)
        return False

    return behave


def redirect(location: str, status: int = 302) -> Behaviour:
    """A redirect to `location`."""
    return raw(status, b"", [("Location", location)])


def reset_on_close(connection: socket.socket) -> None:
    """Makes the server's coming close() of `connection` a reset (RST) rather than a FIN."""
    # Linger on with a zero timeout makes close() send RST instead of FIN.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def reset() -> Behaviour:
    """Reads the request, then resets the connection (RST, no response)."""

    def behave(exchange: Exchange) -> bool:
        reset_on_close(exchange.connection)
        return False

    return behave


def stall(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Waits `seconds` (at most MAX_STALL_SECONDS; less if the server stops) before
    behaving like `then` (a valid reply by default)."""
    after = then if then is not None else ok()

    def behave(exchange: Exchange) -> bool:
        if exchange.stop.wait(min(seconds, MAX_STALL_SECONDS)):
            return False
        return after(exchange)

    return behave


def trickle(gap: float, pieces: int = 25, head_after: float = 0.0) -> Behaviour:
    """A valid 200 whose head comes after `head_after` seconds and whose body then
    arrives in `pieces` parts, `gap` seconds apart: every single read is quick, the whole
    answer is not."""
    body = json.dumps(valid_body()).encode()
    size = -(-len(body) // pieces)

    def behave(exchange: Exchange) -> bool:
        if exchange.stop.wait(min(head_after, MAX_STALL_SECONDS)):
            return False
        head = [
            ("X-Request-Id", exchange.request_id),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ]
        exchange.send(response_head(200, head))
        for start in range(0, len(body), size):
            if exchange.stop.wait(min(gap, MAX_STALL_SECONDS)):
                return False
            exchange.send(body[start : start + size])
        return True

    return behave


def echo_authorization(status: int = 401, as_json: bool = True) -> Behaviour:
    """An error whose message quotes the request's Authorization header back, as a
    careless server or proxy might."""

    def behave(exchange: Exchange) -> bool:
        quoted = exchange.request.headers.get("authorization", "")
        message = f"Invalid credentials: {quoted!r} was rejected"
        reply = (
            error(status, message, error_type="authentication_error")
            if as_json
            else raw(status, message.encode(), [("Content-Type", "text/plain")])
        )
        return reply(exchange)

    return behave


class FaultServer:
    """The scripted server; use as a context manager (or a pytest fixture around one).

    `FaultServer(reset(), error(503), ok())` answers its first three requests that way
    and every later one with `ok()` (or `default`). `then(...)` appends to the script.
    """

    def __init__(
        self,
        *script: Behaviour,
        default: Behaviour | None = None,
        lifetime: float = 120.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._tls = tls
        self._script: deque[Behaviour] = deque(script)
        self._default = default if default is not None else ok()
        self._lifetime = lifetime
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._connections = 0
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (https with `tls`)."""
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        """A snapshot of every request read so far, in order."""
        with self._lock:
            return list(self._received)

    @property
    def connections(self) -> int:
        """How many TCP connections the server has accepted."""
        with self._lock:
            return self._connections

    def then(self, *behaviours: Behaviour) -> None:
        """Appends behaviours to the script."""
        with self._lock:
            self._script.extend(behaviours)

    def close(self) -> None:
        """Stops accepting, cuts every open connection and joins the server's threads."""
        self._stop.set()
        # Wakes the acceptor's accept() now rather than at its next poll.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=5)
        with self._lock:
            open_connections = list(self._open)
            threads = list(self._threads)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _accept_loop(self) -> None:
        deadline = time.monotonic() + self._lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(_SOCKET_TIMEOUT_SECONDS)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            with self._lock:
                self._connections += 1
                self._open.add(connection)
                self._threads.append(thread)
            thread.start()
        self._stop.set()

    def _serve(self, connection: socket.socket) -> None:
        if self._tls is not None:
            plain = connection
            with self._lock:
                self._open.discard(plain)
            try:
                connection = self._tls.wrap_socket(plain, server_side=True)
            except OSError:  # the client refused the handshake (e.g. an untrusted certificate)
                plain.close()
                return
            with self._lock:
                self._open.add(connection)
        reader = connection.makefile("rb")
        try:
            keep_alive = True
            while keep_alive and not self._stop.is_set() and self._admit(connection):
                request = self._read_request(reader, connection.getpeername()[1])
                if request is None:
                    return
                with self._lock:
                    behaviour = self._script.popleft() if self._script else self._default
                keep_alive = behaviour(Exchange(connection, request, self._stop))
        except OSError:
            pass  # the client hung up or timed out: nothing left to answer
        finally:
            with self._lock:
                self._open.discard(connection)
            # The socket's descriptor is released only once its reader is closed too.
            with contextlib.suppress(OSError):
                reader.close()
            with contextlib.suppress(OSError):
                connection.close()

    def _admit(self, connection: socket.socket) -> bool:
        """Whether to read the next request on `connection` (True); a subclass may end
        the connection instead, before the request is read."""
        return True

    def _read_request(self, reader: BinaryIO, client_port: int) -> Received | None:
        request_line = reader.readline(65537).decode("latin-1").rstrip("\r\n")
        if not request_line:
            return None
        headers: dict[str, str] = {}
        header_lines: list[tuple[str, str]] = []
        for _ in range(_MAX_HEADER_LINES):
            line = reader.readline(65537).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
            header_lines.append((name.strip(), value.strip()))
        body = reader.read(int(headers.get("content-length", "0") or "0"))
        method, _, rest = request_line.partition(" ")
        path = rest.rpartition(" ")[0]
        with self._lock:
            request = Received(
                len(self._received) + 1,
                request_line,
                method,
                path,
                headers,
                body,
                client_port,
                tuple(header_lines),
            )
            self._received.append(request)
        return request
