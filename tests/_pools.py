"""What a client's connection pool holds, whichever backend it sends through."""

from __future__ import annotations

import convokit


def connections_in_use(client: convokit.Client | convokit.AsyncClient) -> int:
    """Connections a request of `client` holds right now: the SDK's httpx pool's count,
    or the aiohttp backend's (a leaked one stays counted)."""
    pooled = client._pool.http
    counted = getattr(pooled, "_transport", pooled)
    count: int = counted.connections_in_use
    return count
