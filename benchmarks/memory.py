"""RSS growth over many sequential Client.chat() calls, vs httpx.Client.post().

Each side runs in a child process of its own (`python benchmarks/memory.py sdk URL N`),
so one heap's growth cannot hide in the other's. RSS is read after a warm-up, so
one-time costs (imports, the first connection) do not count as growth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _measure import KEY, MESSAGE, Figure, rss_bytes

WARM_UP_CALLS = 200


def _child(side: str, url: str, calls: int) -> None:
    import httpx

    import convokit

    if side == "sdk":
        client = convokit.create_client(KEY, base_url=url)

        def call() -> object:
            return client.chat(message=MESSAGE)
    else:
        http = httpx.Client()
        body = {"message": MESSAGE}
        headers = {"Authorization": f"Bearer {KEY}"}

        def call() -> object:
            return http.post(url + "/v1/chat", json=body, headers=headers).json()

    for _ in range(WARM_UP_CALLS):
        call()
    before = rss_bytes()
    for _ in range(calls):
        call()
    print(json.dumps({"before": before, "after": rss_bytes()}))


def _measure(side: str, url: str, calls: int) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), side, url, str(calls)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    measured: dict[str, int] = json.loads(result.stdout)
    return measured


def run(url: str, calls: int) -> list[Figure]:
    """The RSS growth figure (MB); the target is absolute: < 5 MB."""
    sdk = _measure("sdk", url, calls)
    raw = _measure("raw", url, calls)
    megabyte = 1024 * 1024
    figure = Figure(
        f"RSS growth over {calls} sequential calls",
        "MB",
        (sdk["after"] - sdk["before"]) / megabyte,
        (raw["after"] - raw["before"]) / megabyte,
        "< 5 MB",
    )
    figure.met = figure.sdk < 5
    figure.notes.append(
        f"RSS after {WARM_UP_CALLS} warm-up calls: convokit {sdk['before'] / megabyte:.1f} MB, "
        f"raw {raw['before'] / megabyte:.1f} MB (the ratio of two near-zero growths is noise)"
    )
    return [figure]


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
