"""A web backend that relays a browser's chat messages to ConvoKit, keeping the secret key here.

The browser only ever talks to this server: `POST /api/chat {"message": "..."}`
returns `{"reply": "..."}`. The server adds the secret key (from the environment),
keeps each browser's conversation id in its session, and serves a tiny chat page at `/`.

Try it against the local mock API:

    convokit mock-server &
    export CONVOKIT_SECRET_KEY=sk_test_123 CONVOKIT_BASE_URL=http://127.0.0.1:8787
    export SESSION_SECRET="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    python examples/fastapi_backend.py          # then open http://127.0.0.1:8000

It needs fastapi, uvicorn and itsdangerous (for the signed session cookie); the SDK does not.
"""

import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, StringConstraints
from starlette.middleware.sessions import SessionMiddleware

import convokit

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_MESSAGE_CHARS = 4000
CONVERSATION = "conversation_id"  # the session entry holding this browser's thread

logger = logging.getLogger("convokit_example")

# The page loads only its own script and stylesheet, and may not be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ChatIn(BaseModel):
    """What the browser sends."""

    message: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS)
    ]


class ChatOut(BaseModel):
    """What the browser gets back: the reply, and nothing about the key or the thread."""

    reply: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One async client for the whole process: it reads CONVOKIT_SECRET_KEY (and
    CONVOKIT_BASE_URL) once, and its connection pool serves every request."""
    async with convokit.create_async_client() as client:
        app.state.convokit = client
        yield


def create_app() -> FastAPI:
    """The application: the chat endpoint, the page, sessions, and the error mapping."""
    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(),
        session_cookie="chat_session",
        # Sent only by this site's own pages (no cross-site POST can use it), never to scripts.
        same_site="strict",
        https_only=os.environ.get("SESSION_HTTPS_ONLY") == "1",
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.post("/api/chat")
    async def chat(body: ChatIn, request: Request) -> ChatOut:
        client: convokit.AsyncClient = request.app.state.convokit
        conversation_id = request.session.get(CONVERSATION)
        try:
            response = await client.chat(message=body.message, conversation_id=conversation_id)
        except convokit.NotFoundError:
            if conversation_id is None:
                raise
            # The thread is gone on ConvoKit's side: start a new one rather than
            # failing every message this browser sends from now on.
            response = await client.chat(message=body.message)
        request.session[CONVERSATION] = response.conversation_id
        return ChatOut(reply=response.reply)

    @app.post("/api/new-conversation", status_code=204)
    async def new_conversation(request: Request) -> Response:
        request.session.pop(CONVERSATION, None)
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(convokit.APIError, api_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    return app


def session_secret() -> str:
    """The key that signs session cookies: SESSION_SECRET, or a random one per process."""
    secret = os.environ.get("SESSION_SECRET")
    if secret:
        return secret
    logger.warning(
        "SESSION_SECRET is not set: using a random one, so conversations reset on restart "
        "and cannot be shared between worker processes."
    )
    return secrets.token_urlsafe(32)


async def bad_request(request: Request, error: Exception) -> JSONResponse:
    """400 for a body that is not `{"message": "<1 to 4000 characters>"}`."""
    return error_response(
        400, f'Send JSON {{"message": "..."}} with 1 to {MAX_MESSAGE_CHARS} characters.'
    )


async def api_error(request: Request, error: Exception) -> JSONResponse:
    """A failed ConvoKit call as an HTTP status the browser can act on.

    Details (status, type, request id) go to this server's log; the browser gets a
    short message and the request id to quote, never anything about the key.
    """
    assert isinstance(error, convokit.APIError)
    logger.warning("ConvoKit call failed: %s", error)
    if isinstance(error, convokit.APITimeoutError):
        return error_response(504, "The assistant took too long to answer. Try again.", error)
    if isinstance(error, convokit.APIConnectionError):
        return error_response(503, "The assistant is unreachable right now. Try again soon.", error)
    if isinstance(error, convokit.RateLimitError):
        retry_after = error.headers.get("retry-after")
        headers = {"Retry-After": retry_after} if retry_after else None
        return error_response(429, "Too many messages. Wait a moment.", error, headers)
    if isinstance(
        error,
        convokit.BadRequestError
        | convokit.UnprocessableEntityError
        | convokit.RequestTooLargeError,
    ):
        return error_response(400, "The assistant cannot take this message.", error)
    if isinstance(error, convokit.AuthenticationError | convokit.PermissionDeniedError):
        logger.error("ConvoKit refused this server's key: check CONVOKIT_SECRET_KEY.")
    return error_response(502, "The assistant is unavailable. Try again later.", error)


def error_response(
    status: int,
    message: str,
    error: convokit.APIError | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """`{"error": {"message", "request_id"}}` with `status`."""
    detail = {"message": message, "request_id": error.request_id if error else None}
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
