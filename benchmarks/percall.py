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
import subprocess
import sys
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
    label: str, per_call: dict[str, list[float]], limit: float, calls: int, processes: int
) -> list[Figure]:
    sdk = median(per_call["sdk"]) * 1e6
    raw = median(per_call["raw"]) * 1e6
    tuned = median(per_call["raw_tuned"]) * 1e6
    figure = Figure(f"per call, {label}", "us", sdk, raw, f"<= {limit:.2f}x")
    figure.met = figure.ratio <= limit
    figure.notes.append(
        f"{calls} calls each, median of {len(per_call['sdk'])} interleaved blocks "
        f"from {processes} processes; "
        f"vs raw httpx with a pre-parsed URL ({tuned:.4g} us): {sdk / tuned:.3f}x"
    )
    return [figure]


LIMITS = {
    "sync, httpx.MockTransport": 1.05,
    "sync, loopback": 1.10,
    "async, httpx.MockTransport": 1.05,
    "async, loopback": 1.10,
}
"""Each per-call figure's target ratio."""


def run(server_url: str, blocks: int, calls: int, processes: int = 5) -> list[Figure]:
    """All four per-call figures (sync/async x MockTransport/loopback): `blocks` blocks
    of `calls` calls per contender, measured in `processes` child processes in turn and
    pooled. One process's figure moves by up to 10% from the next's with the very same
    code (where the interpreter's objects land in memory), more than a target's margin:
    pyperf spreads its runs over processes for the same reason."""
    pooled: dict[str, dict[str, list[float]]] = {}
    processes = max(1, min(processes, blocks))
    share, extra = divmod(blocks, processes)
    for index in range(processes):
        child_blocks = share + (index < extra)
        command = [sys.executable, __file__, server_url, str(child_blocks), str(calls)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise RuntimeError(f"percall child failed:\n{result.stderr}")
        for label, per_call in json.loads(result.stdout).items():
            for contender, values in per_call.items():
                pooled.setdefault(label, {}).setdefault(contender, []).extend(values)
    return [
        figure
        for label, per_call in pooled.items()
        for figure in _figures(label, per_call, LIMITS[label], blocks * calls, processes)
    ]


def _measure(server_url: str, blocks: int, calls: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per call of each contender, per block, by figure: what one process sees."""
    measured: dict[str, dict[str, list[float]]] = {}
    for label, base_url in (
        ("sync, httpx.MockTransport", "http://127.0.0.1:9"),
        ("sync, loopback", server_url),
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
            measured[label] = interleaved_blocks(
                _contenders(raw_http, sdk, url, body, headers), blocks, calls
            )
    measured.update(asyncio.run(_measure_async(server_url, blocks, calls)))
    return measured


async def _measure_async(
    server_url: str, blocks: int, calls: int
) -> dict[str, dict[str, list[float]]]:
    measured: dict[str, dict[str, list[float]]] = {}
    for label, base_url in (
        ("async, httpx.MockTransport", "http://127.0.0.1:9"),
        ("async, loopback", server_url),
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
            measured[label] = await _async_blocks(
                _contenders(raw_http, sdk, url, body, headers), blocks, calls
            )
    return measured


if __name__ == "__main__":  # one child process of run(): its blocks as JSON on stdout
    url_argument, blocks_argument, calls_argument = sys.argv[1:]
    print(json.dumps(_measure(url_argument, int(blocks_argument), int(calls_argument))))
