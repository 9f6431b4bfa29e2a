"""Runs examples/fastapi_backend.py under a real uvicorn on 127.0.0.1, for the example's tests."""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import uvicorn

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_backend.py"
_STARTUP_SECONDS = 30
_loads = itertools.count()


def load_example() -> ModuleType:
    """A fresh import of the example (it reads SESSION_SECRET when its app is made)."""
    name = f"fastapi_backend_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def serve_example(module: ModuleType) -> Iterator[str]:
    """Serves a new app from `module` on a free loopback port; yields its base URL.

    Its lifespan reads CONVOKIT_SECRET_KEY and CONVOKIT_BASE_URL, so set them first.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(module.create_app(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the example app failed to start (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError("the example app did not start in time")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(_STARTUP_SECONDS)
        listener.close()
