"""The pytest plugin: the ``convokit_mock`` fixture, a running MockServer your unchanged app
code reaches.

Installed with the package as a pytest plugin (the ``pytest11`` entry point), so a test
only names the fixture::

    def test_support_hours(convokit_mock):
        assert "support hours" in my_app.answer("What are your support hours?")
        assert convokit_mock.requests[0].body["message"] == "What are your support hours?"

For that test only, ``CONVOKIT_BASE_URL`` points at the mock and ``CONVOKIT_SECRET_KEY``
holds its key, so ``create_client()`` / ``create_async_client()`` with no arguments
talk to it. MockServer's options come from the ``convokit_mock`` marker
(``@pytest.mark.convokit_mock(api_key=..., responder=..., log=...)``), over those of
the ``convokit_mock_options`` fixture, which a ``conftest.py`` may override for a
whole directory. pytest loads this module; ``import convokit`` never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import MockServer

__all__ = ["convokit_mock", "convokit_mock_options"]

MARKER = "convokit_mock"


def pytest_configure(config: pytest.Config) -> None:
    """Registers the marker, so that --strict-markers accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(api_key=None, responder=None, log=None): options of the MockServer "
        "that the convokit_mock fixture runs for this test",
    )


@pytest.fixture
def convokit_mock_options() -> dict[str, Any]:
    """MockServer keyword options for ``convokit_mock`` (default: none). Override this
    fixture in a ``conftest.py`` to give every test below it, say, a responder."""
    return {}


@pytest.fixture
def convokit_mock(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    convokit_mock_options: dict[str, Any],
) -> Iterator[MockServer]:
    """A running MockServer on 127.0.0.1, with CONVOKIT_BASE_URL and CONVOKIT_SECRET_KEY
    pointing at it for this test only (restored afterwards)."""
    # Imported here, not at the top: pytest loads every installed plugin at start-up,
    # and a suite that never asks for the fixture should not pay for the mock.
    from ._config import API_KEY_ENV, BASE_URL_ENV
    from .testing import TEST_KEY, MockServer

    options = dict(convokit_mock_options)
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        # The closest marker (the test's own) wins over a class's or a module's.
        if marker.args:
            pytest.fail(
                f"@pytest.mark.{MARKER} takes keyword options only "
                "(api_key=..., responder=..., log=...)",
                pytrace=False,
            )
        options.update(marker.kwargs)
    try:
        server = MockServer(**options)
    except (TypeError, ValueError) as error:
        pytest.fail(f"{MARKER} options: {error}", pytrace=False)
    with server:
        monkeypatch.setenv(BASE_URL_ENV, server.base_url)
        monkeypatch.setenv(API_KEY_ENV, options.get("api_key") or TEST_KEY)
        yield server
