"""Every documented way to call chat(), create_client() and with_options(), as a user's
type-checked code: zero errors under pyright strict and mypy --strict."""

from typing import assert_type

import httpx

from convokit import (
    ChatMessage,
    ChatMessageDict,
    ChatOptions,
    ChatResponse,
    Client,
    ClientOptions,
    Usage,
    create_client,
)

# create_client(): the key, a TS-style dict, keywords in either spelling, or a mix.
client = create_client("sk_test_123")
client = create_client()
client = create_client({"apiKey": "sk_test_123", "baseUrl": "http://localhost:8787"})
client = create_client({"apiKey": "sk_test_123"}, max_retries=4, defaultHeaders={"X-Team": "a"})
client = create_client(apiKey="sk_test_123", maxRetries=1, allowInsecure=True, timeout=None)
settings: ClientOptions = {"api_key": "sk_test_123", "total_timeout": 30.0, "proxy": None}
client = create_client(settings)
client = create_client(**settings)
client = create_client("sk_test_123", http_client=httpx.Client(), base_url=httpx.URL("http://x"))
client = Client(api_key="sk_test_123", timeout=httpx.Timeout(10.0))
assert_type(client.with_options(timeout=5.0, defaultHeaders={"X-Team": "b"}), Client)

# chat(): keywords (snake_case, camelCase or both), the message alone, a JS-style dict, mixes.
res = client.chat(message="Hi")
assert_type(res, ChatResponse)
client.chat(message="Hi", conversation_id=res.conversation_id, widget_id="w", instance_id="i")
client.chat(message="Hi", conversationId=res.conversation_id, instanceId="my-bot")
client.chat(message="Hi", timeout=10.0, total_timeout=20.0, max_retries=0, extra_headers={})
client.chat(message="Hi", totalTimeout=20.0, maxRetries=0, extraHeaders={"X-Trace": "1"})
client.chat(message="Hi", idempotency_key="ticket-1", timeout=httpx.Timeout(5.0, connect=1.0))
client.chat(message="Hi", idempotencyKey="ticket-2", conversation_id=None)
client.chat("Hi")
client.chat("Hi", conversation_id=res.conversation_id, max_retries=1)
client.chat({"message": "Hi"})
client.chat({"message": "Hi", "conversationId": res.conversation_id, "widgetId": "w"})
client.chat({"message": "Hi", "maxRetries": 1, "extraHeaders": {"X-Trace": "1"}})
client.chat({"message": "Hi", "idempotencyKey": "k", "timeout": 5.0, "totalTimeout": None})
client.chat({"message": "Hi"}, conversation_id=res.conversation_id, timeout=5.0)

# chat_history: ChatMessage objects, dicts of their JSON fields, or both.
client.chat(message="Hi", chat_history=[])
client.chat(message="Hi", chat_history=[ChatMessage(role="user", content="Hello")])
client.chat(message="Hi", chat_history=[{"role": "system", "content": "Be brief."}])
client.chat(
    message="Hi",
    chatHistory=[ChatMessage(role="user", content="Hello"), {"role": "assistant", "content": "Hi"}],
)
client.chat({"message": "Hi", "chatHistory": [{"role": "user", "content": "Hello"}]})
turns: list[ChatMessage] = [ChatMessage(role="assistant", content="Hello")]
client.chat(message="Hi", chat_history=turns)
dicts: list[ChatMessageDict] = [{"role": "user", "content": "Hello"}]
client.chat(message="Hi", chat_history=dicts)
options: ChatOptions = {"message": "Hi", "chatHistory": dicts}
client.chat(options, max_retries=0)

# The conversation helper, and its history as the next call's context.
conversation = client.conversation(widget_id="support", instance_id="my-bot")
reply = conversation.send("Hi", timeout=5.0, idempotency_key="k")
history = conversation.history
assert_type(history, list[ChatMessage])
client.chat(message="Summarise", chat_history=history)
later = client.conversation(conversation_id=reply.conversation_id)
later.send("And then?", maxRetries=0)

# client.api: every operation by its snake_case operationId.
generic = client.api.create_chat(message="Hi", chat_history=turns, max_retries=0)
assert_type(generic, ChatResponse)

# The response.
assert_type(res.reply, str)
assert_type(res.conversation_id, str)
assert_type(res.usage, Usage)
assert_type(res.usage.total_tokens, int)
assert_type(res.request_id, str | None)
