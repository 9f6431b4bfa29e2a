"""The concurrency table: N concurrent chats on each async client against the limit.

    python benchmarks/high_concurrency.py [--calls 1000] [--delay-ms 500] [--rounds 3]
    python benchmarks/high_concurrency.py --profile sdk-httpx [--calls 1000] [--delay-ms 500]

Contenders, all held to the SDK's MAX_CONNECTIONS connections at once:

- `raw asyncio streams`: the limit. A keep-alive stack of bare asyncio streams, one
  request written as prebuilt bytes, its response head and body read back and the body
  decoded as JSON; no HTTP library at all.
- `raw aiohttp`: `aiohttp.ClientSession.post()` + `json.loads(await response.read())`.
- `raw httpx`: `httpx.AsyncClient.post()` + `.json()`, `max_connections` = the same limit.
- `convokit, httpx backend` and `convokit, aiohttp backend`: `AsyncClient.chat()`.

Each measurement runs in a child process of its own (`python high_concurrency.py child
CONTENDER URL N`) against the benchmark server (`_server.py`, its own process, holding
each response back `--delay-ms`): a fresh client makes a cold burst of N concurrent
calls (every connection opened), then a warm one (the pool reused). The child reports
wall time and CPU time (user + system, its own process) of each burst, failed calls,
open descriptors before the client existed and after `aclose()`, and RSS growth from
before the client existed to after the bursts. Rounds alternate the contenders' order,
so drift in the machine's load hits all alike; each figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _measure import KEY, MESSAGE, Figure, open_fds, rss_bytes

from convokit._transport import MAX_CONNECTIONS

LIMIT = "raw asyncio streams"
CONTENDERS = (
    LIMIT,
    "raw aiohttp",
    "raw httpx",
    "convokit, httpx backend",
    "convokit, aiohttp backend",
)
SLUGS = {
    LIMIT: "streams",
    "raw aiohttp": "aiohttp",
    "raw httpx": "httpx",
    "convokit, httpx backend": "sdk-httpx",
    "convokit, aiohttp backend": "sdk-aiohttp",
}
BODY = json.dumps({"message": MESSAGE}, separators=(",", ":")).encode()
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
CHILD_TIMEOUT_SECONDS = 600


Call = Callable[[], Awaitable[object]]


class _Streams:
    """The limit: bare asyncio streams, kept alive in a last-in-first-out stack."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._host, self._port = host, int(port)
        self._request = (
            f"POST /v1/chat HTTP/1.1\r\nHost: {host}:{port}\r\n".encode()
            + "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items()).encode()
            + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
            + BODY
        )
        self._free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def call(self) -> object:
        async with self._slots:
            if self._free:
                reader, writer = self._free.pop()
            else:
                reader, writer = await asyncio.open_connection(self._host, self._port)
            writer.write(self._request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200 "):
                raise RuntimeError(head[:40])
            length = _content_length(head)
            body = await reader.readexactly(length)
            self._free.append((reader, writer))
            return json.loads(body)

    async def aclose(self) -> None:
        for _, writer in self._free:
            writer.close()
        for _, writer in self._free:
            await writer.wait_closed()
        self._free.clear()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    raise RuntimeError("no Content-Length")


@asynccontextmanager
async def _client(contender: str, url: str) -> Any:
    """(call, the client) for one contender; closed on exit."""
    if contender == LIMIT:
        streams = _Streams(url)
        try:
            yield streams.call
        finally:
            await streams.aclose()
    elif contender == "raw aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector) as session:
            endpoint = url + "/v1/chat"

            async def post() -> object:
                async with session.post(endpoint, data=BODY, headers=HEADERS) as response:
                    if response.status != 200:
                        raise RuntimeError(response.status)
                    return json.loads(await response.read())

            yield post
    elif contender == "raw httpx":
        import httpx

        limits = httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
        )
        timeout = httpx.Timeout(60.0, connect=5.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
            endpoint = url + "/v1/chat"

            async def post_httpx() -> object:
                response = await http.post(endpoint, content=BODY, headers=HEADERS)
                response.raise_for_status()
                return response.json()

            yield post_httpx
    else:
        import convokit

        backend = "aiohttp" if "aiohttp" in contender else "httpx"
        async with convokit.create_async_client(KEY, base_url=url, http_backend=backend) as client:
            yield lambda: client.chat(message=MESSAGE)


class _GarbageCollections:
    """CPU seconds spent in the cyclic garbage collector while it is installed: with a
    thousand calls' objects alive at once, its full collections are a large share of a
    burst's CPU, and they grow with what each call allocates."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started

    def __enter__(self) -> _GarbageCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


async def _burst(call: Call, count: int) -> dict[str, float]:
    with _GarbageCollections() as collections:
        started, cpu = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(call() for _ in range(count)), return_exceptions=True)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    errors = [result for result in results if isinstance(result, BaseException)]
    measured: dict[str, Any] = {
        "wall": wall,
        "cpu": cpu,
        "gc": collections.seconds,
        "errors": len(errors),
    }
    if errors:
        measured["first_error"] = f"{type(errors[0]).__name__}: {errors[0]}"[:300]
    return measured


async def _child(contender: str, url: str, count: int) -> dict[str, Any]:
    fds_before, rss_before = open_fds(), rss_bytes()
    client: AbstractAsyncContextManager[Call] = _client(contender, url)
    async with client as call:
        cold = await _burst(call, count)
        warm = await _burst(call, count)
        fds_open, rss_after = open_fds(), rss_bytes()
    await asyncio.sleep(0)  # let closed transports finish closing their sockets
    return {
        "cold": cold,
        "warm": warm,
        "fds_before": fds_before,
        "fds_open": fds_open,
        "fds_after": open_fds(),
        "rss_growth": rss_after - rss_before,
    }


def measure_once(contender: str, url: str, count: int) -> dict[str, Any]:
    """One child process's measurement of `contender` (see the module docstring)."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "child", SLUGS[contender], url, str(count)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{contender} failed: {result.stderr[-2000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return measured


@dataclass
class Row:
    """One contender at one size and latency: medians over the rounds."""

    contender: str
    calls: int
    delay_ms: float
    runs: list[dict[str, Any]]

    def median(self, burst: str, key: str) -> float:
        return statistics.median(run[burst][key] for run in self.runs)

    @property
    def cpu_per_1000(self) -> float:
        """CPU seconds per 1,000 calls over both bursts."""
        return statistics.median(
            (run["cold"]["cpu"] + run["warm"]["cpu"]) / (2 * self.calls) * 1000 for run in self.runs
        )

    @property
    def gc_per_1000(self) -> float:
        """Of cpu_per_1000, the seconds in the garbage collector."""
        return statistics.median(
            (run["cold"]["gc"] + run["warm"]["gc"]) / (2 * self.calls) * 1000 for run in self.runs
        )

    @property
    def errors(self) -> int:
        return sum(run[burst]["errors"] for run in self.runs for burst in ("cold", "warm"))

    @property
    def fds(self) -> str:
        """Descriptors before the client / with its pool open / after aclose(), worst run."""
        worst = max(self.runs, key=lambda run: run["fds_after"] - run["fds_before"])
        return f"{worst['fds_before']}/{worst['fds_open']}/{worst['fds_after']}"

    @property
    def fds_back(self) -> bool:
        return all(run["fds_after"] <= run["fds_before"] for run in self.runs)

    @property
    def rss_growth_mb(self) -> float:
        return statistics.median(run["rss_growth"] for run in self.runs) / 2**20

    def first_error(self) -> str | None:
        for run in self.runs:
            for burst in ("cold", "warm"):
                if "first_error" in run[burst]:
                    return str(run[burst]["first_error"])
        return None


def scenarios(calls: list[int], delays_ms: list[float]) -> Iterator[tuple[int, float]]:
    for count in calls:
        for delay_ms in delays_ms:
            yield count, delay_ms


def contenders_for(count: int) -> tuple[str, ...]:
    """Every contender, but raw httpx only up to 1,000 calls: its pool rescans every
    queued request on each state change (docs/benchmarks.md), and 10,000 queued behind
    1,000 connections would run for many minutes."""
    return tuple(name for name in CONTENDERS if name != "raw httpx" or count <= MAX_CONNECTIONS)


def runs_in(name: str, round_number: int) -> bool:
    """Raw httpx runs in the first round only: its 1,000 calls take ~30 CPU-seconds a
    burst here, and one round of it is enough to show where it stands."""
    return name != "raw httpx" or round_number == 0


def run_table(
    server_url: Callable[[float], str],
    calls: list[int],
    delays_ms: list[float],
    rounds: int,
    progress: Callable[[str], None] = print,
) -> list[Row]:
    """Every row of the table, measured in interleaved rounds."""
    rows: list[Row] = []
    for count, delay_ms in scenarios(calls, delays_ms):
        url = server_url(delay_ms)
        names = contenders_for(count)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for round_number in range(rounds):
            for name in names if round_number % 2 == 0 else names[::-1]:
                if runs_in(name, round_number):
                    runs[name].append(measure_once(name, url, count))
        for name in names:
            row = Row(name, count, delay_ms, runs[name])
            rows.append(row)
            progress(row_line(row, rows))
    return rows


def limit_of(row: Row, rows: list[Row]) -> Row:
    """The raw-socket row of the same size and latency."""
    return next(
        other
        for other in rows
        if other.contender == LIMIT and (other.calls, other.delay_ms) == (row.calls, row.delay_ms)
    )


def row_line(row: Row, rows: list[Row]) -> str:
    """One printed line: the row's figures and its ratios to the limit."""
    limit = limit_of(row, rows)
    cold, warm = row.median("cold", "wall"), row.median("warm", "wall")
    line = (
        f"{row.calls} concurrent, {row.delay_ms / 1000:g} s latency, {row.contender}: "
        f"wall cold {cold:.3f} s ({cold / limit.median('cold', 'wall'):.2f}x), "
        f"warm {warm:.3f} s ({warm / limit.median('warm', 'wall'):.2f}x); "
        f"CPU {row.cpu_per_1000:.3f} s/1000 calls ({row.cpu_per_1000 / limit.cpu_per_1000:.2f}x, "
        f"GC {row.gc_per_1000:.3f}); "
        f"errors {row.errors}; fds {row.fds}; RSS +{row.rss_growth_mb:.1f} MB"
    )
    error = row.first_error()
    return line + (f"; first error: {error}" if error else "")


def _row(rows: list[Row], contender: str, calls: int, delay_ms: float) -> Row | None:
    return next(
        (r for r in rows if (r.contender, r.calls, r.delay_ms) == (contender, calls, delay_ms)),
        None,
    )


def target_figures(rows: list[Row], calls: int, delay_ms: float) -> list[Figure]:
    """The issue's targets, judged on the table: at `calls` concurrent and `delay_ms`,
    each backend's cold-burst wall time against the raw-socket limit's and the aiohttp
    backend's CPU per call against raw aiohttp's; at every size, 0 errors and every
    descriptor back after aclose() on both backends."""
    figures: list[Figure] = []
    limit = _row(rows, LIMIT, calls, delay_ms)
    where = f"{calls} concurrent, {delay_ms / 1000:g} s latency"
    for contender, most in (("convokit, aiohttp backend", 1.5), ("convokit, httpx backend", 3.0)):
        row = _row(rows, contender, calls, delay_ms)
        if row is None or limit is None:
            continue
        figure = Figure(
            f"{where}, {contender}, wall (cold burst)",
            "s",
            row.median("cold", "wall"),
            limit.median("cold", "wall"),
            f"<= {most:g}x",
            baseline=LIMIT,
        )
        figure.met = figure.ratio <= most
        warm = row.median("warm", "wall") / limit.median("warm", "wall")
        figure.notes.append(f"warm burst: {warm:.2f}x; median of {len(row.runs)} runs")
        figures.append(figure)
    row = _row(rows, "convokit, aiohttp backend", calls, delay_ms)
    raw = _row(rows, "raw aiohttp", calls, delay_ms)
    if row is not None and raw is not None:
        figure = Figure(
            f"{where}, convokit, aiohttp backend, CPU per 1000 calls",
            "s",
            row.cpu_per_1000,
            raw.cpu_per_1000,
            "<= 1.3x",
            baseline="raw aiohttp",
        )
        figure.met = figure.ratio <= 1.3
        figures.append(figure)
    for row in rows:
        if row.contender.startswith("convokit") and row.calls > MAX_CONNECTIONS:
            limit = limit_of(row, rows)
            figure = Figure(
                f"{row.calls} concurrent, {row.delay_ms / 1000:g} s latency, {row.contender}, "
                "wall (cold burst)",
                "s",
                row.median("cold", "wall"),
                limit.median("cold", "wall"),
                f"0 errors, queued behind {MAX_CONNECTIONS} connections, fds back after aclose()",
                baseline=LIMIT,
            )
            figure.met = row.errors == 0 and row.fds_back
            figure.notes.append(
                f"errors {row.errors}; fds before/open/after aclose() {row.fds}"
                + (f"; first error: {row.first_error()}" if row.first_error() else "")
            )
            figures.append(figure)
    return figures


def table_markdown(rows: list[Row]) -> list[str]:
    """The concurrency table, for docs/benchmarks.md."""
    lines = [
        "| calls | latency | client | wall cold | wall warm | CPU s / 1000 calls "
        "| of which GC | errors | fds before/open/after | RSS growth | runs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        limit = limit_of(row, rows)
        cold, warm = row.median("cold", "wall"), row.median("warm", "wall")
        lines.append(
            f"| {row.calls} | {row.delay_ms / 1000:g} s | {row.contender} "
            f"| {cold:.3f} s ({cold / limit.median('cold', 'wall'):.2f}x) "
            f"| {warm:.3f} s ({warm / limit.median('warm', 'wall'):.2f}x) "
            f"| {row.cpu_per_1000:.3f} ({row.cpu_per_1000 / limit.cpu_per_1000:.2f}x) "
            f"| {row.gc_per_1000:.3f} | {row.errors} | {row.fds} "
            f"| {row.rss_growth_mb:.1f} MB | {len(row.runs)} |"
        )
    return lines


def profile(contender: str, url: str, count: int) -> str:
    """cProfile's top functions (own time) over one cold and one warm burst."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(_child(contender, url, count))
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
    return text.getvalue()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        slug, url, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        contender = next(name for name, known in SLUGS.items() if known == slug)
        print(json.dumps(asyncio.run(_child(contender, url, count))))
        return
    from _server import running_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--delay-ms", default="0,500", help="comma-separated latencies")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=sorted(SLUGS.values()))
    args = parser.parse_args()
    calls = [int(value) for value in args.calls.split(",")]
    delays = [float(value) for value in args.delay_ms.split(",")]
    if args.profile:
        contender = next(name for name, slug in SLUGS.items() if slug == args.profile)
        with running_server(delay_ms=delays[0]) as server:
            print(profile(contender, server.url, calls[0]))
        return
    with ExitStack() as servers:
        urls = {
            delay_ms: servers.enter_context(running_server(delay_ms=delay_ms)).url
            for delay_ms in delays
        }
        run_table(urls.__getitem__, calls, delays, args.rounds)


if __name__ == "__main__":
    main()
