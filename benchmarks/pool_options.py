"""The pool designs weighed for 1,000 concurrent chat() calls, measured side by side.

    python benchmarks/pool_options.py [--calls 1000] [--delay-ms 75] [--profile]

Each option runs two bursts of concurrent POSTs against the benchmark server (its
responses held back `--delay-ms`): a cold one that opens the connections and a warm one
that reuses them. Printed: requests/s and the client's CPU milliseconds per request
(CPU time is steadier than wall time on a shared machine). `--profile` adds cProfile's
top functions for raw httpx with 100 connections: where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
from collections.abc import Callable
from typing import Any

import httpx
from _measure import KEY, MESSAGE
from _server import running_server

import convokit

TIMEOUT = httpx.Timeout(60.0, connect=5.0)
BODY = {"message": MESSAGE}
HEADERS = {"Authorization": f"Bearer {KEY}"}


async def _bursts(post: Callable[[], Any], calls: int) -> list[tuple[float, float, int]]:
    results = []
    for _ in range(2):
        started, cpu = time.perf_counter(), time.process_time()
        outcomes = await asyncio.gather(*(post() for _ in range(calls)), return_exceptions=True)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        errors = sum(isinstance(outcome, BaseException) for outcome in outcomes)
        results.append((calls / elapsed, cpu / calls * 1000, errors))
    return results


async def raw_httpx(url: str, calls: int, limits: httpx.Limits, gate: int | None) -> Any:
    """Raw httpx.AsyncClient, optionally behind a FIFO asyncio.Semaphore of `gate` slots."""
    async with httpx.AsyncClient(limits=limits, timeout=TIMEOUT) as client:
        queue = asyncio.Semaphore(gate) if gate else None

        async def post() -> httpx.Response:
            if queue is None:
                return await client.post(url + "/v1/chat", json=BODY, headers=HEADERS)
            async with queue:
                return await client.post(url + "/v1/chat", json=BODY, headers=HEADERS)

        return await _bursts(post, calls)


class ShardedTransport(httpx.AsyncBaseTransport):
    """Option F: `shards` pools of `size` connections behind a FIFO queue, each request
    going to the first pool with a free connection (a design weighed and dropped)."""

    def __init__(self, shards: int, size: int) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._pools = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(shards)]
        self._busy = [0] * shards
        self._size = size
        self._queue = asyncio.Semaphore(shards * size)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._queue.acquire()
        index = next(i for i, busy in enumerate(self._busy) if busy < self._size)
        self._busy[index] += 1
        response = await self._pools[index].handle_async_request(request)
        await response.aread()  # the body in hand, the connection is free again
        self._busy[index] -= 1
        self._queue.release()
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


async def sharded(url: str, calls: int, size: int) -> Any:
    """Raw httpx through ShardedTransport (1,000 connections in all)."""
    transport = ShardedTransport(1000 // size, size)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        return await _bursts(
            lambda: client.post(url + "/v1/chat", json=BODY, headers=HEADERS), calls
        )


async def sdk(url: str, calls: int) -> Any:
    """convokit.AsyncClient with its own pool."""
    async with convokit.create_async_client(KEY, base_url=url) as client:
        return await _bursts(lambda: client.chat(message=MESSAGE), calls)


def options(url: str, calls: int) -> list[tuple[str, Callable[[], Any]]]:
    """(description, run) of each option, the raw-httpx twin first."""
    one_pool_1000 = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
    return [
        (
            "A raw httpx, 100 connections (the twin)",
            lambda: raw_httpx(url, calls, httpx.Limits(max_connections=100), None),
        ),
        (
            "B raw httpx, 1000 connections, 100 keep-alive (the SDK's former pool)",
            lambda: raw_httpx(url, calls, one_pool_1000, None),
        ),
        (
            "C FIFO queue of 100 in front of a 100-connection pool",
            lambda: raw_httpx(url, calls, httpx.Limits(max_connections=100), 100),
        ),
        (
            "D FIFO queue of 1000 in front of one 1000-connection pool",
            lambda: raw_httpx(
                url, calls, httpx.Limits(max_connections=1000, max_keepalive_connections=1000), 1000
            ),
        ),
        (
            "E convokit: 1000-slot FIFO queue, 1000 one-connection pools, all kept alive (shipped)",
            lambda: sdk(url, calls),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=75)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--shard-sizes", default="10,100", help="pool sizes for option F")
    args = parser.parse_args()
    with running_server(delay_ms=args.delay_ms) as server:
        for name, run in options(server.url, args.calls):
            bursts = asyncio.run(run())
            print(_line(name, bursts), flush=True)
        for size in (int(size) for size in args.shard_sizes.split(",") if size):
            bursts = asyncio.run(sharded(server.url, args.calls, size))
            name = f"F FIFO queue of 1000 in front of {1000 // size} pools of {size}, first fit"
            print(_line(name, bursts), flush=True)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            asyncio.run(raw_httpx(server.url, args.calls, httpx.Limits(max_connections=100), None))
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
            print(text.getvalue())


def _line(name: str, bursts: list[tuple[float, float, int]]) -> str:
    (cold, cold_cpu, cold_errors), (warm, warm_cpu, warm_errors) = bursts
    return (
        f"{name}: cold {cold:.0f} req/s ({cold_cpu:.2f} ms CPU/req), "
        f"warm {warm:.0f} req/s ({warm_cpu:.2f} ms CPU/req), "
        f"errors {cold_errors + warm_errors}"
    )


if __name__ == "__main__":
    main()
