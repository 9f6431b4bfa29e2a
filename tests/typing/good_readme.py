"""README's sync examples, as a user's type-checked code: zero errors under pyright strict
and mypy --strict."""

import logging
import os

import httpx

import convokit
from convokit import NOT_GIVEN, ChatOptions, ChatResponse, NotGiven, create_client
from convokit.testing import MockServer

# Usage
client = create_client(os.environ["CONVOKIT_SECRET_KEY"])
res = client.chat(message="What are your support hours?")
print(res.reply)
res2 = client.chat(message="And on weekends?", conversation_id=res.conversation_id)
print(res2.reply)

# JS-style option dicts
client = create_client()
res = client.chat({"message": "What are your support hours?"})
res2 = client.chat({"message": "And on weekends?", "conversationId": res.conversation_id})

# Typed (the TypeScript example)
client = create_client({"apiKey": os.environ["CONVOKIT_SECRET_KEY"]})
options: ChatOptions = {"message": "Hello", "instanceId": "my-bot", "chatHistory": []}
typed: ChatResponse = client.chat(options)
print(typed.reply, typed.usage.total_tokens)

# Conversation history
res = client.chat(
    message="What did I just ask?",
    chat_history=[
        {"role": "user", "content": "What are your support hours?"},
        {"role": "assistant", "content": "We are open 9am–5pm Monday to Friday."},
    ],
)

# A conversation helper
conversation = client.conversation()  # optional: widget_id=..., instance_id=...
conversation.send("What are your support hours?")
res = conversation.send("And on weekends?")
print(conversation.id == res.conversation_id, len(conversation.history))

# Headers
with MockServer() as server:
    client = create_client(
        "sk_test_123",
        base_url=server.base_url,
        default_headers={"User-Agent": "acme-bot/2.3", "X-Team": "support"},
    )
    client.chat(message="Hi", extra_headers={"x-team": "sales"})
    sent = server.requests[-1].headers
    assert sent["user-agent"] == "acme-bot/2.3"


# Response: NOT_GIVEN
def shown(value: str | NotGiven) -> str:
    return "(not sent)" if value is NOT_GIVEN else value


print(shown(NOT_GIVEN), repr(NOT_GIVEN), bool(NOT_GIVEN), res.request_id)

# Errors
try:
    client.chat(message="Hello again", conversation_id="conv_that_does_not_exist")
except convokit.NotFoundError as error:
    print(error.status_code, error.error_type, error.param, error.request_id)
except convokit.APIConnectionError:
    print("ConvoKit could not be reached; try again later")
except convokit.APIError as error:
    print(f"ConvoKit said {error.message} (request {error.request_id})")

# Retries and idempotency
client = create_client(max_retries=4)
res = client.chat(message="Where is my order?", idempotency_key="ticket-1234-message-1")

# Timeouts
client = create_client(timeout=httpx.Timeout(30.0, connect=3.0), total_timeout=45.0)
res = client.chat(message="Quick question", timeout=10.0)
fast = client.with_options(max_retries=0, total_timeout=5.0)
print(fast.chat(message="Another one").reply)

# Logging
logging.getLogger("convokit").setLevel(logging.INFO)
client.chat(message="Hello")

# Security
for bad in ("pk_live_abc123", "sk_live_abc\n"):
    try:
        create_client(bad)
    except ValueError as problem:
        print(problem)
try:
    create_client("sk_live_abc123", base_url="http://api.example.com")
except ValueError as problem:
    print(problem)

# Proxies
client = create_client(proxy="http://proxy.internal:3128")
print(client.base_url)

# Using your own httpx client
seen: list[str] = []


def record(request: httpx.Request) -> None:  # httpx types a hook's argument as Any
    seen.append(request.url.path)


http = httpx.Client(event_hooks={"request": [record]})
client = create_client(http_client=http)
client.chat(message="Hello through my own client")
http.close()

# MockServer
log: list[str] = []
with MockServer(
    api_key="sk_test_123",
    responder=lambda messages: f"echo: {messages[-1]['content']}",
    log=log.append,
) as server:
    client = create_client("sk_test_123", base_url=server.base_url)
    res = client.chat(message="Hi there")
    assert server.conversations[res.conversation_id][0] == {"role": "user", "content": "Hi there"}
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/chat")
    server.fail_next(503, times=2)
    client.chat(message="Still there?")
    server.drop_next()
    client.chat(message="Did you get that?")
