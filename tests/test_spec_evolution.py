"""The spec drives every layer: a drill in a copy of the repository.

The copy's openapi.yaml gains, structurally (PyYAML), constrained request fields (a
string with minLength/maxLength, a number with minimum/maximum), an optional enum field
in the response, and a new operation `GET /v1/conversations/{conversationId}` returning
a new schema with an example; and three operations of the other shapes a spec grows: a
POST with a body of its own that declares Idempotency-Key and answers 201, a GET with
query parameters, and a POST with neither body nor key that answers 204. Then
scripts/regen.sh runs, and with convokit/ and tests/ unchanged:

- the new options are sent (`chat(reply_language=...)`, `chat({"replyLanguage": ...})`),
  and a field's `default` is not (the server applies it);
- the mock refuses out-of-range values with a 400 naming the field;
- `client.api.get_conversation(...)` works sync and async against MockServer, retried on
  503, a 404 raising NotFoundError;
- the other new operations send their body or query, check their arguments before any
  I/O, parse their 201 (a date-time included) or return None for their 204; the POST
  that declares Idempotency-Key is retried on 503 with the same key, the one that does
  not is sent once;
- type checkers see the new names (a user's file using them is clean, a typo is caught);
- the copy's own spec, mock-server, client and typing tests pass (this drill excluded).
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _repo_copy import copy_repo, run_regen
from _spec import ROOT

pytestmark = pytest.mark.slow

NEW_PATH = "/v1/conversations/{conversationId}"
# The other shapes live under a path of the drill's own, so that a spec which grows such
# operations itself keeps its own (and lints clean) in the copy.
FEEDBACK_PATH = "/v1/drill/feedback"
LIST_PATH = "/v1/drill/conversations"
ARCHIVE_PATH = "/v1/drill/conversations/{conversationId}/archive"


def evolve(spec: dict[str, Any]) -> None:
    """The additive change: new constrained request fields, an enum response field, and a
    new operation with its own schema and example."""
    schemas = spec["components"]["schemas"]
    request = schemas["ChatRequest"]["properties"]
    request["replyLanguage"] = {
        "type": "string",
        "minLength": 2,
        "maxLength": 8,
        "description": "Language of the reply (BCP 47).",
    }
    request["temperature"] = {
        "type": "number",
        "minimum": 0,
        "maximum": 2,
        "default": 1,
        "description": "Sampling temperature.",
    }
    schemas["ChatResponse"]["properties"]["finish_reason"] = {
        "type": "string",
        "enum": ["stop", "length"],
        "description": "Why the reply ended.",
    }
    schemas["Conversation"] = {
        "type": "object",
        "description": "One thread and its messages.",
        "required": ["id", "messages"],
        "properties": {
            "id": {"type": "string", "description": "The conversation id."},
            "messages": {
                "type": "array",
                "description": "The thread, oldest first.",
                "items": {"$ref": "#/components/schemas/ChatMessage"},
            },
        },
    }
    request_id = {"X-Request-Id": {"$ref": "#/components/headers/XRequestId"}}
    spec["paths"][NEW_PATH] = {
        "get": {
            "tags": ["chat"],
            "operationId": "getConversation",
            "summary": "Read a conversation",
            "description": "The messages of one conversation, oldest first.",
            "parameters": [
                {
                    "name": "conversationId",
                    "in": "path",
                    "required": True,
                    "description": "The conversation's id.",
                    "schema": {"type": "string", "minLength": 1},
                }
            ],
            "responses": {
                "200": {
                    "description": "The conversation.",
                    "headers": request_id,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/Conversation"},
                            "example": {
                                "id": "conv_7f3a9c2e",
                                "messages": [
                                    {"role": "user", "content": "What are your support hours?"},
                                    {"role": "assistant", "content": "9am to 5pm."},
                                ],
                            },
                        }
                    },
                },
                **_errors("BadRequest", "Unauthorized", "NotFound", "ServiceUnavailable"),
            },
        }
    }
    add_other_shapes(spec)


def _errors(*names: str) -> dict[str, Any]:
    statuses = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "NotFound": "404",
        "Conflict": "409",
        "ServiceUnavailable": "503",
    }
    return {statuses[name]: {"$ref": f"#/components/responses/{name}"} for name in names}


def _json(schema: str, example: Any) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{schema}"}
    return {"application/json": {"schema": reference, "example": example}}


def add_other_shapes(spec: dict[str, Any]) -> None:
    """A POST with its own body and Idempotency-Key (201), a GET with query parameters,
    and a POST with neither body nor key (204)."""
    schemas = spec["components"]["schemas"]
    request_id = {"X-Request-Id": {"$ref": "#/components/headers/XRequestId"}}
    schemas["DrillFeedbackRequest"] = {
        "type": "object",
        "required": ["conversationId", "rating"],
        "additionalProperties": False,
        "properties": {
            "conversationId": {"type": "string", "minLength": 1},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "comment": {"type": "string", "maxLength": 500},
        },
    }
    schemas["DrillFeedbackReceipt"] = {
        "type": "object",
        "required": ["id", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    schemas["DrillConversationPage"] = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Conversation"}},
            "next_cursor": {"type": "string"},
        },
    }
    spec["paths"][FEEDBACK_PATH] = {
        "post": {
            "tags": ["chat"],
            "operationId": "drillSubmitFeedback",
            "summary": "Rate a reply",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
            "requestBody": {
                "required": True,
                "content": _json("DrillFeedbackRequest", {"conversationId": "conv_1", "rating": 5}),
            },
            "responses": {
                "201": {
                    "description": "Recorded.",
                    "headers": request_id,
                    "content": _json(
                        "DrillFeedbackReceipt", {"id": "fb_1", "created_at": "2026-12-01T10:00:00Z"}
                    ),
                },
                **_errors("BadRequest", "Unauthorized", "Conflict", "ServiceUnavailable"),
            },
        }
    }
    spec["paths"][LIST_PATH] = {
        "get": {
            "tags": ["chat"],
            "operationId": "drillListConversations",
            "summary": "List conversations",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                },
                {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1}},
            ],
            "responses": {
                "200": {
                    "description": "A page of conversations.",
                    "headers": request_id,
                    "content": _json(
                        "DrillConversationPage", {"data": [{"id": "c_1", "messages": []}]}
                    ),
                },
                **_errors("BadRequest", "Unauthorized", "ServiceUnavailable"),
            },
        }
    }
    spec["paths"][ARCHIVE_PATH] = {
        "post": {
            "tags": ["chat"],
            "operationId": "drillArchiveConversation",
            "summary": "Archive a conversation",
            "parameters": [
                {
                    "name": "conversationId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                }
            ],
            "responses": {
                "204": {"description": "Archived.", "headers": request_id},
                **_errors("BadRequest", "Unauthorized", "NotFound", "ServiceUnavailable"),
            },
        }
    }


# Runs in the copy, with the copy's packages: what a user of the new SDK would write.
SCRIPT = r"""
import asyncio, json
import httpx
import convokit
from convokit import NotFoundError, create_async_client, create_client
from convokit.testing import MockServer

