"""scripts/regen.sh: the committed convokit_generated/ is exactly what the spec generates."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _repo_copy import copy_repo, run_regen
from _spec import ROOT

pytestmark = pytest.mark.slow

NEW_FIELD = """        chatHistory:
          type: array"""
NEW_FIELD_ADDED = """        locale:
          type: string
          description: BCP 47 language tag for the reply.
        chatHistory:
          type: array"""


def test_check_passes_on_the_committed_package() -> None:
    result = run_regen(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches openapi.yaml" in result.stdout


def test_check_fails_with_a_diff_when_the_spec_gained_a_field(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    spec_text = (repo / "openapi.yaml").read_text(encoding="utf-8")
    assert NEW_FIELD in spec_text
    (repo / "openapi.yaml").write_text(spec_text.replace(NEW_FIELD, NEW_FIELD_ADDED), "utf-8")

    result = run_regen(repo, "--check")

    assert result.returncode != 0
    assert "+    locale: str | Unset = UNSET" in result.stdout
    assert "is stale" in result.stderr


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
