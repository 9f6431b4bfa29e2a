"""with_options() keeps every client option it is not given, and changes only those it is.

The options are CLIENT_OPTIONS, not a list retyped here: a new client option makes this
test fail, asking for sample values, until it is covered."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _fault_server import FaultServer

from convokit import AsyncClient, Client, create_async_client, create_client
from convokit import _config as config_module
from convokit._config import ClientConfig
from convokit._options import CLIENT_OPTIONS

KEY = "sk_test_with_options_0123"

Factory = Callable[..., Client | AsyncClient]
FACTORIES: dict[str, Factory] = {"sync": create_client, "async": create_async_client}


@pytest.fixture
def remote_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 stands in for a host on the network: plain http:// to it needs
    allow_insecure=True, as it would to any other host, and no traffic leaves the machine."""
    monkeypatch.setattr(config_module, "is_loopback", lambda host: False)


Samples = dict[str, tuple[Any, Any, Any]]
REFUSED = None
"""The value given to with_options for an option it cannot change (the pool's own)."""


def samples(http_client: httpx.Client | httpx.AsyncClient) -> Samples:
    """Per client option: (value the client is made with, value given to with_options or
    REFUSED, what the copy must then hold as if created with it)."""
    return {
        "api_key": (KEY, "sk_live_other_4567", "sk_live_other_4567"),
        # The copy's plain http:// base URL is allowed only if allow_insecure was kept.
        "base_url": ("https://127.0.0.1:8443", "http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        "timeout": (12.5, httpx.Timeout(30.0, connect=2.0), httpx.Timeout(30.0, connect=2.0)),
        "total_timeout": (20.0, 45.0, 45.0),
        "max_retries": (4, 0, 0),
        # with_options adds to the default headers (tests/test_headers.py: and replaces
        # a name given again, in any case).
        "default_headers": (
            {"X-Team": "support"},
            {"X-Region": "eu"},
            {"X-Team": "support", "X-Region": "eu"},
        ),
        # The pool's own options: every copy shares the pool, so they cannot change.
        "http_client": (http_client, REFUSED, http_client),
        "proxy": ("http://127.0.0.1:3128", REFUSED, "http://127.0.0.1:3128"),
        # "httpx", the one backend both clients (and a caller's http_client) take.
        "http_backend": ("httpx", REFUSED, "httpx"),
        "allow_insecure": (True, False, False),
    }


# A caller's own http_client replaces the pool that proxy= would configure, so a client
# takes one of the two: each test runs once with each, leaving the other out.
POOLS = {"the SDK's pool with a proxy": "http_client", "the caller's http_client": "proxy"}


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=POOLS.values(), ids=list(POOLS))
def left_out(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def table(kind: str) -> Iterator[Samples]:
    http_client = httpx.Client() if kind == "sync" else httpx.AsyncClient()
    yield samples(http_client)
    if isinstance(http_client, httpx.Client):
        http_client.close()
    # An unused AsyncClient holds no connection: dropping it releases nothing more.


def effective(client: Client | AsyncClient, option: str) -> Any:
    """What `client` holds for `option`, in a form that compares by value."""
    if option == "http_client":
        return client._pool.http if not client._pool.owned else "the SDK's own"
    if option not in ClientConfig._fields:
        pytest.fail(f"tell effective() where a client keeps its {option!r} option")
    value = getattr(client._config, option)
    if isinstance(value, httpx.Proxy):  # which compares by identity
        return (value.url, value.auth, value.headers)
    return value


def sample_for(table: Samples, option: str) -> tuple[Any, Any, Any]:
    if option not in table:
        pytest.fail(
            f"CLIENT_OPTIONS has {option!r}, which this test has no sample values for: "
            f"add them to samples() so with_options() is checked to keep and change it"
        )
    return table[option]


def made_with(table: Samples, left_out: str, changed: str | None = None) -> dict[str, Any]:
    """Options for a client with every option but `left_out` set (to its first sample
    value, or `changed` to its expected value)."""
    options = {
        option: sample_for(table, option)[0] for option in CLIENT_OPTIONS if option != left_out
    }
    if changed is not None:
        options[changed] = sample_for(table, changed)[2]
    return options


@pytest.mark.usefixtures("remote_loopback")
@pytest.mark.parametrize("option", CLIENT_OPTIONS)
def test_with_options_changes_only_the_option_given(
    kind: str, table: Samples, left_out: str, option: str
) -> None:
    create = FACTORIES[kind]
    client = create(**made_with(table, left_out))
    new_value = sample_for(table, option)[1]
    if new_value is REFUSED:
        with pytest.raises(TypeError, match=f"cannot change {option}"):
            client.with_options(**{option: sample_for(table, option)[0]})
        copy = client.with_options()
        assert copy._pool is client._pool
        expected = client
    else:
        copy = client.with_options(**{option: new_value})
        expected = create(**made_with(table, left_out, changed=option))
        assert effective(copy, option) != effective(client, option)
    for other in CLIENT_OPTIONS:
        if other not in (option, left_out):
            assert effective(copy, other) == effective(client, other), other
    for every in CLIENT_OPTIONS:
        assert effective(copy, every) == effective(expected, every), every


@pytest.mark.usefixtures("remote_loopback")
def test_every_option_survives_a_chain_of_copies(kind: str, table: Samples, left_out: str) -> None:
    client = FACTORIES[kind](**made_with(table, left_out))
    copy = client.with_options().with_options(maxRetries=4).with_options()
    for option in CLIENT_OPTIONS:
        assert effective(copy, option) == effective(client, option), option


@pytest.fixture
def servers() -> Iterator[tuple[FaultServer, FaultServer]]:
    with FaultServer() as first, FaultServer() as second:
        yield first, second


@pytest.mark.usefixtures("remote_loopback")
def test_an_insecure_client_moved_to_another_host_stays_insecure(
    servers: tuple[FaultServer, FaultServer],
) -> None:
    # The case: create_client(base_url="http://convokit.internal:8080",
    # allow_insecure=True).with_options(base_url="http://other.internal:8080") raised.
    first, second = servers
    with create_client(KEY, base_url=first.base_url, allow_insecure=True) as client:
        moved = client.with_options(base_url=second.base_url)
        assert moved.chat(message="Hello").reply
        assert client.chat(message="Hello").reply
        with pytest.raises(ValueError, match="allow_insecure"):
            moved.with_options(allow_insecure=False)
    assert len(first.received) == len(second.received) == 1


@pytest.mark.usefixtures("remote_loopback")
@pytest.mark.anyio
async def test_async_an_insecure_client_moved_to_another_host_stays_insecure(
    servers: tuple[FaultServer, FaultServer],
    async_backend: str,
) -> None:
    first, second = servers
    async with create_async_client(
        KEY, base_url=first.base_url, allowInsecure=True, http_backend=async_backend
    ) as client:
        moved = client.with_options(baseUrl=second.base_url)
        assert (await moved.chat(message="Hello")).reply
    assert (len(first.received), len(second.received)) == (0, 1)


@pytest.mark.usefixtures("remote_loopback")
def test_plain_http_to_another_host_still_needs_allow_insecure() -> None:
    secure = create_client(KEY, base_url="https://127.0.0.1:8443")
    with pytest.raises(ValueError, match="allow_insecure"):
        secure.with_options(base_url="http://127.0.0.1:8080")
    allowed = secure.with_options(base_url="http://127.0.0.1:8080", allow_insecure=True)
    assert allowed.base_url == "http://127.0.0.1:8080"
