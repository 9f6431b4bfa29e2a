"""Mistakes in chat() calls: each line marked `# expect-error` must be reported by both
pyright (strict) and mypy (--strict), and no other line may be."""

from convokit import ChatMessage, ChatOptions, create_client

client = create_client()
client.chat(mesage="Hi")  # expect-error: a mistyped option
client.chat(message=123)  # expect-error: the message is text
client.chat(message="Hi", conversationID="conv_1")  # expect-error: README's mistyped camelCase
client.chat({"mesage": "Hi"})  # expect-error: an inline dict with a typo'd key
client.chat({"message": "Hi", "conversationID": "conv_1"})  # expect-error: typo'd dict key
client.chat({"message": 123})  # expect-error: a dict value of the wrong type
client.chat({"conversationId": "conv_1"})  # expect-error: a dict without the message
client.chat()  # expect-error: no message at all
client.chat(conversation_id="conv_1")  # expect-error: keywords without the message
client.chat(123)  # expect-error: the shorthand is the message text
client.chat(message="Hi", base_url="http://localhost")  # expect-error: a client option
client.chat(message="Hi", api_key="sk_test_123")  # expect-error: a client option
client.chat(message="Hi", max_retries="2")  # expect-error: retries are a number
client.chat(message="Hi", timeout="10")  # expect-error: a timeout is seconds
client.chat(message="Hi", extra_headers={"X-Count": 1})  # expect-error: header values are text
client.chat(message="Hi", chat_history=[{"role": "bot", "content": "x"}])  # expect-error: role
client.chat(message="Hi", chat_history=[{"role": "user"}])  # expect-error: no content
client.chat(message="Hi", chat_history=[{"role": "user", "content": 1}])  # expect-error: content
client.chat(message="Hi", chat_history=[{"role": "user", "text": "x"}])  # expect-error: key
client.chat(message="Hi", chat_history="What are your hours?")  # expect-error: not a list
client.chat({"message": "Hi", "chatHistory": [{"role": "bot", "content": "x"}]})  # expect-error
options: ChatOptions = {"message": "Hi", "instanceID": "my-bot"}  # expect-error: typo'd key
ChatMessage(role="bot", content="x")  # expect-error: not a role
res = client.chat(message="Hi")
print(res.reply_text)  # expect-error: no such response field
print(res.usage.total)  # expect-error: no such usage field
