"""The mock serves every operation the descriptors describe, not only chat.

openapi.yaml has one operation today; these tests hand the mock's API layer synthetic
operations (the chat descriptor with another path, method, parameters and responses),
as regenerating after adding one to the spec would, and serve them over real HTTP on
127.0.0.1 through the mock's own HTTP server. openapi.yaml is not edited.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import httpx
import pytest
from _spec import documented_errors, schema_validator

from convokit import _schema
from convokit.testing import _checks
from convokit.testing._api import MockApi, Request
from convokit.testing._http import MockHTTPServer
from convokit_generated.api import OPERATIONS, DocumentedResponse, Parameter
from convokit_generated.api.chat import create_chat

KEY = "sk_test_operations_5e1d"
AUTH = {"Authorization": f"Bearer {KEY}"}
ERROR = schema_validator("Error")
CHAT = OPERATIONS[create_chat.NAME]
ERRORS = {status: response for status, response in CHAT.responses.items() if status >= 400}

WIDGET = {"id": "w_1", "name": "Example", "size": 0.5}
WIDGET_SCHEMA = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
GET_WIDGET = attrs.evolve(
    CHAT,
    name="get_widget",
    operation_id="getWidget",
    method="GET",
    path="/v1/widgets/{widgetId}",
    parameters=(
        Parameter("widget_id", "widgetId", "path", True, {"type": "string", "minLength": 3}),
        Parameter(
            "limit", "limit", "query", False, {"type": "integer", "minimum": 1, "maximum": 10}
        ),
        Parameter("order", "order", "query", False, {"type": "string", "enum": ["asc", "desc"]}),
        Parameter(
            "tags",
            "tag",
            "query",
            False,
            {"type": "array", "items": {"type": "string", "minLength": 2}},
        ),
        Parameter("verbose", "verbose", "query", False, {"type": "boolean"}),
        Parameter("trace_id", "X-Trace-Id", "header", False, {"type": "string", "pattern": "^t-"}),
    ),
    body_model=None,
    body_fields=(),
    body_required=False,
    body_schema=None,
    content_type=None,
    response_model=None,
    responses={
        200: DocumentedResponse(200, "A widget.", "application/json", WIDGET_SCHEMA, (WIDGET,)),
        **ERRORS,
    },
)
DELETE_WIDGET = attrs.evolve(
    GET_WIDGET,
    name="delete_widget",
    method="DELETE",
    parameters=GET_WIDGET.parameters[:1],
    responses={204: DocumentedResponse(204, "Deleted.", None, None, ()), **ERRORS},
)
CREATE_WIDGET = attrs.evolve(
    CHAT,
    name="create_widget",
    operation_id="createWidget",
    path="/v1/widgets",
    parameters=(),
    body_schema={
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 5},
            "size": {"type": "number", "minimum": 0, "maximum": 1},
        },
    },
    responses={
        201: DocumentedResponse(201, "Created.", "application/json", WIDGET_SCHEMA, (WIDGET,)),
        **ERRORS,
    },
)
OTHERS = {operation.name: operation for operation in (GET_WIDGET, DELETE_WIDGET, CREATE_WIDGET)}


@contextlib.contextmanager
def serving(api: MockApi) -> Iterator[httpx.Client]:
    """`api` behind the mock's HTTP server on 127.0.0.1, and a client for it."""
    httpd = MockHTTPServer(("127.0.0.1", 0), api)
    wake_reader, wake_writer = socket.socketpair()
    thread = threading.Thread(target=httpd.serve_until, args=(wake_reader,), daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with httpx.Client(base_url=base_url, headers=AUTH, timeout=5) as client:
            yield client
    finally:
        wake_writer.send(b"x")
        thread.join(5)
        httpd.server_close()
        httpd.close_connections()
        wake_reader.close()
        wake_writer.close()


@pytest.fixture
def api() -> MockApi:
    return MockApi(operations={**OPERATIONS, **OTHERS})


@pytest.fixture
def http(api: MockApi) -> Iterator[httpx.Client]:
    with serving(api) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert re.fullmatch(r"req_[0-9a-f]+", response.headers["x-request-id"])
    body = response.json()
    ERROR.validate(body)
    detail: dict[str, Any] = body["error"]
    return detail


def assert_bad_request(response: httpx.Response, param: str) -> None:
    error = error_of(response, 400)
    documented = documented_errors(400)[0]
    assert (error["type"], error.get("code")) == (documented["type"], documented.get("code"))
    assert error["param"] == param
    assert re.match(rf"{re.escape(param)}[:\[]", error["message"]), error["message"]


# -- documented examples -------------------------------------------------------------


def test_another_operation_answers_its_documented_example(http: httpx.Client) -> None:
    response = http.get("/v1/widgets/abc")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r"req_[0-9a-f]+", response.headers["x-request-id"])
    assert response.json() == WIDGET


