"""The end-to-end tests under every other CPython of this machine, from the built wheel.

The full suite runs on the Python of `make test`. Here the end-to-end selection (E2E: the
client against MockServer, sync and async, and every README example) runs again under each
other CPython >= requires-python that scripts/pythons.py finds, each in a fresh venv that
installs the built wheel (not the editable tree) and the pinned test tools from the
wheelhouse, offline. The versions run in parallel; the report says which ran and which of
the classified versions were not found.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _spec import ROOT
from _wheel import build, install_offline, pythons

pytestmark = pytest.mark.slow

E2E = ("tests/test_client.py", "tests/test_readme.py")
# The package must come from the venv's site-packages before pytest imports a test.
_RUN_FROM_WHEEL = (
    "import sys, convokit, pytest;"
    "where = convokit.__file__;"
    "sys.exit(pytest.main(sys.argv[1:]) if where.startswith(sys.prefix) else"
    " f'convokit was imported from {where}, not from the wheel in {sys.prefix}')"
)
_SUMMARY = re.compile(r"^=* ?(\d+ passed.*?) ?=*$", re.MULTILINE)


@dataclasses.dataclass
class Run:
    """How the end-to-end selection went under one interpreter."""

    interpreter: pythons.Interpreter
    returncode: int
    output: str

    @property
    def summary(self) -> str:
        found = _SUMMARY.findall(self.output)
        return found[-1] if found else "no summary"


def _run_e2e(interpreter: pythons.Interpreter, wheel: Path, venv_dir: Path) -> Run:
    subprocess.run(
        [str(interpreter.path), "-m", "venv", "--without-pip", str(venv_dir)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = venv_dir / "bin" / "python"
    install_offline(python, str(wheel), *pythons.e2e_requirements())
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "CONVOKIT_", "VIRTUAL_ENV"))
    }
    result = subprocess.run(
        # -P: the working directory (the repo, with convokit/ in it) is not on sys.path.
        [
            str(python), "-P", "-c", _RUN_FROM_WHEEL,
            # The contract plugin the repo's conftest loads (openapi-core and its tree) is
            # for other tests: the selection does not use it.
            "-q", "-p", "no:_contract", "-p", "no:cacheprovider", *E2E,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    return Run(interpreter, result.returncode, result.stdout)


def test_the_end_to_end_tests_pass_under_every_other_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    others = pythons.other_pythons()
    wheel = build("wheel", tmp_path / "dist")
    # One thread per interpreter: each mostly waits on its own processes.
    with ThreadPoolExecutor(max_workers=max(len(others), 1)) as pool:
        runs = list(
            pool.map(
                lambda interpreter: _run_e2e(
                    interpreter, wheel, tmp_path / f"venv-{interpreter.name}"
                ),
                others,
            )
        )

    current = "{}.{}".format(*pythons.current_version())
    found = {current, *(run.interpreter.name for run in runs)}
    not_found = [
        f"{major}.{minor}"
        for major, minor in pythons.declared_versions()
        if f"{major}.{minor}" not in found
    ]
    lines = [f"Python {current}: the whole suite (this run)"]
    lines += [
        f"Python {run.interpreter.full_version} ({run.interpreter.path}): {run.summary}"
        for run in runs
    ]
    lines += [f"Python {version}: not found" for version in not_found]
    with capsys.disabled():
        print("\nend-to-end tests from the wheel, per Python:\n  " + "\n  ".join(lines))

    failed = [run for run in runs if run.returncode != 0 or " passed" not in run.summary]
    assert not failed, "\n\n".join(
        f"Python {run.interpreter.full_version}:\n{run.output[-6000:]}" for run in failed
    )
