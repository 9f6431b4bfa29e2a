"""This process's open file descriptors, for leak checks."""

from __future__ import annotations

import os
import time


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def fds_settle_at(most: int, seconds: float = 10.0) -> bool:
    """Whether this process's open descriptors come down to `most` within `seconds`: an
    in-process server's connection threads close their sockets just after the client
    closes its side, not at the same instant."""
    deadline = time.monotonic() + seconds
    while open_fds() > most:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
