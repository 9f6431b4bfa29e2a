"""The built wheel, fresh venvs that install it offline, and scripts/pythons.py, for the tests
that check what users install (test_packaging.py, test_python_versions.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from _spec import ROOT

WHEELHOUSE = ROOT / ".venv" / "wheelhouse"


def _load_pythons() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pythons", ROOT / "scripts" / "pythons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pythons"] = module  # dataclasses resolves the module's annotations through it
    spec.loader.exec_module(module)
    return module


pythons = _load_pythons()
"""scripts/pythons.py: the other CPythons of this machine and what their venvs install."""


def build(kind: str, out: Path) -> Path:
    """Builds the `wheel` or `sdist` of the working tree into `out`; returns its path."""
    subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("convokit_server-*.whl" if kind == "wheel" else "convokit_server-*.tar.gz")
    return built


def install_offline(python: Path, *requirements: str) -> None:
    """pip-installs `requirements` for the venv of `python` from the wheelhouse alone."""
    if not WHEELHOUSE.is_dir():
        raise AssertionError(
            f"{WHEELHOUSE} is missing: `make test` builds it when it creates .venv"
        )
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
            "--disable-pip-version-check", "--no-compile",
            "--no-index", "--find-links", str(WHEELHOUSE), *requirements,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    # A wheel the wheelhouse lacks (a Python version added since .venv was made) is
    # fetched by remaking the venv's stamp, which downloads for every version found.
    assert result.returncode == 0, (
        f"offline install into {python} failed; `rm .venv/.installed && make test` refills "
        f"the wheelhouse:\n{result.stderr}"
    )
