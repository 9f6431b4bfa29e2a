"""README's Requirements line and the Makefile's tool checks say the same versions, and a
missing tool stops `make test` with a message that says what to install."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from _spec import ROOT

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _requirements_paragraph() -> str:
    match = re.search(r"^Requirements: (.+?)\n\n", README, re.DOTALL | re.MULTILINE)
    assert match, "README has no 'Requirements:' paragraph"
    # It sits right under the two commands at the top.
    assert README.index("make test") < match.start() < README.index("\n## ")
    return " ".join(match[1].split())


def _minimum(pattern: str, text: str) -> str:
    found = set(re.findall(pattern, text))
    assert len(found) == 1, f"{pattern!r}: {found}"
    return found.pop()


def test_readme_names_the_versions_the_makefile_checks() -> None:
    requirements = _requirements_paragraph()
    with (ROOT / "pyproject.toml").open("rb") as file:
        requires_python = tomllib.load(file)["project"]["requires-python"]
    python = requires_python.removeprefix(">=")
    assert f"Python {python}+" in requirements
    major, minor = python.split(".")
    assert f"sys.version_info >= ({major}, {minor})" in MAKEFILE
    assert f"Python {python}+" in MAKEFILE
    node = _minimum(r"Node\.js (\d+)\+", MAKEFILE)
    assert f"Node.js {node}+" in requirements and "npm" in requirements
    assert f">= {node} ?" in MAKEFILE  # the version check itself, not only its message
    java = _minimum(r"Java (\d+)\+", MAKEFILE)
    assert f"Java {java}+" in requirements
    assert f"-ge {java} ]" in MAKEFILE
    for optional in ("Chromium", "Go"):
        assert re.search(rf"{optional} \(without it [^)]+\)", requirements), optional


def test_make_test_stops_with_a_clear_message_without_java(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is missing")
    # A PATH with a shell and sed but no java.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "sed"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)

    result = subprocess.run(
        [make, "--no-print-directory", "require-java"],
        cwd=ROOT,
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode != 0
    java = _minimum(r"Java (\d+)\+", MAKEFILE)
    assert f"Java {java}+ is needed" in result.stderr
    assert "install it" in result.stderr and "no java" in result.stderr


def test_make_test_checks_java() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert "java -XshowSettings:properties -version" in dry_run.stdout
