"""Header precedence over real sockets: the SDK's own headers < default_headers < a call's
extra_headers, names compared case-insensitively, so no header is ever sent twice; the
headers the SDK owns for safety (Authorization, Idempotency-Key) are refused."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator, Mapping

import httpx
import pytest
from _fault_server import Behaviour, FaultServer, Received, json_reply, valid_body

import convokit
from convokit import create_async_client, create_client
from convokit.testing import MockServer

KEY = "sk_test_headers_0123"
SDK_USER_AGENT = f"convokit-python/{convokit.__version__}"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def sent(request: Received, name: str) -> list[tuple[str, str]]:
    """Every header line of `request` named `name` in any case, as sent."""
    return [
        (sent_name, value)
        for sent_name, value in request.header_lines
        if sent_name.lower() == name.lower()
    ]


def assert_each_header_once(request: Received) -> None:
    names = [name.lower() for name, _ in request.header_lines]
    assert sorted(names) == sorted(set(names)), request.header_lines


# (default_headers, extra_headers, what must be sent: name as the winner spells it -> value)
PRECEDENCE = {
    "the SDK's own": ({}, {}, {"User-Agent": SDK_USER_AGENT}),
    "default over the SDK's": (
        {"User-Agent": "acme-bot/2.3"},
        {},
        {"User-Agent": "acme-bot/2.3"},
    ),
    "extra over default": (
        {"User-Agent": "acme-bot/2.3", "X-Team": "support"},
        {"User-Agent": "acme-bot/2.3 (batch)"},
        {"User-Agent": "acme-bot/2.3 (batch)", "X-Team": "support"},
    ),
    "extra over the SDK's": (
        {},
        {"X-ConvoKit-Client-Runtime": "edge-worker"},
        {"X-ConvoKit-Client-Runtime": "edge-worker", "User-Agent": SDK_USER_AGENT},
    ),
    "extra over default, in another case": (
        {"X-Bar": "client"},
        {"x-bar": "call"},
        {"x-bar": "call"},
    ),
    "default over the SDK's, in another case": (
        {"user-agent": "acme-bot/2.3"},
        {},
        {"user-agent": "acme-bot/2.3"},
    ),
    "extra over the body's content type, in another case": (
        {},
        {"content-type": "application/vnd.acme+json"},
        {"content-type": "application/vnd.acme+json"},
    ),
}


def assert_precedence(request: Received, expected: Mapping[str, str]) -> None:
    assert_each_header_once(request)
    for name, value in expected.items():
        assert sent(request, name) == [(name, value)]
    replaced = {name.lower() for name in expected}
    # What no layer replaced is the SDK's own, and nothing replaces the key's header.
    if "user-agent" not in replaced:
        assert sent(request, "User-Agent") == [("User-Agent", SDK_USER_AGENT)]
    if "x-convokit-client-runtime" not in replaced:
        ((_, runtime),) = sent(request, "X-ConvoKit-Client-Runtime")
        assert platform.python_implementation() in runtime
        assert platform.python_version() in runtime
    if "content-type" not in replaced:
        assert len(sent(request, "Content-Type")) == 1
    assert sent(request, "Authorization") == [("Authorization", f"Bearer {KEY}")]


@pytest.mark.parametrize(("defaults", "extra", "expected"), PRECEDENCE.values(), ids=PRECEDENCE)
def test_header_precedence(
    server: FaultServer,
    defaults: dict[str, str],
    extra: dict[str, str],
    expected: dict[str, str],
) -> None:
    with create_client(KEY, base_url=server.base_url, default_headers=defaults) as client:
        client.chat(message="Hello", extra_headers=extra)
    (request,) = server.received
    assert_precedence(request, expected)


@pytest.mark.anyio
@pytest.mark.parametrize(("defaults", "extra", "expected"), PRECEDENCE.values(), ids=PRECEDENCE)
async def test_async_header_precedence(
    server: FaultServer,
    defaults: dict[str, str],
    extra: dict[str, str],
    expected: dict[str, str],
    async_backend: str,
) -> None:
    async with create_async_client(
        KEY, base_url=server.base_url, default_headers=defaults, http_backend=async_backend
    ) as client:
        await client.chat(message="Hello", extra_headers=extra)
    (request,) = server.received
    assert_precedence(request, expected)


def test_a_calls_extra_headers_do_not_outlive_it(server: FaultServer) -> None:
    with create_client(
        KEY, base_url=server.base_url, default_headers={"X-Bar": "client"}
    ) as client:
        client.chat(message="one", extra_headers={"x-bar": "call", "User-Agent": "probe"})
        client.chat(message="two")
    first, second = server.received
    assert sent(first, "x-bar") == [("x-bar", "call")]
    assert sent(second, "x-bar") == [("X-Bar", "client")]
    assert sent(second, "user-agent") == [("User-Agent", SDK_USER_AGENT)]


def test_with_options_default_headers_replace_in_any_case_and_keep_the_rest(
    server: FaultServer,
) -> None:
    defaults = {"X-Team": "support", "User-Agent": "acme-bot/2.3"}
    with create_client(KEY, base_url=server.base_url, default_headers=defaults) as client:
        client.with_options(default_headers={"x-team": "sales"}).chat(message="copy")
        client.chat(message="original")
    copy, original = server.received
    for request in (copy, original):
        assert_each_header_once(request)
        assert sent(request, "user-agent") == [("User-Agent", "acme-bot/2.3")]
    assert sent(copy, "x-team") == [("x-team", "sales")]
    assert sent(original, "x-team") == [("X-Team", "support")]


@pytest.mark.parametrize("option", ["default_headers", "extra_headers"])
def test_one_header_twice_in_one_dict_with_two_values_is_refused_before_sending(
    server: FaultServer, option: str
) -> None:
    headers = {"X-Bar": "one", "x-bar": "two"}
    with pytest.raises(ValueError, match="case-insensitive") as refused:
        if option == "default_headers":
            create_client(KEY, base_url=server.base_url, default_headers=headers)
        else:
            with create_client(KEY, base_url=server.base_url) as client:
                client.chat(message="Hello", extra_headers=headers)
    assert "'X-Bar'" in str(refused.value) and "'x-bar'" in str(refused.value)
    assert "one" not in str(refused.value)  # header values may be credentials
    assert server.received == []


def test_one_header_twice_in_one_dict_with_one_value_is_sent_once(server: FaultServer) -> None:
    with create_client(
        KEY, base_url=server.base_url, default_headers={"X-Bar": "same", "x-bar": "same"}
    ) as client:
        client.chat(message="Hello")
    (request,) = server.received
    assert sent(request, "x-bar") == [("X-Bar", "same")]


@pytest.mark.parametrize("name", ["Authorization", "authorization", "IDEMPOTENCY-KEY"])
def test_the_headers_the_sdk_owns_stay_refused_at_every_level(
    server: FaultServer, name: str
) -> None:
    with pytest.raises(ValueError, match="the SDK sets it"):
        create_client(KEY, base_url=server.base_url, default_headers={name: "x"})
    with create_client(KEY, base_url=server.base_url) as client:
        with pytest.raises(ValueError, match="the SDK sets it"):
            client.with_options(default_headers={name: "x"})
        with pytest.raises(ValueError, match="the SDK sets it"):
            client.chat(message="Hello", extra_headers={name: "x"})
    assert server.received == []


def test_mock_server_sees_one_value_per_header() -> None:
    # MockServer joins repeated headers with ", ", as HTTP allows: one value means one line.
    with MockServer(api_key=KEY) as mock:
        with create_client(
            KEY, base_url=mock.base_url, default_headers={"X-Team": "support"}
        ) as client:
            client.chat(message="Hello", extra_headers={"x-team": "sales"})
        (request,) = mock.requests
    assert request.headers["x-team"] == "sales"


def _set_cookie_reply() -> Behaviour:
    return json_reply(200, valid_body(), [("Set-Cookie", "lb=node-7; Path=/")])


def test_the_sdks_own_pool_carries_no_cookie_from_one_call_to_the_next(
    server: FaultServer,
) -> None:
    # A server SDK serves many end users from one client: a cookie set on one call must not
    # ride on another's (the aiohttp backend keeps no cookie jar either).
    server.then(_set_cookie_reply(), _set_cookie_reply())
    with create_client(KEY, base_url=server.base_url) as client:
        client.chat(message="one")
        client.chat(message="two")
    assert [sent(request, "Cookie") for request in server.received] == [[], []]


@pytest.mark.anyio
async def test_the_sdks_own_async_pool_carries_no_cookie_either(
    server: FaultServer, async_backend: str
) -> None:
    server.then(_set_cookie_reply(), _set_cookie_reply())
    async with create_async_client(
        KEY, base_url=server.base_url, http_backend=async_backend
    ) as client:
        await client.chat(message="one")
        await client.chat(message="two")
    assert [sent(request, "Cookie") for request in server.received] == [[], []]


CALLERS_CLIENT = {
    "headers": {"X-Team": "support", "user-agent": "their-app/1.0", "Accept": "application/json"},
    "cookies": {"session": "abc"},
    "params": {"tenant": "t1"},
}


def assert_callers_client_settings_sent(request: Received) -> None:
    """A caller's http_client adds its headers, cookies and query under the SDK's own
    (as httpx's build_request merges them): the SDK's User-Agent wins over theirs."""
    assert_each_header_once(request)
    assert sent(request, "X-Team") == [("X-Team", "support")]
    assert sent(request, "Accept") == [("Accept", "application/json")]
    assert sent(request, "Cookie") == [("Cookie", "session=abc")]
    assert sent(request, "User-Agent") == [("User-Agent", SDK_USER_AGENT)]
    assert request.path == "/v1/chat?tenant=t1"
    assert sent(request, "Authorization") == [("Authorization", f"Bearer {KEY}")]


def test_a_callers_http_client_sends_its_own_headers_cookies_and_query(
    server: FaultServer,
) -> None:
    with httpx.Client(**CALLERS_CLIENT) as http:  # type: ignore[arg-type]
        create_client(KEY, base_url=server.base_url, http_client=http).chat(message="Hello")
    (request,) = server.received
    assert_callers_client_settings_sent(request)


@pytest.mark.anyio
async def test_a_callers_async_http_client_sends_its_own_headers_cookies_and_query(
    server: FaultServer,
) -> None:
    async with httpx.AsyncClient(**CALLERS_CLIENT) as http:  # type: ignore[arg-type]
        client = create_async_client(KEY, base_url=server.base_url, http_client=http)
        await client.chat(message="Hello")
    (request,) = server.received
    assert_callers_client_settings_sent(request)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"headers": {"X-Team": "support", "user-agent": "their-app/1.0", "Host": "api.internal"}},
        {"params": {"tenant": "t1"}},
        {"cookies": {"session": "abc"}},
    ],
    ids=["plain", "their-headers-and-host", "their-query", "their-cookies"],
)
@pytest.mark.parametrize("method", ["POST", "POST without a body", "GET"])
def test_the_sdk_builds_the_request_httpx_would_build(
    settings: dict[str, object], method: str
) -> None:
    """The SDK builds its request itself (httpx's own merge costs more than the SDK's work
    per call): it must be the request `http.build_request()` makes of the same call, to the
    byte, whatever the caller's client carries and whether or not there is a body."""
    from convokit._client import _build_request

    with httpx.Client(**settings) as http:  # type: ignore[arg-type]
        client = create_client(
            KEY, base_url="http://127.0.0.1:9", http_client=http, default_headers={"X-A": "1"}
        )
        history = [{"role": "user", "content": "é"}]
        call = client._chat_call(
            {"message": 'Grüße, 日本 \u2028 "quoted"', "chatHistory": history}, {}
        )
        call.method = method.split()[0]
        if method != "POST":
            call.content = None
        ours = _build_request(http, call)
        theirs = http.build_request(
            call.method,
            call.endpoint,
            params=call.params,
            json=None if call.content is None else json.loads(call.content),
            headers=call.headers,
        )
    assert (ours.method, ours.url, ours.content) == (theirs.method, theirs.url, theirs.content)
    if "cookies" in settings:
        # Cookie joins the headers in httpx's Request after the others, Content-Length too.
        assert sorted(ours.headers.raw) == sorted(theirs.headers.raw)
        assert ours.headers.raw[-1] == (b"Cookie", b"session=abc")
    else:
        assert ours.headers.raw == theirs.headers.raw
