"""An optional field the server left out reads as convokit.NOT_GIVEN: public, readable, falsy.

Users test `res.field is NOT_GIVEN` without importing from convokit_generated, and
see `NOT_GIVEN` (not `<convokit_generated.types.Unset object at 0x...>`) in reprs.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _repo_copy import copy_repo, run_regen

import convokit
from convokit import NOT_GIVEN, NotGiven
from convokit_generated import types as generated_types
from convokit_generated.models import ErrorDetail


def test_not_given_is_the_generated_unset_exported_by_convokit() -> None:
    assert {"NOT_GIVEN", "NotGiven"} <= set(convokit.__all__)
    assert NOT_GIVEN is generated_types.UNSET
    assert NotGiven is generated_types.Unset
    assert isinstance(NOT_GIVEN, NotGiven)


def test_not_given_reads_as_its_public_name_and_is_falsy() -> None:
    assert repr(NOT_GIVEN) == "NOT_GIVEN"
    assert str(NOT_GIVEN) == "NOT_GIVEN"
    assert not NOT_GIVEN


@pytest.mark.parametrize(
    "clone",
    [copy.copy, copy.deepcopy, lambda value: pickle.loads(pickle.dumps(value))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_copies_of_not_given_are_the_same_object(clone: object) -> None:
    assert callable(clone)
    assert clone(NOT_GIVEN) is NOT_GIVEN


def test_an_absent_optional_field_of_a_generated_model_is_not_given() -> None:
    # ErrorDetail's `code` and `param` are optional in openapi.yaml.
    detail = ErrorDetail.from_dict({"type": "api_error", "message": "Oops."})
    assert detail.code is NOT_GIVEN
    assert detail.param is NOT_GIVEN
    assert "code=NOT_GIVEN" in repr(detail)
    assert " object at 0x" not in repr(detail)
    kept = copy.deepcopy(detail)
    assert kept.code is NOT_GIVEN


SCRIPT = r"""
import json

import convokit
from convokit import create_client
from convokit.testing import MockServer

with MockServer() as mock:
    res = create_client("sk_test_not_given", base_url=mock.base_url).chat(message="Hi")
print(json.dumps({
    "package": convokit.__file__,
    "is_not_given": res.model_version is convokit.NOT_GIVEN,
    "truthy": bool(res.model_version),
    "field_repr": repr(res.model_version),
    "response_repr": repr(res),
}))
"""


@pytest.mark.slow
def test_an_optional_response_field_the_server_leaves_out_is_not_given(tmp_path: Path) -> None:
    # A copy of the repository whose spec gains an optional response field that the
    # mock server does not send; the copy's own regenerated package reads it.
    repo = copy_repo(tmp_path / "repo")
    spec_path = repo / "openapi.yaml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    response_schema = spec["components"]["schemas"]["ChatResponse"]
    assert "model_version" not in response_schema["properties"]
    response_schema["properties"]["model_version"] = {
        "type": "string",
        "description": "The model that wrote the reply.",
    }
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    regen = run_regen(repo)
    assert regen.returncode == 0, regen.stdout + regen.stderr

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["package"].startswith(str(repo))
    assert outcome["is_not_given"] is True
    assert outcome["truthy"] is False
    assert outcome["field_repr"] == "NOT_GIVEN"
    assert "model_version=NOT_GIVEN" in outcome["response_repr"]
    assert " object at 0x" not in outcome["response_repr"]
