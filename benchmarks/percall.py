"""Per-call time: Client.chat() vs httpx.Client.post(), AsyncClient.chat() vs
httpx.AsyncClient.post(), through httpx.MockTransport (in-memory, so the SDK's own work
is not hidden by socket noise) and over loopback to the benchmark server.

The raw twin posts the very body and headers the SDK sends (captured from an SDK
request), so both put the same bytes on the wire; like the SDK, it leaves httpx's
default headers (accept, accept-encoding, connection) to the client. "raw httpx" passes the URL as a
string, as code calling httpx directly does; "raw httpx, pre-parsed URL" passes an
httpx.URL parsed once, the fastest raw httpx can go, shown so that no saving of the
SDK's hides its own work.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from _measure import KEY, MESSAGE, Figure, interleaved_blocks, median
from _server import REPLY_BYTES, RESPONSE_HEADERS

import convokit

_COMPUTED_HEADERS = {"host", "content-length"}


def _handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=REPLY_BYTES, headers=RESPONSE_HEADERS)


def _sdk_request(base_url: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The URL, JSON body and headers of one SDK call, as the SDK sent them."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _handler(request)

    http = httpx.Client(transport=httpx.MockTransport(record))
    convokit.create_client(KEY, base_url=base_url, http_client=http).chat(message=MESSAGE)
    request = seen[0]
    # What the SDK passes in: not what httpx computes (host, content-length) or adds by
    # default in both cases (accept, accept-encoding, connection), which would make
    # the raw twin merge headers the SDK never hands to httpx.
    defaults = httpx.Client().headers
    headers = {
        name: value
        for name, value in request.headers.items()
        if name not in _COMPUTED_HEADERS and defaults.get(name) != value
    }
    return str(request.url), json.loads(request.content), headers


async def _async_blocks(
    contenders: Mapping[str, Callable[[], Awaitable[object]]], blocks: int, calls: int
) -> dict[str, list[float]]:
    names = list(contenders)
    for name in names:
        for _ in range(max(10, calls // 5)):
            await contenders[name]()
    per_call: dict[str, list[float]] = {name: [] for name in names}
    for block in range(blocks):
        for name in names if block % 2 == 0 else names[::-1]:
            call = contenders[name]
            started = time.perf_counter()
            for _ in range(calls):
                await call()
            per_call[name].append((time.perf_counter() - started) / calls)
    return per_call


def _contenders(
    raw_http: Any, sdk: Any, url: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Callable[[], Any]]:
    """The three contenders (the same for sync and async clients: the async ones return
    awaitables): raw httpx, raw httpx with a pre-parsed URL, and the SDK."""
    parsed = httpx.URL(url)
    return {
        "raw": lambda: raw_http.post(url, json=body, headers=headers),
        "raw_tuned": lambda: raw_http.post(parsed, json=body, headers=headers),
        "sdk": lambda: sdk.chat(message=MESSAGE),
    }


def _figures(
    label: str, per_call: dict[str, list[float]], limit: float, calls: int
) -> list[Figure]:
    sdk = median(per_call["sdk"]) * 1e6
    raw = median(per_call["raw"]) * 1e6
    tuned = median(per_call["raw_tuned"]) * 1e6
    figure = Figure(f"per call, {label}", "us", sdk, raw, f"<= {limit:.2f}x")
    figure.met = figure.ratio <= limit
    figure.notes.append(
        f"{calls} calls each, median of {len(per_call['sdk'])} interleaved blocks; "
        f"vs raw httpx with a pre-parsed URL ({tuned:.4g} us): {sdk / tuned:.3f}x"
    )
    return [figure]


def run(server_url: str, blocks: int, calls: int) -> list[Figure]:
    """All four per-call figures (sync/async x MockTransport/loopback)."""
    figures: list[Figure] = []
    for label, base_url, limit in (
        ("sync, httpx.MockTransport", "http://127.0.0.1:9", 1.05),
        ("sync, loopback", server_url, 1.10),
    ):
        url, body, headers = _sdk_request(base_url)
        if "MockTransport" in label:
            raw_http = httpx.Client(transport=httpx.MockTransport(_handler))
            sdk = convokit.create_client(
                KEY,
                base_url=base_url,
                http_client=httpx.Client(transport=httpx.MockTransport(_handler)),
            )
        else:
            raw_http = httpx.Client()
            sdk = convokit.create_client(KEY, base_url=base_url)
        with raw_http, sdk:
            per_call = interleaved_blocks(
                _contenders(raw_http, sdk, url, body, headers), blocks, calls
            )
        figures += _figures(label, per_call, limit, blocks * calls)
    figures += asyncio.run(_run_async(server_url, blocks, calls))
    return figures


async def _run_async(server_url: str, blocks: int, calls: int) -> list[Figure]:
    figures: list[Figure] = []
    for label, base_url, limit in (
        ("async, httpx.MockTransport", "http://127.0.0.1:9", 1.05),
        ("async, loopback", server_url, 1.10),
    ):
        url, body, headers = _sdk_request(base_url)
        if "MockTransport" in label:
            raw_http = httpx.AsyncClient(transport=httpx.MockTransport(_handler))
            sdk = convokit.create_async_client(
                KEY,
                base_url=base_url,
                http_client=httpx.AsyncClient(transport=httpx.MockTransport(_handler)),
            )
        else:
            raw_http = httpx.AsyncClient()
            sdk = convokit.create_async_client(KEY, base_url=base_url)
        async with raw_http, sdk:
            per_call = await _async_blocks(
                _contenders(raw_http, sdk, url, body, headers), blocks, calls
            )
        figures += _figures(label, per_call, limit, blocks * calls)
    return figures