def test_head_is_served_as_get_without_a_body(http: httpx.Client) -> None:
    response = http.head("/v1/widgets/abc")
    assert response.status_code == 200
    assert response.content == b""


def test_a_204_or_an_example_less_answer_has_an_empty_body(http: httpx.Client) -> None:
    response = http.delete("/v1/widgets/abc")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


def test_a_body_taking_operation_checks_its_body_then_answers_its_example(
    http: httpx.Client,
) -> None:
    created = http.post("/v1/widgets", json={"name": "ok", "size": 1})
    assert (created.status_code, created.json()) == (201, WIDGET)
    assert_bad_request(http.post("/v1/widgets", json={"name": "ok", "size": 1.5}), "size")
    assert_bad_request(http.post("/v1/widgets", json={"name": "ok", "size": -1}), "size")
    assert_bad_request(http.post("/v1/widgets", json={"name": "toolong"}), "name")
    assert_bad_request(http.post("/v1/widgets", json={"size": 0}), "name")
    assert error_of(http.post("/v1/widgets"), 400)["code"] == "invalid_json"


def test_other_operations_need_the_key_too(http: httpx.Client) -> None:
    response = http.get("/v1/widgets/abc", headers={"Authorization": "Bearer pk_test_abc"})
    assert error_of(response, 401)["type"] == documented_errors(401)[0]["type"]


# -- path, query and header parameters --------------------------------------------------


@pytest.mark.parametrize(
    ("target", "param"),
    [
        ("/v1/widgets/ab", "widgetId"),  # minLength
        ("/v1/widgets/a%20", "widgetId"),  # decoded before the check: two characters
        ("/v1/widgets/abc?limit=0", "limit"),  # minimum
        ("/v1/widgets/abc?limit=11", "limit"),  # maximum
        ("/v1/widgets/abc?limit=two", "limit"),  # type
        ("/v1/widgets/abc?limit=1.5", "limit"),  # an integer
        ("/v1/widgets/abc?order=sideways", "order"),  # enum
        ("/v1/widgets/abc?tag=ok&tag=x", "tag"),  # array items
        ("/v1/widgets/abc?verbose=maybe", "verbose"),  # boolean
    ],
)
def test_a_parameter_that_breaks_its_schema_is_400_naming_it(
    http: httpx.Client, target: str, param: str
) -> None:
    assert_bad_request(http.get(target), param)


def test_parameters_that_match_their_schemas_are_accepted(http: httpx.Client) -> None:
    target = "/v1/widgets/a%2Fb?limit=10&order=asc&tag=ok&tag=fine&verbose=true"
    assert http.get(target, headers={"X-Trace-Id": "t-1"}).status_code == 200


def test_a_query_parameter_the_operation_does_not_declare_is_400_naming_it(
    http: httpx.Client,
) -> None:
    # As an unknown body field is: a mistyped parameter is not silently ignored.
    mistyped = http.get("/v1/widgets/abc?limit=2&lmit=3")
    assert_bad_request(mistyped, "lmit")
    assert "Did you mean 'limit'?" in mistyped.json()["error"]["message"]
    assert_bad_request(http.get("/v1/widgets/abc?=false"), "")
    # An operation that declares no query parameter takes none.
    assert_bad_request(http.post(f"{CHAT.path}?debug=1", json={"message": "Hi"}), "debug")


def test_a_header_parameter_is_checked_against_its_schema(http: httpx.Client) -> None:
    assert_bad_request(http.get("/v1/widgets/abc", headers={"X-Trace-Id": "x-1"}), "X-Trace-Id")


def test_a_missing_required_parameter_is_400_naming_it(api: MockApi) -> None:
    required = GET_WIDGET.parameters[-1]._replace(required=True)
    strict = attrs.evolve(GET_WIDGET, parameters=(*GET_WIDGET.parameters[:-1], required))
    with serving(MockApi(operations={"get_widget": strict})) as http:
        assert_bad_request(http.get("/v1/widgets/abc"), "X-Trace-Id")
        assert http.get("/v1/widgets/abc", headers={"X-Trace-Id": "t-2"}).status_code == 200


