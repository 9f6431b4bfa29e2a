"""Shared fixtures. Tests import helpers from tests/ directly (rootdir on sys.path)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# contract_checked_server: a MockServer whose traffic openapi-core validates (tests/_contract.py).
pytest_plugins = ["_contract"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every `@pytest.mark.anyio` test runs under both of anyio's backends, as the
    async client must (a file whose test needs asyncio itself overrides this)."""
    backend: str = request.param
    return backend


@pytest.fixture(params=["httpx", "aiohttp"])
def async_backend(request: pytest.FixtureRequest) -> str:
    """The async client's `http_backend`: a test that passes it to create_async_client()
    runs on both backends, each under every event loop it supports (aiohttp: asyncio)."""
    backend: str = request.param
    return backend


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """aiohttp runs on asyncio only: with trio it is not a case to run, but one that
    tests/test_aiohttp.py checks is refused."""
    unsupported = [
        item
        for item in items
        if _params(item).get("async_backend") == "aiohttp"
        and _params(item).get("anyio_backend") == "trio"
    ]
    if unsupported:
        config.hook.pytest_deselected(items=unsupported)
        items[:] = [item for item in items if item not in unsupported]


def _params(item: pytest.Item) -> dict[str, object]:
    callspec = getattr(item, "callspec", None)
    return {} if callspec is None else dict(callspec.params)


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key (made by the openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry waits of both clients return at once."""
    from convokit import AsyncClient, Client

    async def async_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(Client, "_sleep", staticmethod(lambda seconds: None))
    monkeypatch.setattr(AsyncClient, "_sleep", staticmethod(async_sleep))


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the clients sleep, recorded instead of slept."""
    from convokit import AsyncClient, Client

    recorded: list[float] = []

    async def async_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(Client, "_sleep", staticmethod(recorded.append))
    monkeypatch.setattr(AsyncClient, "_sleep", staticmethod(async_sleep))
    return recorded
