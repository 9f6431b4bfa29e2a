"""Shared measuring helpers: interleaved blocks, medians, ratios, and one figure's record."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

KEY = "sk_test_benchmark_0123456789"
MESSAGE = "What are your support hours?"


@dataclass
class Figure:
    """One measured figure: the SDK's value, its raw twin's (raw httpx unless `baseline`
    names another), and the target."""

    name: str
    unit: str
    sdk: float
    raw: float
    target: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)
    baseline: str = "raw httpx"

    @property
    def ratio(self) -> float:
        return self.sdk / self.raw if self.raw else float("nan")

    def line(self) -> str:
        verdict = {None: "", True: "  [target met]", False: "  [target MISSED]"}[self.met]
        target = f"  (target {self.target})" if self.target else ""
        return (
            f"{self.name}: convokit {self.sdk:.4g} {self.unit} vs {self.baseline} {self.raw:.4g} "
            f"{self.unit} = {self.ratio:.4f}x{target}{verdict}"
        )


def interleaved_blocks(
    contenders: Mapping[str, Callable[[], object]], blocks: int, calls_per_block: int
) -> dict[str, list[float]]:
    """Seconds per call of each contender, per block; blocks alternate between contenders
    (and which goes first), so drift in machine load hits all of them alike."""
    names = list(contenders)
    for name in names:  # warm-up: connections, caches, first-call imports
        for _ in range(max(10, calls_per_block // 5)):
            contenders[name]()
    per_call: dict[str, list[float]] = {name: [] for name in names}
    for block in range(blocks):
        order = names if block % 2 == 0 else names[::-1]
        for name in order:
            call = contenders[name]
            started = time.perf_counter()
            for _ in range(calls_per_block):
                call()
            per_call[name].append((time.perf_counter() - started) / calls_per_block)
    return per_call


def median(values: list[float]) -> float:
    """The median (robust to the odd block slowed by another process)."""
    return statistics.median(values)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))