# -- routes ------------------------------------------------------------------------------


def test_an_unknown_path_is_a_404_envelope(http: httpx.Client) -> None:
    error = error_of(http.get("/v1/gadgets/abc"), 404)
    assert error["type"] == documented_errors(404)[0]["type"]
    assert error["code"] == "route_not_found"
    assert "GET /v1/gadgets/abc" in error["message"]


def test_a_known_path_with_another_method_is_a_405_envelope(http: httpx.Client) -> None:
    response = http.patch("/v1/widgets/abc")
    error = error_of(response, 405)
    assert error["code"] == "method_not_allowed"
    assert response.headers["allow"] == "DELETE, GET"


def test_a_literal_segment_wins_over_a_path_parameter() -> None:
    latest = attrs.evolve(
        GET_WIDGET, name="latest_widget", path="/v1/widgets/latest", parameters=()
    )
    other = {**WIDGET, "id": "w_latest"}
    latest = attrs.evolve(
        latest,
        responses={200: DocumentedResponse(200, "Latest.", "application/json", None, (other,))},
    )
    with serving(MockApi(operations={"get_widget": GET_WIDGET, "latest": latest})) as http:
        assert http.get("/v1/widgets/latest").json() == other
        assert http.get("/v1/widgets/abc").json() == WIDGET


# -- injected failures -------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(ERRORS))
def test_fail_next_answers_the_operations_documented_error(
    api: MockApi, http: httpx.Client, status: int
) -> None:
    api.faults.fail_next(status, retry_after=3)
    response = http.get("/v1/widgets/abc")
    assert error_of(response, status) in documented_errors(status)
    assert response.headers["retry-after"] == "3"
    assert http.get("/v1/widgets/abc").status_code == 200


def test_fail_next_answers_an_example_the_operation_itself_documents() -> None:
    own = {"error": {"type": "not_found_error", "message": "No widget 'abc'.", "code": "no_widget"}}
    documented = DocumentedResponse(404, "No such widget.", "application/json", None, (own,))
    operation = attrs.evolve(GET_WIDGET, responses={**GET_WIDGET.responses, 404: documented})
    api = MockApi(operations={**OPERATIONS, operation.name: operation})
    with serving(api) as http:
        api.faults.fail_next(404, times=2)
        assert http.get("/v1/widgets/abc").json() == own
        # Elsewhere, the chat operation's own example.
        assert error_of(http.post("/v1/chat", json={}), 404) in documented_errors(404)


# -- the spec's schemas, for fields it gains later ------------------------------------------


def test_a_field_added_to_the_chat_body_is_checked_with_its_schema() -> None:
    assert CHAT.body_schema is not None
    properties: Mapping[str, Any] = CHAT.body_schema["properties"]
    schema = {
        **CHAT.body_schema,
        "properties": {
            **properties,
            "tone": {"type": "string", "minLength": 2, "maxLength": 8},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        },
    }
    evolved = attrs.evolve(CHAT, body_schema=schema)
    with serving(MockApi(operations={evolved.name: evolved})) as http:
        for body, param in [
            ({"message": "Hi", "tone": "x"}, "tone"),
            ({"message": "Hi", "tone": "x" * 9}, "tone"),
            ({"message": "Hi", "temperature": 2.5}, "temperature"),
            ({"message": "Hi", "temperature": "hot"}, "temperature"),
        ]:
            assert_bad_request(http.post("/v1/chat", json=body), param)
        accepted = http.post("/v1/chat", json={"message": "Hi", "tone": "warm", "temperature": 2})
        assert accepted.status_code == 200
        assert "You said" in accepted.json()["reply"]


def test_schemas_are_compiled_once_not_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    api = MockApi(operations={**OPERATIONS, **OTHERS})
    compiled: list[Any] = []
    for module in (_checks, _schema):
        monkeypatch.setattr(module, "compile_schema", compiled.append)
    for method, target, body in [
        ("POST", "/v1/chat", b'{"message": "Hi"}'),
        ("GET", "/v1/widgets/abc?limit=2", b""),
        ("POST", "/v1/widgets", b'{"name": "ok"}'),
    ]:
        reply = api.respond(Request(method, target, {"authorization": AUTH["Authorization"]}, body))
        assert 200 <= reply.status < 300, reply.body
    assert compiled == []
