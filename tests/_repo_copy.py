"""A throwaway copy of the repository's source tree that shares the real .venv."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from _spec import ROOT

_COPIED = (
    "openapi.yaml",
    "generator-config.yml",
    "templates",
    "scripts",
    "convokit",
    "convokit_generated",
    "pyproject.toml",
)


# What the suite needs besides: its tests, and the spec lint's configuration.
_FOR_TESTS = ("tests", "redocly.yaml", "package.json", "package-lock.json", "README.md")


def copy_repo(destination: Path, *, with_tests: bool = False) -> Path:
    """Copies what regen.sh and the package need into `destination` (and the tests, to
    run them there); links .venv (and node_modules)."""
    destination.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis")
    for name in _COPIED + (_FOR_TESTS if with_tests else ()):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    (destination / ".venv").symlink_to(ROOT / ".venv")
    if with_tests:
        (destination / "node_modules").symlink_to(ROOT / "node_modules")
    return destination


def run_regen(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(repo / "scripts" / "regen.sh"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
