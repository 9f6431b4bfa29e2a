"""convokit._retry as pure functions: what is retried and how long to wait."""

from __future__ import annotations

import email.utils
import random

import httpx
import pytest
from _spec import documented_errors
from hypothesis import given
from hypothesis import strategies as st

from convokit import _retry
from convokit._retry import (
    KEY_REUSED_CODE,
    backoff_seconds,
    is_retryable_exception,
    is_retryable_status,
    random_jitter,
    retry_after_seconds,
    wait_seconds,
)

NOW = 1_700_000_000.0
REQUEST = httpx.Request("POST", "https://api.convokit.dev/v1/chat")


def test_the_documented_constants() -> None:
    assert _retry.DEFAULT_MAX_RETRIES == 2
    assert _retry.MAX_RETRY_AFTER_SECONDS == 60


@pytest.mark.parametrize("status", range(100, 600))
def test_retried_statuses_are_408_429_5xx_and_409_unless_the_key_was_reused(status: int) -> None:
    retried = status in (408, 409, 429) or status >= 500
    assert is_retryable_status(status) is retried  # a body without an error code
    for code in ("idempotency_key_in_use", KEY_REUSED_CODE, "a_code_added_later", ""):
        # Only the reused-key conflict is final; an unknown 409 code is retried as before.
        final_conflict = status == 409 and code == KEY_REUSED_CODE
        assert is_retryable_status(status, code) is (retried and not final_conflict), code


def test_the_409_code_not_retried_is_one_openapi_yaml_documents() -> None:
    codes = {error.get("code") for error in documented_errors(409)}
    assert KEY_REUSED_CODE in codes
    # The spec's other 409 codes say "retry with the same key": the policy does.
    others = codes - {KEY_REUSED_CODE}
    assert others, "openapi.yaml documents a 409 that may be retried"
    assert all(is_retryable_status(409, code) for code in others)


@pytest.mark.parametrize(
    "error_class",
    [
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.PoolTimeout,
        httpx.ReadError,
        httpx.WriteError,
        httpx.CloseError,
        httpx.RemoteProtocolError,
    ],
)
def test_connection_failures_and_timeouts_are_retried(
    error_class: type[httpx.RequestError],
) -> None:
    assert is_retryable_exception(error_class("boom", request=REQUEST))


@pytest.mark.parametrize(
    "error_class",
    [httpx.UnsupportedProtocol, httpx.ProxyError, httpx.LocalProtocolError, httpx.DecodingError],
)
def test_failures_a_retry_cannot_fix_are_not_retried(error_class: type[httpx.RequestError]) -> None:
    assert not is_retryable_exception(error_class("boom", request=REQUEST))


@pytest.mark.parametrize(
    ("retry_number", "expected"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (30, 8.0), (2000, 8.0)],
)
def test_backoff_doubles_from_half_a_second_up_to_eight(retry_number: int, expected: float) -> None:
    assert backoff_seconds(retry_number, 1.0) == expected
    assert backoff_seconds(retry_number, 0.75) == expected * 0.75


def test_jitter_stays_in_its_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "random", lambda: 0.0)
    assert random_jitter() == 0.75
    monkeypatch.setattr(random, "random", lambda: 0.9999999999)
    assert 0.9999 < random_jitter() <= 1.0
    monkeypatch.undo()
    samples = [random_jitter() for _ in range(2000)]
    assert all(0.75 <= sample <= 1.0 for sample in samples)
    assert len(set(samples)) > 1000  # it is random, not a constant


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"retry_after": "3"}, 3.0),
        ({"retry_after": " 3 "}, 3.0),
        ({"retry_after": "0.25"}, 0.25),
        ({"retry_after": "60"}, 60.0),
        ({"retry_after_ms": "1500"}, 1.5),
        ({"retry_after_ms": "1"}, 0.001),
        ({"retry_after_ms": "60000"}, 60.0),
        # retry-after-ms is the more precise of the two and wins.
        ({"retry_after_ms": "250", "retry_after": "7"}, 0.25),
        # An unusable retry-after-ms falls back to Retry-After.
        ({"retry_after_ms": "soon", "retry_after": "7"}, 7.0),
    ],
)
def test_retry_after_is_read_from_both_headers(given: dict[str, str], expected: float) -> None:
    assert retry_after_seconds(headers(**given), now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"retry_after": "0"},
        {"retry_after": "-5"},
        {"retry_after": "60.5"},
        {"retry_after": "3600"},
        {"retry_after": "nan"},
        {"retry_after": "inf"},
        {"retry_after": "soon"},
        {"retry_after": ""},
        {"retry_after_ms": "0"},
        {"retry_after_ms": "-1"},
        {"retry_after_ms": "60001"},
        {"retry_after_ms": "nan"},
        {"retry_after_ms": "infinity"},
        {"retry_after_ms": "x", "retry_after": "y"},
    ],
)
def test_retry_after_outside_0_to_60_seconds_or_unparsable_is_ignored(
    given: dict[str, str],
) -> None:
    assert retry_after_seconds(headers(**given), now=NOW) is None


def test_retry_after_as_an_http_date() -> None:
    in_thirty_seconds = email.utils.formatdate(NOW + 30, usegmt=True)
    assert retry_after_seconds(headers(retry_after=in_thirty_seconds), now=NOW) == 30.0
    in_two_minutes = email.utils.formatdate(NOW + 120, usegmt=True)
    assert retry_after_seconds(headers(retry_after=in_two_minutes), now=NOW) is None
    a_minute_ago = email.utils.formatdate(NOW - 60, usegmt=True)
    assert retry_after_seconds(headers(retry_after=a_minute_ago), now=NOW) is None
    assert (
        retry_after_seconds(headers(retry_after="Wed, 99 Foo 2015 07:28:00 GMT"), now=NOW) is None
    )


def test_wait_is_the_servers_retry_after_when_usable_else_the_backoff() -> None:
    assert wait_seconds(0, headers(retry_after="4"), 1.0, now=NOW) == 4.0
    assert wait_seconds(3, headers(retry_after_ms="20"), 1.0, now=NOW) == 0.02
    assert wait_seconds(1, headers(retry_after="120"), 0.8, now=NOW) == pytest.approx(0.8)
    assert wait_seconds(2, headers(), 1.0, now=NOW) == 2.0
    assert wait_seconds(2, None, 0.75, now=NOW) == 1.5


@given(
    retry_number=st.integers(min_value=0, max_value=10_000),
    jitter=st.floats(min_value=0.75, max_value=1.0),
    retry_after=st.none()
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
    | st.floats(allow_nan=True).map(str),
)
def test_every_wait_is_positive_and_at_most_a_minute(
    retry_number: int, jitter: float, retry_after: str | None
) -> None:
    given = httpx.Headers() if retry_after is None else headers(retry_after=retry_after)
    wait = wait_seconds(retry_number, given, jitter, now=NOW)
    assert 0 < wait <= 60
    if retry_after_seconds(given, now=NOW) is None:
        assert 0.375 <= wait <= 8
