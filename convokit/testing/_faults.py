"""Fault injection: what ``fail_next()`` and ``drop_next()`` queue for the next requests."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._retry import KEY_REUSED_CODE


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure: the status to answer, and the ``Retry-After`` to send."""

    status: int
    retry_after: int | None

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The extra response headers of the failure."""
        return [] if self.retry_after is None else [("Retry-After", str(self.retry_after))]


class Faults:
    """The queue of injected failures and dropped answers, shared by every connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[Fault] = deque()
        self._drops = 0

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """Queue ``times`` failures with ``status`` (400-599), each with ``retry_after``."""
        if isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError(f"fail_next(status={status}): status must be an HTTP error (400-599)")
        if times < 1:
            raise ValueError(f"fail_next(times={times}): times must be at least 1")
        if retry_after is not None and (isinstance(retry_after, bool) or retry_after < 0):
            raise ValueError(f"fail_next(retry_after={retry_after}): must be seconds >= 0")
        with self._lock:
            self._failures.extend(Fault(status, retry_after) for _ in range(times))

    def drop_next(self, times: int = 1) -> None:
        """Queue ``times`` answers to be processed, then dropped unsent."""
        if times < 1:
            raise ValueError(f"drop_next(times={times}): times must be at least 1")
        with self._lock:
            self._drops += times

    def take(self) -> tuple[Fault | None, bool]:
        """What the next request gets: a failure instead of its answer, or whether its
        answer is dropped (a queued failure is used before a queued drop)."""
        with self._lock:
            if self._failures:
                return self._failures.popleft(), False
            if self._drops:
                self._drops -= 1
                return None, True
            return None, False


def injected_body(examples: Sequence[Any]) -> Any | None:
    """The documented error body an injected failure answers with: the status's first
    example, or None when the spec documents none.

    An injected failure passes (the next request gets through), so of a status's examples
    it skips a conflict that no retry can pass (a reused Idempotency-Key): clients would
    give up where the fault is meant to be retried.
    """
    passing = [example for example in examples if _code(example) != KEY_REUSED_CODE]
    return next(iter(passing or examples), None)


def _code(example: Any) -> Any:
    detail = example.get("error") if isinstance(example, Mapping) else None
    return detail.get("code") if isinstance(detail, Mapping) else None
