"""The types users see, checked as users check them: pyright (strict) and mypy (--strict)
run over the user-style files in tests/typing/.

- `good_*.py`: every documented call style (README's, sync and async, the JS-style dicts,
  the conversation helper, client.api, NOT_GIVEN): no error from either checker.
- `bad_*.py`: one documented mistake per line, marked `# expect-error`: each marked line
  is reported by both checkers, and no other line is.

README's own examples are checked too (in the checkers' default modes: a README example
does not annotate its own variables as strict mode asks, but every call into the SDK in it
must type-check). And the TypedDicts the checkers read take exactly the option spellings
convokit accepts at run time, so no option a checker passes is refused when the code runs.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tokenize
import typing
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from types import NoneType
from typing import Any

import pytest
from _spec import ROOT
from test_readme import ALL_BLOCKS

import convokit
import convokit_generated.api as generated_api
from convokit._models import CHAT
from convokit._options import (
    CLIENT_OPTIONS,
    CLIENT_SPELLINGS,
    ClientSettings,
    camel_case,
    operation_spellings,
)
from convokit_generated.api import Operation

pytestmark = pytest.mark.slow

TYPING = ROOT / "tests" / "typing"
PYRIGHT = ROOT / "node_modules" / ".bin" / "pyright"
GOOD = sorted(TYPING.glob("good_*.py"))
BAD = sorted(TYPING.glob("bad_*.py"))
CHECKERS = ("pyright", "mypy")
MARK = "# expect-error"

Reports = Mapping[str, Mapping[str, list[tuple[int, str]]]]
"""checker -> file name -> (line, message) of each error it reported."""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=240, check=False)


def _pyright(project: Path) -> dict[str, list[tuple[int, str]]]:
    """Errors by file name: pyright over the folder, with its pyrightconfig.json."""
    if not PYRIGHT.exists():
        pytest.fail("node_modules/.bin/pyright is missing: run `make test` (it runs npm ci)")
    result = _run(
        [str(PYRIGHT), "--outputjson", "--pythonpath", sys.executable, "-p", str(project)],
        cwd=project,
    )
    # 0: no errors, 1: errors reported; anything else is pyright failing to run.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    output = json.loads(result.stdout)
    checked = sorted(project.glob("*.py"))
    assert output["summary"]["filesAnalyzed"] >= len(checked), output["summary"]
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for diagnostic in output["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            line = diagnostic["range"]["start"]["line"] + 1
            found[Path(diagnostic["file"]).name].append((line, diagnostic["message"]))
    return found


def _mypy(config: Path, files: list[Path], cache: Path) -> dict[str, list[tuple[int, str]]]:
    """Errors by file name: mypy with `config` (not the project's) over `files`."""
    result = _run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(config)),
            *("--cache-dir", str(cache), "--no-error-summary", "--show-absolute-path"),
            *map(str, files),
        ],
        cwd=config.parent,
    )
    # 0: no errors, 1: errors reported; 2 is mypy refusing its arguments or config.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for line in result.stdout.splitlines():
        match = re.match(r"(?P<file>.+?):(?P<line>\d+): error: (?P<message>.*)", line)
        if match is not None:
            found[Path(match["file"]).name].append((int(match["line"]), match["message"]))
        else:
            assert ": note: " in line, line  # nothing but errors and their notes
    return found


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """Both checkers' errors over tests/typing, each run once for the module."""
    cache = tmp_path_factory.mktemp("mypy-cache")
    return {
        "pyright": _pyright(TYPING),
        "mypy": _mypy(TYPING / "mypy.ini", sorted(TYPING.glob("*.py")), cache),
    }


def _marked_lines(path: Path) -> set[int]:
    """Lines whose comment starts with `# expect-error` (a docstring naming it is no mark)."""
    source = path.read_text(encoding="utf-8")
    return {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and token.string.startswith(MARK)
    }


def test_the_folder_has_both_kinds_of_file() -> None:
    assert len(GOOD) >= 3 and len(BAD) >= 3
    for path in BAD:
        assert _marked_lines(path), f"{path.name} marks no mistake: it would prove nothing"
    for path in GOOD:
        assert not _marked_lines(path), f"{path.name} is a good file: it expects no error"


@pytest.mark.parametrize("checker", CHECKERS)
@pytest.mark.parametrize("path", GOOD, ids=lambda path: path.name)
def test_a_documented_call_style_type_checks_clean(
    path: Path, checker: str, reports: Reports
) -> None:
    errors = reports[checker].get(path.name, [])
    assert not errors, "\n".join(f"{path.name}:{line}: {message}" for line, message in errors)


@pytest.mark.parametrize("checker", CHECKERS)
@pytest.mark.parametrize("path", BAD, ids=lambda path: path.name)
def test_each_marked_mistake_is_reported_and_nothing_else(
    path: Path, checker: str, reports: Reports
) -> None:
    source = path.read_text(encoding="utf-8").splitlines()
    marked = _marked_lines(path)
    errors = reports[checker].get(path.name, [])
    reported = {line for line, _ in errors}
    missed = [
        f"{path.name}:{line}: {source[line - 1].strip()}" for line in sorted(marked - reported)
    ]
    assert not missed, f"{checker} let these mistakes through:\n" + "\n".join(missed)
    unexpected = [
        f"{path.name}:{line}: {message}" for line, message in errors if line not in marked
    ]
    assert not unexpected, f"{checker} reported unmarked lines:\n" + "\n".join(unexpected)


