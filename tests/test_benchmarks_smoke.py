"""The benchmarks run (small N) and print every figure; their targets are not asserted
here, since timings on a shared machine are noise at this size (see docs/benchmarks.md).
Then the connection pool those benchmarks called for, checked for what is not timing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from _fds import fds_settle_at, open_fds
from _spec import ROOT

import convokit
import convokit._transport
from convokit.testing import MockServer

FIGURES = (
    "per call, sync, httpx.MockTransport:",
    "per call, sync, loopback:",
    "per call, async, httpx.MockTransport:",
    "per call, async, loopback:",
    "cold start, import:",
    "cold start, import + first call:",
    "RSS growth over 300 sequential calls:",
    "100 concurrent AsyncClient.chat(), cold pool, requests/s:",
    "100 concurrent AsyncClient.chat(), warm pool, requests/s:",
    # The concurrency table's targets, at its quick sizes (benchmarks/run.py QUICK).
    "50 concurrent, 0.05 s latency, convokit, aiohttp backend, wall (cold burst):",
    "50 concurrent, 0.05 s latency, convokit, httpx backend, wall (cold burst):",
    "50 concurrent, 0.05 s latency, convokit, aiohttp backend, CPU per 1000 calls:",
    "1200 concurrent, 0 s latency, convokit, httpx backend, wall (cold burst):",
    "1200 concurrent, 0 s latency, convokit, aiohttp backend, wall (cold burst):",
    "1200 concurrent, 0.05 s latency, convokit, httpx backend, wall (cold burst):",
    "1200 concurrent, 0.05 s latency, convokit, aiohttp backend, wall (cold burst):",
)
TABLE_CONTENDERS = (
    "raw asyncio streams",
    "raw aiohttp",
    "raw httpx",
    "convokit, httpx backend",
    "convokit, aiohttp backend",
)


@pytest.mark.slow
def test_quick_benchmark_run_prints_every_figure_as_a_ratio(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in FIGURES:
        (line,) = [line for line in lines if line.startswith(name)]
        assert " vs raw " in line
        ratio = float(line.split(" = ")[1].split("x")[0])  # the ratio to the raw twin
        # Every figure is a time or a rate, except RSS growth, which is 0 when the SDK
        # grew by less than a page: a ratio of 0 there is a pass, not a missing figure.
        assert ratio > 0 or (name.startswith("RSS growth") and ratio == 0), line
    written = output.read_text(encoding="utf-8")
    assert written.startswith("<!-- results:start -->")
    assert written.rstrip().endswith("<!-- results:end -->")
    figures, table = written.split("The concurrency table", 1)
    rows = [row for row in figures.splitlines() if row.startswith("| ")]
    assert len(rows) == 2 + len(FIGURES)  # header, separator, one row a figure
    # The table: every contender at the small size, all but raw httpx (whose pool would
    # take minutes) past MAX_CONNECTIONS, and no call failed on the SDK's backends.
    cells = [row.split(" | ") for row in table.splitlines() if row.startswith("| ")][2:]
    assert [(cell[0], cell[2]) for cell in cells] == [
        (f"| {calls}", contender)
        for calls in (50, 1200)
        for _latency in (0, 1)
        for contender in TABLE_CONTENDERS
        if calls == 50 or contender != "raw httpx"
    ]
    for cell in cells:
        if cell[2].startswith("convokit"):
            assert cell[7] == "0", cell  # errors
            before, _, after = cell[8].split("/")
            assert int(after) <= int(before), cell  # fds back after aclose()
    # What is not timing is checked: no call failed and aclose() left no descriptor open.
    (fds,) = [line for line in lines if "open fds convokit before/during/after" in line]
    assert "errors: convokit 0," in fds
    before, _, after = fds.split("aclose() ")[1].split(",")[0].split("/")
    assert int(after) <= int(before)


# The pool the benchmarks called for (convokit/_transport.py): a queue of the SDK's own in
# front of one-connection httpx pools. Checked with a queue of 2 so that calls really
# wait in it; a responder that blocks holds requests in flight without any sleep.


class _Gate:
    """A MockServer responder that holds every request until `open()`, counting them."""

    def __init__(self) -> None:
        self._opened = threading.Event()
        self._lock = threading.Condition()
        self.in_flight = 0

    def __call__(self, messages: list[dict[str, str]]) -> str:
        with self._lock:
            self.in_flight += 1
            self._lock.notify_all()
        self._opened.wait(timeout=30)
        with self._lock:
            self.in_flight -= 1
        return "done"

    def wait_for(self, count: int) -> None:
        with self._lock:
            assert self._lock.wait_for(lambda: self.in_flight >= count, timeout=30)

    def open(self) -> None:
        self._opened.set()

    def close(self) -> None:
        self._opened.clear()


@pytest.fixture
def two_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convokit._transport, "MAX_CONNECTIONS", 2)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.usefixtures("two_connections")
def test_sync_calls_past_the_connection_limit_wait_in_the_queue() -> None:
    gate = _Gate()
    fds = open_fds()
    with MockServer(responder=gate) as server:
        client = convokit.create_client("sk_test_pool", base_url=server.base_url)
        with ThreadPoolExecutor(max_workers=2) as pool:
            held = [pool.submit(client.chat, message=f"held {n}") for n in range(2)]
            gate.wait_for(2)
            # Both connections are busy: a third call waits in the SDK's queue, and its
            # pool timeout ends the wait (it never reaches the server).
            with pytest.raises(convokit.APITimeoutError) as waited:
                client.chat(message="third", timeout=httpx.Timeout(10, pool=0.05), max_retries=0)
            assert isinstance(waited.value.__cause__, httpx.PoolTimeout)
            gate.open()
            assert [future.result(timeout=30).reply for future in held] == ["done", "done"]
        # The slots came back: more calls than connections all go through, one by one.
        for n in range(5):
            assert client.chat(message=f"after {n}").reply == "done"
        client.close()
    assert fds_settle_at(fds)


@pytest.mark.anyio
@pytest.mark.usefixtures("two_connections")
async def test_async_calls_past_the_connection_limit_wait_in_the_queue() -> None:
    gate = _Gate()
    fds = open_fds()
    with MockServer(responder=gate) as server:
        client = convokit.create_async_client("sk_test_pool", base_url=server.base_url)
        held = [asyncio.create_task(client.chat(message=f"held {n}")) for n in range(2)]
        await asyncio.to_thread(gate.wait_for, 2)
        with pytest.raises(convokit.APITimeoutError) as waited:
            await client.chat(message="third", timeout=httpx.Timeout(10, pool=0.05), max_retries=0)
        assert isinstance(waited.value.__cause__, httpx.PoolTimeout)
        gate.open()
        assert [(await task).reply for task in held] == ["done", "done"]
        # Many more calls than connections at once: all queue, none fails.
        replies = await asyncio.gather(*(client.chat(message=f"burst {n}") for n in range(20)))
        assert {reply.reply for reply in replies} == {"done"}
        await client.aclose()
    assert fds_settle_at(fds)


@pytest.mark.usefixtures("two_connections")
def test_a_connection_lost_mid_call_gives_its_queue_slot_back() -> None:
    with MockServer() as server:
        client = convokit.create_client(
            "sk_test_pool", base_url=server.base_url, timeout=httpx.Timeout(10, pool=1)
        )
        server.drop_next(times=4)
        for _ in range(4):  # more failures than slots: a leaked slot would time out below
            with pytest.raises(convokit.APIConnectionError) as failed:
                client.chat(message="lost", max_retries=0)
            assert not isinstance(failed.value.__cause__, httpx.PoolTimeout)
        assert client.chat(message="still served").reply
        client.close()


def test_a_bursts_connections_stay_open_for_reuse_until_they_expire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(convokit._transport, "MAX_CONNECTIONS", 3)
    gate = _Gate()
    with MockServer(responder=gate) as server:
        client = convokit.create_client("sk_test_pool", base_url=server.base_url)
        transport = client._pool.http._transport
        assert isinstance(transport, convokit._transport.PoolTransport)

        def burst() -> None:
            with ThreadPoolExecutor(max_workers=3) as pool:
                held = [pool.submit(client.chat, message=f"held {n}") for n in range(3)]
                gate.wait_for(3)  # three connections in use at once
                gate.open()
                assert [future.result(timeout=30).reply for future in held] == ["done"] * 3

        burst()
        opened = list(transport._connections._open)
        assert len(opened) == 3 and transport._connections.free == 3  # all kept alive
        gate.close()
        burst()  # the next burst reuses them: no connection made or closed
        assert list(transport._connections._open) == opened
        # Idle past the keep-alive expiry, they are closed when the next call takes one.
        monkeypatch.setattr(convokit._transport, "KEEPALIVE_EXPIRY", 0.05)
        time.sleep(0.1)
        assert client.chat(message="again").reply == "done"
        assert len(transport._connections._open) == 1
        assert not set(transport._connections._open) & set(opened)
        client.close()
        assert not transport._connections._open
