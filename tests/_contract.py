"""openapi-core, a validator nobody here wrote, checking real traffic against openapi.yaml.

`ContractValidator.check(request, body, response)` validates one httpx exchange. The
`ValidatingTransport` / `AsyncValidatingTransport` wrappers run it on every
exchange of an httpx client, so a ConvoKit client built with
`http_client=httpx.Client(transport=ValidatingTransport(validator))` has every
request it sends and every response it gets checked.

The pytest fixture `contract_checked_server` (registered for the whole suite by
tests/conftest.py) is a MockServer whose traffic with the clients it hands out
is validated for the whole session; a violation fails the test that caused it
at once, and any that slipped past fails the session's teardown.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from _spec import SPEC_PATH, examples_of, resolve, spec
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

import convokit
from convokit.testing import MockServer

CONTRACT_API_KEY = "sk_test_contract_checked"

_CHAT = spec()["paths"]["/v1/chat"]["post"]
DOCUMENTED_ERRORS = sorted(int(status) for status in _CHAT["responses"] if int(status) >= 400)
"""Every error status openapi.yaml documents for POST /v1/chat."""

ERRORS_OF_THEIR_OWN: dict[int, type[convokit.APIStatusError]] = {
    400: convokit.BadRequestError,
    401: convokit.AuthenticationError,
    403: convokit.PermissionDeniedError,
    404: convokit.NotFoundError,
    409: convokit.ConflictError,
    413: convokit.RequestTooLargeError,
    422: convokit.UnprocessableEntityError,
    429: convokit.RateLimitError,
}
"""The statuses README's error table gives a class of their own."""


def error_class(status: int) -> type[convokit.APIStatusError]:
    """The error the SDK must raise for `status` (README "Errors"): the status's own class,
    InternalServerError for any 5xx, and APIStatusError itself for any other status, such
    as one the spec documents later."""
    if status >= 500:
        return convokit.InternalServerError
    return ERRORS_OF_THEIR_OWN.get(status, convokit.APIStatusError)


def error_example(status: int) -> dict[str, str]:
    """The `error` object of openapi.yaml's example response for `status`."""
    response = resolve(_CHAT["responses"][str(status)])
    detail: dict[str, str] = examples_of(response["content"]["application/json"])[0]["error"]
    return detail


# openapi-core matches a request's host against the spec's `servers`; a local server
# stands in for production, so requests are presented as if sent there.
SPEC_SERVER_URL: str = spec()["servers"][0]["url"]


class ContractViolation(AssertionError):
    """An exchange that openapi.yaml does not allow."""


class _OpenAPIRequest:
    """An httpx.Request in the shape openapi-core's Request protocol asks for."""

    def __init__(self, request: httpx.Request, body: bytes) -> None:
        url = urlsplit(str(request.url))
        self.host_url = SPEC_SERVER_URL
        self.path = url.path
        self.method = request.method.lower()
        self.body: bytes | None = body or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(url.query)),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )


class _OpenAPIResponse:
    """An httpx.Response in the shape openapi-core's Response protocol asks for."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(list(response.headers.multi_items()))
        self.data: bytes | None = response.content


@dataclass
class ContractValidator:
    """Validates exchanges against openapi.yaml and counts what it checked."""

    openapi: OpenAPI = field(default_factory=lambda: OpenAPI.from_file_path(str(SPEC_PATH)))
    exchanges_checked: int = 0
    violations: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def request_problems(self, request: httpx.Request, body: bytes) -> list[str]:
        """What openapi.yaml says is wrong with `request` (empty when it conforms)."""
        wrapped = _OpenAPIRequest(request, body)
        return [_describe(error) for error in self.openapi.iter_request_errors(wrapped)]

    def response_problems(
        self, request: httpx.Request, body: bytes, response: httpx.Response
    ) -> list[str]:
        """What openapi.yaml says is wrong with `response` to `request`."""
        wrapped = _OpenAPIRequest(request, body)
        return [
            _describe(error)
            for error in self.openapi.iter_response_errors(wrapped, _OpenAPIResponse(response))
        ]

    def check(self, request: httpx.Request, body: bytes, response: httpx.Response) -> None:
        """Validates one exchange; records and raises ContractViolation if it breaks the spec."""
        found = [f"request: {p}" for p in self.request_problems(request, body)]
        found += [
            f"response {response.status_code}: {p}"
            for p in self.response_problems(request, body, response)
        ]
        with self._lock:
            self.exchanges_checked += 1
            self.violations.extend(f"{request.method} {request.url.path}: {p}" for p in found)
        if found:
            raise ContractViolation(
                f"{request.method} {request.url.path} breaks openapi.yaml:\n  " + "\n  ".join(found)
            )


def _describe(error: Exception) -> str:
    # Schema errors carry the precise reasons in __cause__.schema_errors.
    reasons = getattr(error.__cause__, "schema_errors", None) or []
    detail = "; ".join(getattr(reason, "message", str(reason)) for reason in reasons)
    try:
        text = str(error)
    except UnicodeDecodeError:  # openapi-core's message quotes a body that is not UTF-8
        text = repr(error.__cause__)
    return f"{type(error).__name__}: {text}" + (f" ({detail})" if detail else "")


class ValidatingTransport(httpx.BaseTransport):
    """An httpx transport that validates each exchange it carries."""

    def __init__(self, validator: ContractValidator, inner: httpx.BaseTransport | None = None):
        self._validator = validator
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = self._inner.handle_request(request)
        response.read()
        self._validator.check(request, body, response)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncValidatingTransport(httpx.AsyncBaseTransport):
    """The async twin of ValidatingTransport."""

    def __init__(
        self, validator: ContractValidator, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._validator = validator
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self._inner.handle_async_request(request)
        await response.aread()
        self._validator.check(request, body, response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class ContractCheckedServer:
    """A MockServer whose traffic with the clients made here is validated by openapi-core."""

    server: MockServer
    validator: ContractValidator
    api_key: str = CONTRACT_API_KEY

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @contextlib.contextmanager
    def client(self, **options: Any) -> Iterator[convokit.Client]:
        """A sync client for this server whose every exchange goes through the validator."""
        transport = ValidatingTransport(self.validator)
        with httpx.Client(transport=transport, follow_redirects=False) as http:
            yield convokit.create_client(
                self.api_key, base_url=self.base_url, http_client=http, **options
            )

    @contextlib.asynccontextmanager
    async def async_client(self, **options: Any) -> AsyncIterator[convokit.AsyncClient]:
        """An async client for this server whose every exchange goes through the validator."""
        transport = AsyncValidatingTransport(self.validator)
        async with httpx.AsyncClient(transport=transport, follow_redirects=False) as http:
            yield convokit.create_async_client(
                self.api_key, base_url=self.base_url, http_client=http, **options
            )


@pytest.fixture(scope="session")
def contract_checked_server() -> Iterator[ContractCheckedServer]:
    """One MockServer for the session whose exchanges with `.client()` /
    `.async_client()` are validated against openapi.yaml by openapi-core."""
    with MockServer(api_key=CONTRACT_API_KEY) as server:
        checked = ContractCheckedServer(server, ContractValidator())
        yield checked
    assert not checked.validator.violations, "\n".join(checked.validator.violations)
