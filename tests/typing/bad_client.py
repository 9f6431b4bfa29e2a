"""Mistakes in client options: each line marked `# expect-error` must be reported by both
pyright (strict) and mypy (--strict), and no other line may be."""

import httpx

from convokit import AsyncClient, Client, ClientOptions, create_async_client, create_client

create_client(api_kye="sk_test_123")  # expect-error: a mistyped option
create_client(apiKye="sk_test_123")  # expect-error: a mistyped camelCase option
create_client({"apiKye": "sk_test_123"})  # expect-error: a TS-style dict with a typo'd key
create_client(123)  # expect-error: the key is text
create_client(max_retries="2")  # expect-error: retries are a number
create_client(timeout="30")  # expect-error: a timeout is seconds
create_client(default_headers={"X-Count": 1})  # expect-error: header values are text
create_client(message="Hi")  # expect-error: a chat() option given to the client
create_client(http_client=httpx.AsyncClient())  # expect-error: the sync client takes httpx.Client
create_async_client(http_client=httpx.Client())  # expect-error: the async one, httpx.AsyncClient
Client(api_kye="sk_test_123")  # expect-error: a mistyped option
Client("sk_test_123")  # expect-error: Client() takes keywords (create_client takes the key)
AsyncClient(httpClient=httpx.Client())  # expect-error: the async client takes httpx.AsyncClient
settings: ClientOptions = {"apiKey": "sk_test_123", "maxRetrys": 2}  # expect-error: typo'd key
client = create_client()
client.with_options(max_retires=1)  # expect-error: a mistyped option
client.with_options(http_client=httpx.Client())  # expect-error: a copy shares the pool
client.with_options(proxy="http://proxy.internal:3128")  # expect-error: a copy shares the pool
client.with_options(message="Hi")  # expect-error: a chat() option
