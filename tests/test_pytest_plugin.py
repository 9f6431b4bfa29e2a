"""The convokit_mock pytest fixture, as users get it: from the installed wheel, in their suite.

The main test installs the built wheel (and pytest) into a fresh venv offline and runs
a user-style project there: application code that calls create_client() with no
arguments, and tests that only name the fixture, set options with the marker, or
override convokit_mock_options in a conftest.py. The shorter tests use the plugin as
this repository's editable install registers it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import venv
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _wheel import WHEELHOUSE
from test_packaging import wheel

from convokit import AuthenticationError, create_client
from convokit.testing import TEST_KEY, MockServer

__all__ = ["wheel"]  # the built-wheel fixture, shared with the packaging tests

PLUGIN = "convokit.plugin"


def test_importing_convokit_never_imports_pytest() -> None:
    code = (
        "import sys, convokit, convokit.testing\n"
        "print([name for name in sys.modules if name.split('.')[0] in "
        "('pytest', '_pytest', 'pluggy') or name == 'convokit.plugin'])"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_plugin_is_a_pytest11_entry_point() -> None:
    plugins = {point.name: point.value for point in entry_points(group="pytest11")}
    assert plugins.get("convokit") == PLUGIN


def test_the_fixture_points_create_client_at_a_running_mock(convokit_mock: MockServer) -> None:
    assert isinstance(convokit_mock, MockServer)
    assert os.environ["CONVOKIT_BASE_URL"] == convokit_mock.base_url
    assert os.environ["CONVOKIT_SECRET_KEY"] == TEST_KEY
    res = create_client().chat(message="Hi")
    assert res.conversation_id in convokit_mock.conversations
    assert [request.body for request in convokit_mock.requests] == [{"message": "Hi"}]


@pytest.mark.convokit_mock(api_key="sk_test_marker_key", responder=lambda messages: "marked")
def test_the_marker_sets_the_key_and_the_responder(convokit_mock: MockServer) -> None:
    assert os.environ["CONVOKIT_SECRET_KEY"] == "sk_test_marker_key"
    assert create_client().chat(message="Hi").reply == "marked"
    with pytest.raises(AuthenticationError):
        create_client("sk_test_another_key", max_retries=0).chat(message="Hi")


APP = '''
"""The application under test; it knows nothing about tests."""
from convokit import create_async_client, create_client


def answer(question):
    return create_client().chat(message=question).reply


async def answer_async(question):
    async with create_async_client() as client:
        return (await client.chat(message=question)).reply
'''

USER_TESTS = """
import asyncio
import os

import pytest

import app
import convokit
from convokit.testing import MockServer


def test_the_app_reaches_the_mock_unchanged(convokit_mock):
    assert "site-packages" in convokit.__file__
    assert isinstance(convokit_mock, MockServer)
    assert os.environ["CONVOKIT_BASE_URL"] == convokit_mock.base_url
    assert app.answer("Hi") == 'You said: "Hi" (turn 1 of this conversation)'
    assert [request.body for request in convokit_mock.requests] == [{"message": "Hi"}]


def test_the_async_client_too(convokit_mock):
    assert asyncio.run(app.answer_async("Hello")).startswith('You said: "Hello"')
    assert len(convokit_mock.conversations) == 1


@pytest.mark.convokit_mock(api_key="sk_test_only_this", responder=lambda messages: "custom")
def test_the_marker_sets_the_key_and_the_responder(convokit_mock):
    assert os.environ["CONVOKIT_SECRET_KEY"] == "sk_test_only_this"
    assert app.answer("Hi") == "custom"
    with pytest.raises(convokit.AuthenticationError):
        convokit.create_client("sk_test_another", max_retries=0).chat(message="Hi")


def test_each_test_gets_a_new_mock(convokit_mock):
    assert convokit_mock.requests == []
    convokit_mock.fail_next(401)
    with pytest.raises(convokit.AuthenticationError):
        app.answer("Hi")


def test_after_the_fixture_the_environment_is_restored():
    assert "CONVOKIT_BASE_URL" not in os.environ
    assert "CONVOKIT_SECRET_KEY" not in os.environ
"""

OVERRIDE_CONFTEST = """
import pytest


@pytest.fixture
def convokit_mock_options():
    return {"responder": lambda messages: "from conftest"}
"""

OVERRIDE_TESTS = """
import pytest

import app


def test_the_conftest_options_apply(convokit_mock):
    assert app.answer("Hi") == "from conftest"


@pytest.mark.convokit_mock(responder=lambda messages: "from the marker")
def test_the_marker_wins_over_the_conftest(convokit_mock):
    assert app.answer("Hi") == "from the marker"
"""


def _user_project(root: Path) -> int:
    """Writes the user-style project; returns how many tests it holds."""
    files = {
        "pytest.ini": "[pytest]\npythonpath = .\naddopts = --strict-markers -p no:cacheprovider\n",
        "app.py": APP,
        "tests/test_app.py": USER_TESTS,
        "tests/options/conftest.py": OVERRIDE_CONFTEST,
        "tests/options/test_options.py": OVERRIDE_TESTS,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return sum(text.count("\ndef test_") for text in files.values())


@pytest.mark.slow
def test_the_fixture_works_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    entry_points_txt = next(
        name
        for name in zipfile.ZipFile(wheel).namelist()
        if name.endswith(".dist-info/entry_points.txt")
    )
    declared = zipfile.ZipFile(wheel).read(entry_points_txt).decode()
    assert re.search(rf"^\[pytest11\]\nconvokit = {re.escape(PLUGIN)}$", declared, re.MULTILINE)

    if not list(WHEELHOUSE.glob("pytest-*.whl")):
        pytest.fail(
            f"{WHEELHOUSE} has no pytest wheel: it predates the Makefile line that adds it; "
            "rebuild it with `rm .venv/.installed && make .venv/.installed`"
        )
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    offline = ["--disable-pip-version-check", "--no-index", "--find-links", str(WHEELHOUSE)]
    subprocess.run([*pip, *offline, str(wheel), "pytest"], check=True, timeout=300)

    project = tmp_path / "project"
    expected = _user_project(project)
    # Nothing of this machine's CONVOKIT_* or PYTEST_* settings reaches the user's run.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    markers = subprocess.run(
        [str(python), "-I", "-m", "pytest", "--markers"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "@pytest.mark.convokit_mock(" in markers.stdout, markers.stdout + markers.stderr
    result = subprocess.run(
        [str(python), "-I", "-m", "pytest", "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.match(rf"{expected} passed\b", summary), result.stdout