out = {"package": convokit.__file__}
with MockServer() as mock:
    client = create_client("sk_test_drill", base_url=mock.base_url, max_retries=2)
    first = client.chat(message="Hola", reply_language="es", temperature=0.5)
    follow_up = {"message": "Hallo", "replyLanguage": "de", "conversationId": first.conversation_id}
    client.chat(follow_up)
    out["sent"] = [request.body for request in mock.requests]
    out["finish_reason"] = repr(first.finish_reason)
    try:
        client.chat(message="Hi", temperature=5)
    except ValueError as error:
        out["client_refused"] = str(error)
    out["requests_before_raw"] = len(mock.requests)
    raw = httpx.post(
        f"{mock.base_url}/v1/chat",
        json={"message": "Hi", "temperature": 5},
        headers={"Authorization": "Bearer sk_test_drill"},
    )
    out["raw_status"] = raw.status_code
    out["raw_error"] = raw.json()["error"]
    too_short = httpx.post(
        f"{mock.base_url}/v1/chat",
        json={"message": "Hi", "replyLanguage": "x"},
        headers={"Authorization": "Bearer sk_test_drill"},
    )
    out["short_status"] = too_short.status_code
    out["short_param"] = too_short.json()["error"].get("param")

    conversation = client.api.get_conversation(conversation_id="conv_7f3a9c2e")
    out["conversation"] = {"id": conversation.id, "turns": len(conversation.messages),
                           "request_id": conversation.request_id}
    served = len(mock.requests)
    mock.fail_next(503)
    client.api.get_conversation(conversation_id="conv_7f3a9c2e")
    out["attempts_after_503"] = len(mock.requests) - served
    mock.fail_next(404)
    try:
        client.api.get_conversation(conversation_id="conv_unknown")
    except NotFoundError as error:
        out["not_found"] = error.status_code

    # The other shapes: a body and Idempotency-Key of its own (201), a query, a 204.
    served = len(mock.requests)
    receipt = client.api.drill_submit_feedback(conversation_id="conv_1", rating=5, comment="Great")
    mock.fail_next(503)
    client.api.drill_submit_feedback(conversation_id="conv_1", rating=4)
    feedback = mock.requests[served:]
    out["feedback"] = {
        "receipt": [receipt.id, receipt.created_at.isoformat(), bool(receipt.request_id)],
        "sent": [[request.method, request.path, request.body] for request in feedback],
        "keys": [request.headers.get("idempotency-key") for request in feedback],
    }
    refused = {}
    for name, call in {
        "rating": lambda: client.api.drill_submit_feedback(conversation_id="conv_1", rating=9),
        "limit": lambda: client.api.drill_list_conversations(limit=0),
        "conversation_id": lambda: client.api.drill_archive_conversation(conversation_id=""),
    }.items():
        before = len(mock.requests)
        try:
            call()
        except ValueError as error:
            refused[name] = [str(error), len(mock.requests) - before]
    out["refused"] = refused
    raw = httpx.post(
        f"{mock.base_url}/v1/drill/feedback",
        json={"conversationId": "conv_1", "rating": 9},
        headers={"Authorization": "Bearer sk_test_drill"},
    )
    out["raw_feedback"] = [raw.status_code, raw.json()["error"].get("param")]
    page = client.api.drill_list_conversations(limit=10, cursor="abc")
    out["page"] = [page.data[0].id, mock.requests[-1].path, bool(page.request_id)]
    out["archived"] = repr(client.api.drill_archive_conversation(conversation_id="conv_1"))
    out["archive_path"] = mock.requests[-1].path
    served = len(mock.requests)
    mock.fail_next(503)
    try:
        client.api.drill_archive_conversation(conversation_id="conv_1")
    except convokit.APIStatusError as error:
        out["archive_503"] = [error.status_code, len(mock.requests) - served]

    async def main():
        async with create_async_client("sk_test_drill", base_url=mock.base_url) as async_client:
            mock.fail_next(503)
            read = await async_client.api.get_conversation(conversation_id="conv_7f3a9c2e")
            reply = await async_client.chat(message="Salut", replyLanguage="fr")
            page = await async_client.api.drill_list_conversations(limit=1)
            receipt = await async_client.api.drill_submit_feedback(conversation_id="c", rating=3)
            archived = await async_client.api.drill_archive_conversation(conversation_id="c")
            return read.id, reply.reply, page.data[0].id, receipt.id, repr(archived)
    out["async"] = asyncio.run(main())
    client.api.create_chat(message="Defaults")  # the spec's default is the server's to apply
    out["generic_sent"] = mock.requests[-1].body

    # The command line: a flag for each new field, named by the SDK's refusals too.
    import contextlib, io, os
    from convokit._cli import main as cli
    os.environ.update(CONVOKIT_SECRET_KEY="sk_test_drill", CONVOKIT_BASE_URL=mock.base_url)
    errors = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
        out["cli_ok"] = cli(["chat", "--reply-language", "nl", "--temperature", "1.5", "Hoi"])
        out["cli_sent"] = mock.requests[-1].body
        out["cli_refused"] = cli(["chat", "--temperature", "5", "Hoi"])
    out["cli_error"] = errors.getvalue()
