"""The benchmarks' HTTP server: a minimal keep-alive HTTP/1.1 server in a child process.

It answers every request with one fixed, valid ChatResponse (and an X-Request-Id), so
the client under test is the only thing that varies. It is built on asyncio's
Protocol API rather than MockServer or http.server: those parse and validate each
request in Python and would be slower than the clients they serve. `--delay-ms`
holds each response back like a slow model; `--max-seconds` bounds its life.

Run: python benchmarks/_server.py [--delay-ms 75] (prints its port on stdout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

HOST = "127.0.0.1"

REPLY = {
    "reply": "Our support team is available Monday to Friday, 9:00-17:00 CET.",
    "conversation_id": "conv_bench_0001",
    "usage": {"prompt_tokens": 12, "completion_tokens": 17, "total_tokens": 29},
}
REPLY_BYTES = json.dumps(REPLY).encode()
RESPONSE_HEADERS = (
    ("content-type", "application/json"),
    ("x-request-id", "req_bench_0001"),
)
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    + b"".join(f"{name}: {value}\r\n".encode() for name, value in RESPONSE_HEADERS)
    + f"content-length: {len(REPLY_BYTES)}\r\n\r\n".encode()
    + REPLY_BYTES
)


class _ChatProtocol(asyncio.Protocol):
    """One connection: splits the byte stream into requests and answers each in order."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._last_due = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = _content_length(bytes(self._buffer[:end]))
            if len(self._buffer) < end + 4 + length:
                return  # the body has not all arrived yet
            del self._buffer[: end + 4 + length]
            self._answer()

    def _answer(self) -> None:
        if self._delay <= 0:
            self._write()
            return
        loop = asyncio.get_running_loop()
        # A later request on the same connection is never answered before an earlier one.
        due = max(loop.time() + self._delay, self._last_due)
        self._last_due = due
        loop.call_at(due, self._write)

    def _write(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_RESPONSE)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def _serve(port: int, delay: float, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _ChatProtocol(delay), HOST, port, backlog=4096, reuse_address=True
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    # The parent closing our stdin (or dying) stops the server, and so does max_seconds.
    stdin_closed = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), _on_stdin, sys.stdin.fileno(), stdin_closed)
    with suppress(TimeoutError):
        await asyncio.wait_for(stdin_closed, timeout=max_seconds)
    server.close()


def _on_stdin(fd: int, closed: asyncio.Future[None]) -> None:
    if not os.read(fd, 4096) and not closed.done():
        closed.set_result(None)


class ServerProcess:
    """A running benchmark server: `url` is its base URL."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://{HOST}:{port}"

    def round_trips_per_second(self, count: int = 5000) -> float:
        """What the server sustains on one keep-alive connection with a client that does
        nothing but send bytes and read them back: the ceiling of every figure here."""
        body = b'{"message":"hi"}'
        request = (
            b"POST /v1/chat HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with socket.create_connection((HOST, self.port)) as connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            started = time.perf_counter()
            for _ in range(count):
                connection.sendall(request)
                received = 0
                while received < len(_RESPONSE):
                    chunk = connection.recv(65536)
                    if not chunk:
                        raise RuntimeError("the benchmark server closed the connection")
                    received += len(chunk)
            return count / (time.perf_counter() - started)


@contextmanager
def running_server(delay_ms: float = 0, max_seconds: float = 1800) -> Iterator[ServerProcess]:
    """Starts the server in a child process and stops it on exit."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--delay-ms",
        str(delay_ms),
        "--max-seconds",
        str(max_seconds),
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip():
            raise RuntimeError("the benchmark server did not start")
        yield ServerProcess(process, int(line))
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.delay_ms / 1000, args.max_seconds))


if __name__ == "__main__":
    main()