def test_every_readme_example_type_checks(tmp_path: Path) -> None:
    blocks = [block for block in ALL_BLOCKS if block.language == "python"]
    assert blocks
    for block in blocks:
        (tmp_path / f"readme_line{block.line}.py").write_text(block.source, encoding="utf-8")
    (tmp_path / "pyrightconfig.json").write_text(
        json.dumps(
            {"typeCheckingMode": "standard", "pythonVersion": "3.11", "extraPaths": [str(ROOT)]}
        ),
        encoding="utf-8",
    )
    (tmp_path / "mypy.ini").write_text(
        f"[mypy]\npython_version = 3.11\nmypy_path = {ROOT}\ncheck_untyped_defs = True\n",
        encoding="utf-8",
    )
    found = {
        "pyright": _pyright(tmp_path),
        "mypy": _mypy(tmp_path / "mypy.ini", sorted(tmp_path.glob("*.py")), tmp_path / "cache"),
    }
    for checker, errors in found.items():
        listed = [
            f"README.md, the block at line {name[len('readme_line') : -3]}, line {line}: {message}"
            for name, lines in errors.items()
            for line, message in lines
        ]
        assert not listed, f"{checker}:\n" + "\n".join(listed)


def _keys(typed_dict: Any) -> set[str]:
    return set(typed_dict.__required_keys__ | typed_dict.__optional_keys__)


def _spellings_of(operation: Operation, python_name: str) -> set[str]:
    return {
        spelling
        for spelling, name in operation_spellings(operation).items()
        if name == python_name and spelling.isidentifier()
    }


@pytest.mark.parametrize("name", sorted(generated_api.OPERATIONS))
def test_the_keyword_typeddicts_take_exactly_the_spellings_convokit_accepts(name: str) -> None:
    # Exactly: a key convokit refuses would let a run-time TypeError past the checkers.
    operation = generated_api.OPERATIONS[name]
    accepted = {spelling for spelling in operation_spellings(operation) if spelling.isidentifier()}
    prefix = "".join(part.capitalize() for part in name.split("_"))
    keywords = getattr(generated_api, f"{prefix}Keywords")
    optional = getattr(generated_api, f"{prefix}OptionalKeywords")
    assert _keys(keywords) == accepted
    # Beside a dict of options (or the message alone), the body's required fields are in
    # that dict: every other spelling is an optional keyword.
    required_body = {field.python_name for field in operation.body_fields if field.required}
    given_apart = set().union(*(_spellings_of(operation, name) for name in required_body))
    assert _keys(optional) == accepted - given_apart
    assert not optional.__required_keys__
    # A required argument with one spelling is Required; with several, no one of them is.
    required = required_body | {
        parameter.python_name for parameter in operation.parameters if parameter.required
    }
    single = {
        spelling
        for name in required
        for spelling in _spellings_of(operation, name)
        if len(_spellings_of(operation, name)) == 1
    }
    assert keywords.__required_keys__ == single


def test_chat_options_are_the_body_by_wire_name_and_the_rest_in_camel_case() -> None:
    keys = _keys(convokit.ChatOptions)
    assert {field.wire_name for field in CHAT.body_fields} <= keys
    assert convokit.ChatOptions.__required_keys__ == {
        field.wire_name for field in CHAT.body_fields if field.required
    }
    camel = {camel_case(name) for name in generated_api.CALL_OPTIONS} | {
        camel_case(parameter.python_name) for parameter in CHAT.parameters
    }
    assert camel <= keys
    assert keys <= set(operation_spellings(CHAT))
    # Checkers name the type as users import it.
    assert convokit.ChatOptions.__name__ == "ChatOptions"


def test_a_nested_model_is_the_model_or_a_dict_of_its_wire_fields() -> None:
    hints = typing.get_type_hints(convokit.ChatOptions)
    nested = [
        field
        for field in CHAT.body_fields
        if field.schema.get("type") == "array" and "properties" in field.schema.get("items", {})
    ]
    assert nested, "the chat body has a list of objects (the history)"
    dicts = set()
    for field in nested:
        (sequence,) = (
            arg for arg in typing.get_args(hints[field.wire_name]) if arg is not NoneType
        )
        (item,) = typing.get_args(sequence)
        model, model_dict = typing.get_args(item)
        assert model_dict.__name__ == f"{model.__name__}Dict"
        schema = field.schema["items"]
        assert _keys(model_dict) == set(schema["properties"])
        assert model_dict.__required_keys__ == set(schema.get("required", ()))
        fields = typing.get_type_hints(model_dict)
        for wire_name, property_schema in schema["properties"].items():
            if "enum" in property_schema:
                assert set(typing.get_args(fields[wire_name])) == set(property_schema["enum"])
        dicts.add(model_dict)
    assert convokit.ChatMessageDict in dicts  # the history item's dict, exported


def test_client_options_are_one_list_in_both_spellings() -> None:
    for options in (convokit.ClientOptions, convokit.AsyncClientOptions):
        assert _keys(options) == set(CLIENT_SPELLINGS)
        hints = typing.get_type_hints(options)
        for spelling, python_name in CLIENT_SPELLINGS.items():
            assert hints[spelling] == hints[python_name], spelling
    assert set(CLIENT_OPTIONS) == set(CLIENT_SPELLINGS.values())
    # with_options() takes every option but the connection pool's.
    pool = {"http_client", "proxy", "http_backend"}
    assert _keys(ClientSettings) == {
        spelling for spelling, name in CLIENT_SPELLINGS.items() if name not in pool
    }
