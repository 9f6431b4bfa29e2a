"""The JS SDK's first example in Python: a question, then a follow-up in the same thread.

With CONVOKIT_SECRET_KEY set, this talks to the real ConvoKit API. Without it, it
starts the embedded mock server (convokit.testing.MockServer) and talks to that.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from convokit import create_client


@contextlib.contextmanager
def api_settings() -> Iterator[dict[str, str]]:
    """The key and base URL to use: the real API's, or a local mock server's."""
    if os.environ.get("CONVOKIT_SECRET_KEY"):
        print("Using the ConvoKit API with the key in CONVOKIT_SECRET_KEY.")
        yield {}
        return
    from convokit.testing import MockServer

    with MockServer() as server:
        print(
            f"CONVOKIT_SECRET_KEY is not set: using the embedded mock server at {server.base_url}"
        )
        yield {"api_key": "sk_test_demo", "base_url": server.base_url}


def main() -> None:
    with api_settings() as settings, create_client(**settings) as client:
        # New conversation
        first = client.chat(message="What are your support hours?")
        print(f"You:  What are your support hours?\nAI:   {first.reply}")

        # Follow-up in the same thread
        second = client.chat(message="And on weekends?", conversation_id=first.conversation_id)
        print(f"You:  And on weekends?\nAI:   {second.reply}")

        print(f"conversation_id: {second.conversation_id}")
        print(f"tokens used: {first.usage.total_tokens + second.usage.total_tokens}")


if __name__ == "__main__":
    main()
