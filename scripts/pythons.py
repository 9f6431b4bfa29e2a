"""The other CPythons of this machine the suite runs on, and the wheels they need offline.

    scripts/pythons.py list             the other CPythons found, one "VERSION PATH" a line
    scripts/pythons.py wheelhouse DIR   download into DIR, for every Python version the
                                        package declares or the machine has, the wheels
                                        of the end-to-end requirements (`make` runs this)

"Other" means other than the Python running this script (the one `make test` uses).
Candidates are `python3.N` on PATH and pyenv's `versions/*/bin/python3`; each is run
once to learn what it is, so pyenv shims for versions that are not selected (which
exit with an error) drop out. Free-threaded builds and other implementations are not
candidates. The supported versions are pyproject.toml's classifiers, the minimum is
its requires-python: nothing here restates either.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"

# What the end-to-end tests import besides the package: pinned by name from the dev extra.
E2E_TOOLS = ("pytest", "pytest-timeout", "trio", "PyYAML", "jsonschema", "aiohttp")

_CLASSIFIER = re.compile(r"Programming Language :: Python :: (\d+)\.(\d+)$")
_MINIMUM = re.compile(r">=\s*(\d+)\.(\d+)")
_VERSIONED_NAME = re.compile(r"python(\d+)\.(\d+)$")
_PROBE = (
    "import sys, sysconfig;"
    "print(sys.implementation.name, sys.version.split()[0],"
    " int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))"
)

Version = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Interpreter:
    """A CPython found on this machine."""

    version: Version
    full_version: str
    path: Path

    @property
    def name(self) -> str:
        """`3.12`, as classifiers and pip's `--python-version` spell it."""
        return f"{self.version[0]}.{self.version[1]}"


def _project() -> dict[str, object]:
    with PYPROJECT.open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def declared_versions() -> list[Version]:
    """The `Programming Language :: Python :: X.Y` classifiers of pyproject.toml."""
    classifiers = _project()["classifiers"]
    assert isinstance(classifiers, list)
    found = (_CLASSIFIER.match(classifier) for classifier in classifiers)
    return sorted((int(match[1]), int(match[2])) for match in found if match)


def minimum_version() -> Version:
    """The lower bound of pyproject.toml's requires-python."""
    match = _MINIMUM.search(str(_project()["requires-python"]))
    assert match, "requires-python has no >= bound"
    return int(match[1]), int(match[2])


def current_version() -> Version:
    """The version of the Python running this code."""
    return sys.version_info[0], sys.version_info[1]


def e2e_requirements() -> list[str]:
    """The package's dependencies and the dev extra's pins of E2E_TOOLS."""
    project = _project()
    dependencies = project["dependencies"]
    extras = project["optional-dependencies"]
    assert isinstance(dependencies, list) and isinstance(extras, dict)
    wanted = {name.lower() for name in E2E_TOOLS}
    pins = [pin for pin in extras["dev"] if re.split(r"[=<>!~\[; ]", pin)[0].lower() in wanted]
    assert len(pins) == len(wanted), f"the dev extra pins only {pins} of {E2E_TOOLS}"
    return [*dependencies, *pins]


def _pyenv_root() -> Path | None:
    if root := os.environ.get("PYENV_ROOT"):
        return Path(root)
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    result = subprocess.run(
        [pyenv, "root"], capture_output=True, text=True, timeout=30, check=False
    )
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def _candidates() -> Iterator[Path]:
    pyenv_root = _pyenv_root()
    # pyenv's shims each start a shell to pick a version; its versions are read directly.
    shims = pyenv_root / "shims" if pyenv_root is not None else None
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir() or Path(directory) == shims:
            continue
        for entry in sorted(Path(directory).iterdir()):
            if _VERSIONED_NAME.match(entry.name) and os.access(entry, os.X_OK):
                yield entry
    if pyenv_root is not None:
        yield from sorted(pyenv_root.glob("versions/*/bin/python3"))


def _probe(path: Path) -> Interpreter | None:
    try:
        result = subprocess.run(
            [str(path), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 3 or fields[0] != "cpython" or fields[2] != "0":
        return None
    major, minor = (int(part) for part in fields[1].split(".")[:2])
    return Interpreter((major, minor), fields[1], path)


def other_pythons() -> list[Interpreter]:
    """One CPython per version >= requires-python, other than the current one, oldest first."""
    excluded = {current_version()}
    minimum = minimum_version()
    found: dict[Version, Interpreter] = {}
    seen: set[Path] = set()
    for candidate in _candidates():
        if candidate.resolve() in seen:
            continue
        seen.add(candidate.resolve())
        interpreter = _probe(candidate)
        if interpreter is None or interpreter.version < minimum:
            continue
        if interpreter.version not in excluded and interpreter.version not in found:
            found[interpreter.version] = interpreter
    return [found[version] for version in sorted(found)]


def download_wheelhouse(directory: Path) -> None:
    """Puts into `directory` the wheels the end-to-end venvs install, for each other version."""
    versions = {f"{major}.{minor}" for major, minor in declared_versions()}
    versions |= {interpreter.name for interpreter in other_pythons()}
    versions.discard("{}.{}".format(*current_version()))
    for version in sorted(versions):
        # Binary wheels only: pip must choose them for a Python it is not running on.
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--only-binary=:all:", "--python-version", version,
                "--dest", str(directory), *e2e_requirements(),
            ],
            check=True,
            timeout=600,
        )  # fmt: skip


def main(argv: list[str]) -> int:
    """The command line: `list` or `wheelhouse DIR`."""
    if argv == ["list"]:
        for interpreter in other_pythons():
            print(interpreter.full_version, interpreter.path)
        return 0
    if len(argv) == 2 and argv[0] == "wheelhouse":
        download_wheelhouse(Path(argv[1]))
        return 0
    print("usage: scripts/pythons.py list | wheelhouse DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