print(json.dumps(out))
"""

# A user's file in the copy: the new names type-check; the marked typo must not.
USER_FILE = """\
import datetime

from convokit import create_client

client = create_client("sk_test_drill")
conversation = client.api.get_conversation(conversation_id="conv_1")
first_turn: str = conversation.messages[0].content
reply = client.api.create_chat(message="Hola", reply_language="es", temperature=0.5)
receipt = client.api.drill_submit_feedback(conversation_id="conv_1", rating=5, comment="Great")
recorded: datetime.datetime = receipt.created_at
page = client.api.drill_list_conversations(limit=10, cursor="abc")
client.api.drill_archive_conversation(conversation_id="conv_1")
print(first_turn, reply.finish_reason, recorded, page.data)
"""
USER_TYPOS = {
    "conversation_idd": 'client.api.get_conversation(conversation_idd="conv_1")\n',
    '"rating"': 'client.api.drill_submit_feedback(conversation_id="conv_1", rating="5")\n',
    '"limit"': 'client.api.drill_list_conversations(limit="10")\n',
}

# The copy's own suites that must pass there (not this drill, which would recurse).
COPY_SUITES = (
    "tests/test_spec.py",
    "tests/test_mock_server.py",
    "tests/test_mock_operations.py",
    "tests/test_schemathesis.py",
    "tests/test_client.py",
    "tests/test_api.py",
    "tests/test_properties.py",
    "tests/test_typing.py",
    "tests/test_cli.py",
)


def _run(args: list[str], repo: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def evolved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("drill") / "repo", with_tests=True)
    spec_path = repo / "openapi.yaml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    evolve(spec)
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), "utf-8")
    regen = run_regen(repo)
    assert regen.returncode == 0, regen.stdout + regen.stderr
    return repo


def test_only_the_spec_and_the_generated_package_changed(evolved: Path) -> None:
    for folder in ("convokit", "tests", "templates", "scripts"):
        compared = filecmp.dircmp(ROOT / folder, evolved / folder, ignore=["__pycache__"])
        assert not (compared.diff_files or compared.left_only or compared.right_only), folder
    changed = filecmp.dircmp(ROOT / "convokit_generated", evolved / "convokit_generated")
    assert changed.diff_files or changed.right_only or changed.subdirs


def test_the_new_fields_and_operation_work_end_to_end(evolved: Path) -> None:
    result = _run([sys.executable, "-c", SCRIPT], evolved, timeout=180)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["package"].startswith(str(evolved))
    sent = outcome["sent"]
    assert sent[0] == {"message": "Hola", "replyLanguage": "es", "temperature": 0.5}
    assert sent[1]["replyLanguage"] == "de"
    assert outcome["finish_reason"] == "NOT_GIVEN"  # the mock leaves the optional field out
    # Out of range: the client refuses before any I/O, the mock with a 400 naming the field.
    assert "temperature" in outcome["client_refused"]
    assert outcome["requests_before_raw"] == 2
    assert outcome["raw_status"] == 400
    assert outcome["raw_error"]["param"] == "temperature"
    assert (outcome["short_status"], outcome["short_param"]) == (400, "replyLanguage")
    # The new operation, from the spec's example; retried on 503; 404 is NotFoundError.
    assert outcome["conversation"]["id"] == "conv_7f3a9c2e"
    assert outcome["conversation"]["turns"] == 2
    assert outcome["conversation"]["request_id"]
    assert outcome["attempts_after_503"] == 2
    assert outcome["not_found"] == 404
    assert outcome["async"][0] == "conv_7f3a9c2e"
    assert "Salut" in outcome["async"][1]
    # A POST with a body and Idempotency-Key of its own: its 201 parsed, a 503 retried
    # with the call's one key (each call its own key).
    feedback = outcome["feedback"]
    assert feedback["receipt"] == ["fb_1", "2026-12-01T10:00:00+00:00", True]
    assert feedback["sent"] == [
        ["POST", FEEDBACK_PATH, {"conversationId": "conv_1", "rating": 5, "comment": "Great"}],
        ["POST", FEEDBACK_PATH, {"conversationId": "conv_1", "rating": 4}],
        ["POST", FEEDBACK_PATH, {"conversationId": "conv_1", "rating": 4}],
    ]
    first_key, retried_key, retry_key = feedback["keys"]
    assert first_key and retried_key == retry_key and first_key != retried_key
    # Each operation's arguments are checked with the spec's schemas before any I/O.
    for name, (message, requests_sent) in outcome["refused"].items():
        assert name in message and requests_sent == 0, (name, message)
    assert outcome["raw_feedback"] == [400, "rating"]
    # A query, sent as such; a 204 is None; a POST without Idempotency-Key is sent once.
    assert outcome["page"] == ["c_1", f"{LIST_PATH}?limit=10&cursor=abc", True]
    assert outcome["archived"] == "None"
    assert outcome["archive_path"] == ARCHIVE_PATH.format(conversationId="conv_1")
    assert outcome["archive_503"] == [503, 1]
    assert outcome["async"][2:] == ["c_1", "fb_1", "None"]
    assert outcome["generic_sent"] == {"message": "Defaults"}
    # `convokit chat` sends the new fields from their flags, and names the flag it refuses.
    assert outcome["cli_ok"] == 0, outcome["cli_error"]
    assert outcome["cli_sent"] == {"message": "Hoi", "replyLanguage": "nl", "temperature": 1.5}
    assert outcome["cli_refused"] == 2
    assert "--temperature" in outcome["cli_error"], outcome["cli_error"]


def test_type_checkers_see_the_new_names(evolved: Path, tmp_path: Path) -> None:
    user_file = evolved / "drill_user.py"
    user_file.write_text(USER_FILE, encoding="utf-8")
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null"]
    clean = _run([*mypy, str(user_file)], evolved)
    assert clean.returncode == 0, clean.stdout
    user_file.write_text(USER_FILE + "".join(USER_TYPOS.values()), encoding="utf-8")
    caught = _run([*mypy, str(user_file)], evolved)
    assert caught.returncode == 1, caught.stdout
    for mistake in USER_TYPOS:
        assert mistake in caught.stdout, (mistake, caught.stdout)


def test_the_copy_s_own_suites_pass(evolved: Path) -> None:
    suites = [suite for suite in COPY_SUITES if (evolved / suite).exists()]
    result = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites], evolved
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
