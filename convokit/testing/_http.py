"""The threaded HTTP/1.1 server around the mock's API: reading requests (Content-Length,
chunked, the size limit), writing replies, and knowing every open connection."""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from ._api import MAX_BODY_BYTES, MockApi, Reply, Request

# An oversized body is still read (and thrown away) up to this size: answering
# while the client is still sending makes most clients see a reset connection
# instead of the 413, which would defeat the point of a documented error.
_DRAIN_LIMIT: Final = 16 * MAX_BODY_BYTES
_READ_CHUNK: Final = 64 * 1024
_DIGITS = re.compile(r"[0-9]+")


class MockHTTPServer(ThreadingHTTPServer):
    """Serves ``api`` on one thread per connection, and can close every connection."""

    daemon_threads = True
    # handle_request() runs only once the socket is readable; the timeout just
    # bounds the wait if that connection vanished before accept().
    timeout = 1.0

    def __init__(self, address: tuple[str, int], api: MockApi) -> None:
        self.api = api
        self._lock = threading.Lock()
        # Accepted connections and the thread serving each (None until it starts).
        self._connections: dict[socket.socket, threading.Thread | None] = {}
        super().__init__(address, _Handler)

    def serve_until(self, wake: socket.socket) -> None:
        """Serve until a byte arrives on ``wake``."""
        # Not serve_forever(): its shutdown() waits up to a poll interval, and a test
        # suite starts and stops many servers. A byte on `wake` stops this at once.
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if wake in ready:
                    return
                self.handle_request()

    def close_connections(self) -> None:
        """Close every open connection and wait for the threads serving them."""
        with self._lock:
            open_connections = dict(self._connections)
        # Keep-alive connections would otherwise keep answering from a pool after close().
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for handler_thread in open_connections.values():
            if handler_thread is not None:
                handler_thread.join(timeout=5)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered here, on the accepting thread, so close_connections() knows every one.
        with self._lock:
            self._connections[request] = None
        super().process_request(request, client_address)

    def connection_served(self, connection: socket.socket) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections[connection] = threading.current_thread()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response are normal here; never print tracebacks.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MockHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm the
        # second one waits for the client's delayed ACK (~40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connection_served(self.connection)

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Every method (GET, DELETE, even made-up ones) reaches the router, so an
        # unsupported one gets the JSON 405/404 instead of http.server's HTML 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        reply = self.server.api.respond(self._read_request())
        if reply.drop:
            self.close_connection = True
            return
        if reply.close:
            self.close_connection = True
        self._write(reply)

    def _read_request(self) -> Request:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = Request(self.command, self.path, headers, b"")
        transfer_encoding = headers.get("transfer-encoding")
        content_length = headers.get("content-length")
        if transfer_encoding is not None:
            if transfer_encoding.strip().lower() == "chunked":
                self._read_chunked(request)
            else:
                request.framing_error = f"Unsupported Transfer-Encoding {transfer_encoding!r}."
        elif content_length is not None:
            if _DIGITS.fullmatch(content_length.strip()) is None:
                request.framing_error = f"Invalid Content-Length {content_length[:40]!r}."
            else:
                self._read_sized(request, int(content_length))
        return request

    def _read_sized(self, request: Request, length: int) -> None:
        if length <= MAX_BODY_BYTES:
            request.body = self.rfile.read(length)
            if len(request.body) < length:
                request.framing_error = "The request body ended before its Content-Length."
            return
        request.too_large = True
        if length > _DRAIN_LIMIT:
            self.close_connection = True
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, _READ_CHUNK))
            if not chunk:
                self.close_connection = True
                return
            remaining -= len(chunk)

    def _read_chunked(self, request: Request) -> None:
        body = bytearray()
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                request.framing_error = "Malformed chunked request body."
                return
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the mock needs
                break
            total += size
            if total > _DRAIN_LIMIT:
                request.too_large = True
                self.close_connection = True
                return
            data = self.rfile.read(size)
            self.rfile.readline(8)
            if len(data) < size:
                request.framing_error = "The chunked request body ended early."
                return
            if total <= MAX_BODY_BYTES:
                body += data
        if total > MAX_BODY_BYTES:
            request.too_large = True
        else:
            request.body = bytes(body)

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server calls this for requests it cannot parse; answer in the API's envelope.
        self.close_connection = True
        text = message or self.responses.get(code, ("Error",))[0]
        self._write(self.server.api.error_reply(code, f"{text}.", "malformed_request"))

    def version_string(self) -> str:
        return "ConvoKitMock/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        # Silent by default; MockServer(log=...) gets one line per request instead.
        return
