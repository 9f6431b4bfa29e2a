"""An HTTP proxy on 127.0.0.1 for tests: CONNECT tunnels, and absolute-form requests.

A CONNECT to 127.0.0.1 is tunnelled (the proxy relays bytes both ways and keeps a copy
of all it relayed, to prove what crossed it); a CONNECT anywhere else is refused with
403, so a test can never reach past this machine. Any other request (a plain-http
request sent to a proxy) is recorded and answered 502, which proves the client routed
it here without forwarding it anywhere.

Bounded in time like tests/_fault_server.py: sockets time out and close() stops it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

_SOCKET_TIMEOUT_SECONDS = 10.0


@dataclass
class ProxyLog:
    """What the proxy saw."""

    heads: list[bytes] = field(default_factory=list)
    """Each request head the proxy read itself (before any tunnel), as raw bytes."""
    tunnels: list[str] = field(default_factory=list)
    """`host:port` of each tunnel it opened."""
    relayed: bytearray = field(default_factory=bytearray)
    """Every byte it relayed through its tunnels, both ways."""


class ConnectProxy:
    """`with ConnectProxy() as proxy:` then `HTTPS_PROXY=proxy.url`."""

    def __init__(self) -> None:
        self.log = ProxyLog()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._start(self._serve, connection)

    def _start(self, target: Callable[..., None], *sockets: socket.socket) -> None:
        for each in sockets:
            each.settimeout(_SOCKET_TIMEOUT_SECONDS)
        thread = threading.Thread(target=target, args=sockets, daemon=True)
        with self._lock:
            self._sockets.extend(sockets)
            self._threads.append(thread)
        thread.start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(4096)
                if not chunk:
                    break
                head += chunk
        with self._lock:
            self.log.heads.append(head)
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = request_line.partition(" ")
        target = rest.partition(" ")[0]
        host, _, port = target.rpartition(":")
        if method != "CONNECT":
            self._answer(client, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        if host != "127.0.0.1" or not port.isdigit():
            self._answer(client, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            self._answer(client, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        with self._lock:
            self.log.tunnels.append(target)
        with contextlib.suppress(OSError):
            client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self._start(self._relay, upstream, client)
        self._relay(client, upstream)

    def _answer(self, client: socket.socket, response: bytes) -> None:
        with contextlib.suppress(OSError):
            client.sendall(response)
            client.close()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                chunk = source.recv(65536)
                if not chunk:
                    break
                with self._lock:
                    self.log.relayed += chunk
                sink.sendall(chunk)
        for each in (source, sink):
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for each in sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()
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
