"""Mistakes with the conversation helper, the async client, client.api and NOT_GIVEN: each
line marked `# expect-error` must be reported by both pyright (strict) and mypy (--strict),
and no other line may be."""

from convokit import NOT_GIVEN, ChatResponse, NotGiven, create_async_client, create_client

client = create_client()
conversation = client.conversation()
conversation.send(123)  # expect-error: the message is text
conversation.send(message="Hi")  # expect-error: the message is positional
conversation.send("Hi", mesage="x")  # expect-error: a mistyped option
conversation.send("Hi", max_retries="2")  # expect-error: retries are a number
conversation.send("Hi", base_url="http://localhost")  # expect-error: a client option
client.conversation(widgetid="support")  # expect-error: a mistyped argument
client.api.create_chat(mesage="Hi")  # expect-error: a mistyped argument
client.api.create_chat(message=123)  # expect-error: the message is text
client.api.create_chat()  # expect-error: no message
client.api.get_nothing()  # expect-error: no such operation


async def main() -> None:
    async_client = create_async_client()
    await async_client.chat(mesage="Hi")  # expect-error: a mistyped option
    await async_client.chat({"mesage": "Hi"})  # expect-error: a typo'd dict key
    unawaited: ChatResponse = async_client.chat(message="Hi")  # expect-error: not awaited
    print(unawaited)
    await async_client.conversation().send(123)  # expect-error: the message is text
    await async_client.api.create_chat(mesage="Hi")  # expect-error: a mistyped argument


def shown(value: str | NotGiven) -> str:
    if value is NOT_GIVEN:
        return value  # expect-error: NOT_GIVEN is not text
    return value
