"""1,000 concurrent AsyncClient.chat() calls vs raw httpx.AsyncClient with 100 connections.

The server holds every response back (75 ms by default, like a fast model), so
requests queue on the connection pool the way they do on a busy backend. Each client
runs two bursts: the first opens its connections, the second reuses them. Open file
descriptors are counted before the client exists, after the bursts, and after
aclose().
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from _measure import KEY, MESSAGE, Figure, open_fds

import convokit

RAW_LIMITS = httpx.Limits(max_connections=100)
# The SDK's default per-attempt timeout, so neither side gives up sooner.
TIMEOUT = httpx.Timeout(60.0, connect=5.0)


async def _burst(call: Callable[[], Awaitable[object]], count: int) -> tuple[float, int]:
    started = time.perf_counter()
    results = await asyncio.gather(*(call() for _ in range(count)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    return count / elapsed, sum(isinstance(result, BaseException) for result in results)


async def _sdk(url: str, count: int) -> dict[str, float]:
    before = open_fds()
    client = convokit.create_async_client(KEY, base_url=url)
    cold, cold_errors = await _burst(lambda: client.chat(message=MESSAGE), count)
    warm, warm_errors = await _burst(lambda: client.chat(message=MESSAGE), count)
    during = open_fds()
    await client.aclose()
    return {
        "cold": cold,
        "warm": warm,
        "errors": cold_errors + warm_errors,
        "fds_before": before,
        "fds_during": during,
        "fds_after": open_fds(),
    }


async def _raw(url: str, count: int, limits: httpx.Limits) -> dict[str, float]:
    body = {"message": MESSAGE}
    headers = {"Authorization": f"Bearer {KEY}"}
    before = open_fds()
    client = httpx.AsyncClient(limits=limits, timeout=TIMEOUT)

    async def post() -> httpx.Response:
        response = await client.post(url + "/v1/chat", json=body, headers=headers)
        response.raise_for_status()
        return response

    cold, cold_errors = await _burst(post, count)
    warm, warm_errors = await _burst(post, count)
    during = open_fds()
    await client.aclose()
    return {
        "cold": cold,
        "warm": warm,
        "errors": cold_errors + warm_errors,
        "fds_before": before,
        "fds_during": during,
        "fds_after": open_fds(),
    }


def run(url: str, count: int, delay_ms: float, compare_same_limits: bool) -> list[Figure]:
    """The throughput figure (requests/s over both bursts) with error and fd checks."""
    sdk = asyncio.run(_sdk(url, count))
    raw = asyncio.run(_raw(url, count, RAW_LIMITS))
    figures = []
    for burst in ("cold", "warm"):
        figure = Figure(
            f"{count} concurrent AsyncClient.chat(), {burst} pool, requests/s",
            "req/s",
            sdk[burst],
            raw[burst],
            ">= 1.5x, 0 errors, no fd left open",
        )
        figure.met = (
            figure.ratio >= 1.5 and sdk["errors"] == 0 and sdk["fds_after"] <= sdk["fds_before"]
        )
        figures.append(figure)
    figures[0].notes.append(
        f"server delay {delay_ms:g} ms per response; errors: convokit {sdk['errors']:.0f}, "
        f"raw {raw['errors']:.0f}; open fds convokit before/during/after aclose() "
        f"{sdk['fds_before']:.0f}/{sdk['fds_during']:.0f}/{sdk['fds_after']:.0f}, "
        f"raw {raw['fds_before']:.0f}/{raw['fds_during']:.0f}/{raw['fds_after']:.0f}"
    )
    if compare_same_limits:
        same = asyncio.run(
            _raw(url, count, httpx.Limits(max_connections=1000, max_keepalive_connections=100))
        )
        figures[0].notes.append(
            "raw httpx with the SDK's former limits (1000 connections, 100 keep-alive): "
            f"cold {same['cold']:.0f} req/s, warm {same['warm']:.0f} req/s, "
            f"{same['errors']:.0f} errors"
        )
    return figures
