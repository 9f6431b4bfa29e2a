"""What users install is what we test: build the wheel, install it in a fresh venv, import it."""

from __future__ import annotations

import email.parser
import email.policy
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest
from _spec import ROOT, spec
from _wheel import build, install_offline, pythons

pytestmark = pytest.mark.slow

LICENSE = ROOT / "LICENSE"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("wheel", tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("sdist", tmp_path_factory.mktemp("sdist"))


@pytest.fixture(scope="module")
def metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return email.parser.Parser(policy=email.policy.compat32).parsestr(text)


def test_wheel_holds_both_packages_typed_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("convokit_server-")}
    assert packages == {"convokit", "convokit_generated"}
    assert "convokit/py.typed" in names
    assert "convokit_generated/py.typed" in names
    assert "convokit_generated/api/chat/create_chat.py" in names
    assert not [n for n in names if "test_" in n or n.startswith("tests/") or "conftest" in n]
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    )
    requires = sorted(
        line.split(":", 1)[1].strip().split(" ")[0].split(">")[0].split("<")[0].split("=")[0]
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    )
    assert requires == ["attrs", "httpx"]


def test_wheel_installs_and_imports_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    install_offline(python, str(wheel))
    probe = (
        "import convokit, convokit_generated, pathlib, sys;"
        "from convokit_generated.api.chat import create_chat;"
        "assert 'site-packages' in convokit.__file__, convokit.__file__;"
        "assert (pathlib.Path(convokit.__file__).parent / 'py.typed').exists();"
        "assert (pathlib.Path(convokit_generated.__file__).parent / 'py.typed').exists();"
        "print(convokit.__version__)"
    )
    result = subprocess.run(
        [str(python), "-I", "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    from convokit import __version__

    assert result.stdout.strip() == __version__


def test_the_license_is_in_the_repository_the_wheel_and_the_sdist(
    wheel: Path, sdist: Path, metadata: Message
) -> None:
    text = LICENSE.read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    with zipfile.ZipFile(wheel) as archive:
        (in_wheel,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(in_wheel).decode() == text
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/LICENSE")
        assert member is not None
        assert member.read().decode() == text
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_the_metadata_names_the_website_and_the_api(metadata: Message) -> None:
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL", []))
    assert urls["Homepage"] == "https://convokit.dev"
    assert urls["API"] == spec()["servers"][0]["url"]


def test_the_example_web_stack_is_its_own_extra_not_a_dev_tool(metadata: Message) -> None:
    extras: dict[str, set[str]] = {}
    for requirement in metadata.get_all("Requires-Dist", []):
        if match := re.match(r"([A-Za-z0-9_.-]+).*; extra == '([a-z]+)'", requirement):
            extras.setdefault(match[2], set()).add(match[1].lower())
    web_stack = {"fastapi", "starlette", "uvicorn", "itsdangerous"}
    assert extras["examples"] == web_stack
    assert not extras["dev"] & web_stack
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-e '.[dev,examples]'" in makefile


def test_aiohttp_is_an_optional_extra_that_the_default_install_does_not_need(
    metadata: Message,
) -> None:
    needs: dict[str, set[str]] = {}
    for requirement in metadata.get_all("Requires-Dist", []):
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name is not None
        extra = re.search(r"extra == '([a-z]+)'", requirement)
        needs.setdefault(extra[1] if extra else "", set()).add(name[0].lower())
    assert "aiohttp" in needs["aiohttp"]
    assert "aiohttp" not in needs[""]
    assert "aiohttp" in needs["dev"]  # so make test runs the backend's tests


def test_the_classifiers_name_exactly_the_pythons_the_suite_runs_on(metadata: Message) -> None:
    declared = {
        f"{match[1]}.{match[2]}"
        for classifier in metadata.get_all("Classifier", [])
        if (match := re.fullmatch(r"Programming Language :: Python :: (\d+)\.(\d+)", classifier))
    }
    # The full suite runs on this Python; the end-to-end tests on every other one found
    # (tests/test_python_versions.py).
    runs_on = {"{}.{}".format(*sys.version_info[:2])}
    runs_on |= {interpreter.name for interpreter in pythons.other_pythons()}
    assert runs_on <= declared, f"the suite runs on {sorted(runs_on - declared)}: classify them"
    not_found = declared - runs_on
    if not_found and os.environ.get("CI") != "true":
        pytest.skip(
            f"no CPython {', '.join(sorted(not_found))} on this machine to run the suite on"
        )
    assert declared == runs_on, f"CI has no CPython {sorted(not_found)}: install it (pyenv)"
    oldest = min(declared, key=lambda version: tuple(map(int, version.split("."))))
    assert metadata["Requires-Python"] == f">={oldest}"
