"""scripts/regen.sh: the committed convokit_generated/ is exactly what the spec generates."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from _repo_copy import copy_repo, run_regen
from _spec import ROOT

from convokit._models import CHAT

pytestmark = pytest.mark.slow


def add_request_field(repo: Path, name: str, schema: dict[str, object]) -> None:
    """Adds a property to the chat request's schema in `repo`'s openapi.yaml, structurally
    (the spec's text may change in any way)."""
    path = repo / "openapi.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    operation = spec["paths"][CHAT.path][CHAT.method.lower()]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"][name] = schema
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), "utf-8")


def test_check_passes_on_the_committed_package() -> None:
    result = run_regen(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches openapi.yaml" in result.stdout


def test_check_fails_with_a_diff_when_the_spec_gained_a_field(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    add_request_field(repo, "locale", {"type": "string", "description": "BCP 47 language tag."})

    result = run_regen(repo, "--check")

    assert result.returncode != 0
    assert "+    locale: str | Unset = UNSET" in result.stdout
    assert "is stale" in result.stderr


def test_a_field_named_like_a_per_call_option_fails_regeneration_clearly(
    tmp_path: Path,
) -> None:
    # Every generated method already takes `timeout`: a request field of that name would
    # be a second argument of the same name, which Python refuses.
    repo = copy_repo(tmp_path / "repo")
    add_request_field(repo, "timeout", {"type": "integer", "description": "Model seconds."})

    result = run_regen(repo)

    assert result.returncode != 0
    assert "duplicate argument 'timeout'" in result.stderr
    assert "per-call option" in result.stderr
    # Nothing was written: the copy's package is still the committed one.
    assert _all_identical(filecmp.dircmp(ROOT / "convokit_generated", repo / "convokit_generated"))


def test_two_runs_write_identical_output(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    first = run_regen(repo)
    assert first.returncode == 0, first.stderr
    snapshot = tmp_path / "first"
    (repo / "convokit_generated").rename(snapshot)
    second = run_regen(repo)
    assert second.returncode == 0, second.stderr
    comparison = filecmp.dircmp(snapshot, repo / "convokit_generated", ignore=["__pycache__"])
    assert _all_identical(comparison)
    assert (repo / "convokit_generated" / "py.typed").exists()


def test_on_a_fresh_clone_it_makes_the_venv_with_the_makefile_rule(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    (repo / ".venv").unlink()  # a fresh clone has no .venv
    shutil.copy2(ROOT / "Makefile", repo / "Makefile")
    # `make -n` shows what the rule would run without installing anything (no network
    # here); the generator is then still missing, which regen.sh must say.
    result = subprocess.run(
        [str(repo / "scripts" / "regen.sh"), "--check"],
        cwd=repo,
        env={**os.environ, "MAKE": "make -n"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert "No rule to make target" not in result.stderr, result.stderr
    dry_run = result.stderr
    assert "-m venv .venv" in dry_run, dry_run
    assert "pip install" in dry_run
    assert "touch .venv/.installed" in dry_run
    assert result.returncode == 2
    assert "still missing after" in result.stderr


def _all_identical(comparison: filecmp.dircmp[str]) -> bool:
    if comparison.left_only or comparison.right_only or comparison.diff_files:
        return False
    # dircmp compares shallowly (stat); compare the bytes of every common file.
    _, mismatch, errors = filecmp.cmpfiles(
        comparison.left, comparison.right, comparison.common_files, shallow=False
    )
    if mismatch or errors:
        return False
    return all(_all_identical(sub) for sub in comparison.subdirs.values())
