"""schemathesis, a fuzzer nobody here wrote, holds MockServer to openapi.yaml.

With a valid key, every generated request (examples, boundary values, random
valid and invalid data, unexpected methods) runs through all of schemathesis'
checks: responses conform to the spec, valid data is accepted, invalid data is
refused, and the server refuses the same request without a key or with a wrong
one. Without a valid key, every request must be refused with the documented 401.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from _contract import ContractValidator
from _spec import SPEC_PATH, spec
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup

from convokit.testing import MockServer
from convokit_generated.api.chat import create_chat

pytestmark = pytest.mark.slow

API_KEY = "sk_test_schemathesis"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
schema = schemathesis.openapi.from_path(SPEC_PATH)
VALIDATOR = ContractValidator()
load_all_checks()
NEGATIVE_DATA_REJECTION = CHECKS.get_by_names(["negative_data_rejection"])


class MockUnderTest:
    """A MockServer, with the status of every response it sent, in order."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.server = MockServer(api_key=API_KEY, log=self._log)
        self.by_mode: Counter[tuple[str, str, int]] = Counter()

    def _log(self, line: str) -> None:
        # "POST /v1/chat 200 req_...": the status is the third field.
        self.statuses.append(int(line.split()[2]))


@pytest.fixture(scope="module")
def mock() -> Iterator[MockUnderTest]:
    under_test = MockUnderTest()
    with under_test.server:
        yield under_test


def _documented(case: schemathesis.Case) -> bool:
    """Whether the spec has the case's method on its path (schemathesis tries others too)."""
    return case.method.lower() in spec()["paths"][case.path]


def _problems_of_the_request_sent(response: schemathesis.Response) -> list[str]:
    """What openapi-core, a validator of its own, finds wrong with the request as it went
    on the wire (empty when openapi.yaml allows it)."""
    sent = response.request
    body = sent.body.encode() if isinstance(sent.body, str) else sent.body or b""
    # Header values as http.client writes them: Latin-1.
    headers = [
        (name, value if isinstance(value, bytes) else value.encode("latin-1"))
        for name, value in sent.headers.items()
    ]
    request = httpx.Request(sent.method or "GET", sent.url or "", headers=headers)
    return VALIDATOR.request_problems(request, body)


def _mode(case: schemathesis.Case) -> str:
    assert case.meta is not None
    return str(case.meta.generation.mode.value)


def test_every_schemathesis_check_is_enabled() -> None:
    load_all_checks()
    operation = schema["/v1/chat"]["POST"]
    config = schema.config.checks_config_for(operation=operation, phase=None)
    names = CHECKS.get_all_names()
    assert {"ignored_auth", "negative_data_rejection", "response_schema_conformance"} <= set(names)
    assert [name for name in names if not config.get_by_name(name=name).enabled] == []


@schema.parametrize()
def test_mock_server_passes_every_check_with_a_valid_key(
    case: schemathesis.Case, mock: MockUnderTest
) -> None:
    sent_before = len(mock.statuses)
    response = case.call_and_validate(
        base_url=mock.server.base_url, headers=AUTH, excluded_checks=NEGATIVE_DATA_REJECTION
    )
    try:
        case.validate_response(response, checks=NEGATIVE_DATA_REJECTION)
    except FailureGroup as failures:
        # The check judges the case as generated. Sending the key (AUTH) undoes a negation
        # of its Authorization header, and a query key with no values is not sent at all:
        # its verdict stands unless what went out is a request openapi-core finds valid.
        artifact = all(isinstance(failure, AcceptedNegativeData) for failure in failures.exceptions)
        if not artifact or _problems_of_the_request_sent(response):
            raise
    mode = _mode(case)
    mock.by_mode[(mode, case.method, response.status_code)] += 1
    if not _documented(case):
        assert response.status_code == 405
    elif mode == "positive" and (case.method, case.path) == (create_chat.METHOD, create_chat.PATH):
        # 404: a generated conversationId that does not exist; 409: a generated
        # Idempotency-Key reused with another body. Both are documented answers.
        assert response.status_code in (200, 404, 409), response.text
    elif mode == "positive":
        # Any other operation answers its documented example.
        assert 200 <= response.status_code < 300, response.text
    elif response.status_code < 400:
        # Invalid data taken: right only when the negation did not survive serialization
        # (a query key with no values, a Content-Type on an operation without a body), so
        # that what went out is a request the spec allows.
        assert not _problems_of_the_request_sent(response), response.text
    else:
        assert response.status_code < 500, response.text
    if mode == "positive" and 200 <= response.status_code < 300:
        # ignored_auth re-sent this request without the key and with a wrong one.
        assert 401 in mock.statuses[sent_before + 1 :], "the auth probes did not run"


@schema.parametrize()
def test_mock_server_refuses_every_request_without_a_valid_key(
    case: schemathesis.Case, mock: MockUnderTest
) -> None:
    response = case.call_and_validate(base_url=mock.server.base_url)
    mock.by_mode[(f"{_mode(case)}-no-key", case.method, response.status_code)] += 1
    if not _documented(case):
        assert response.status_code == 405
        return
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"


def test_the_fuzzing_reached_every_kind_of_answer(mock: MockUnderTest) -> None:
    """Runs after the two fuzzing tests above (pytest keeps file order) and fails if
    they generated too little to mean anything."""
    if not mock.by_mode:
        pytest.fail("run this module whole: this test checks what the fuzzing tests above saw")
    seen = {(mode, status) for mode, _, status in mock.by_mode}
    assert {("positive", 200), ("negative", 400), ("positive-no-key", 401)} <= seen, seen
    assert ("negative-no-key", 401) in seen, seen
    assert mock.statuses.count(401) > sum(
        count for (mode, _, status), count in mock.by_mode.items() if status == 401
    ), "no ignored_auth probe was answered 401"
