"""What the figures were measured on: machine, Python, package versions."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1/5/15-minute load average: other work on the machine skews every figure."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def describe() -> list[str]:
    """One line per fact about the machine and the software measured."""
    packages = [
        *("convokit-server", "httpx", "httpcore", "anyio", "h11", "attrs", "sniffio"),
        *("aiohttp", "yarl", "multidict"),
    ]
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        f"CPU: {cpu_model()}, {os.cpu_count()} logical cores (nproc)",
        f"OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"Python: {platform.python_implementation()} {sys.version.split()[0]}",
        f"Packages: {', '.join(versions)}",
        f"Load average at the start of the run: {load_average()}",
    ]
