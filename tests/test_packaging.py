"""What users install is what we test: build the wheel, install it in a fresh venv, import it."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from _spec import ROOT

pytestmark = pytest.mark.slow

WHEELHOUSE = ROOT / ".venv" / "wheelhouse"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("convokit_server-*.whl")
    return built


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
    if not WHEELHOUSE.is_dir():
        pytest.fail(f"{WHEELHOUSE} is missing: `make test` builds it when it creates .venv")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            str(WHEELHOUSE),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
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
