"""README's async examples and the async client's call styles, as a user's type-checked
code: zero errors under pyright strict and mypy --strict."""

import asyncio
from typing import assert_type

import httpx
import trio

from convokit import AsyncClient, ChatOptions, ChatResponse, create_async_client


async def main() -> None:
    async with create_async_client() as client:
        res = await client.chat(message="What are your support hours?")
        res2 = await client.chat(message="And on weekends?", conversation_id=res.conversation_id)
        print(res2.reply)
        assert_type(res2, ChatResponse)

        options: ChatOptions = {"message": "Hello", "instanceId": "my-bot"}
        await client.chat(options)
        await client.chat({"message": "Hi", "conversationId": res.conversation_id}, timeout=5.0)
        await client.chat("Hi", maxRetries=0)

        conversation = client.conversation(instance_id="my-bot")
        await conversation.send("What are your support hours?")
        turn = await conversation.send("And on weekends?", total_timeout=30.0)
        print(turn.reply, conversation.id, len(conversation.history))

        generic = await client.api.create_chat(message="Hi", idempotency_key="key-1")
        assert_type(generic, ChatResponse)

        quick = client.with_options(max_retries=0, totalTimeout=5.0)
        assert_type(quick, AsyncClient)


client = create_async_client()


async def ask(message: str) -> str:
    return (await client.chat(message=message)).reply


print(asyncio.run(ask("Asked in one event loop")))
print(trio.run(ask, "and under trio"))

asyncio.run(main())
own = create_async_client(
    "sk_test_123", http_client=httpx.AsyncClient(), base_url="http://localhost"
)
direct = AsyncClient(api_key="sk_test_123", httpClient=httpx.AsyncClient())
