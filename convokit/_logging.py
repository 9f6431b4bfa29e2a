"""The `convokit` logger: off unless the application or CONVOKIT_LOG turns it on, and
never given the key or message content (a redacting filter guards it anyway)."""

from __future__ import annotations

import logging
import os
import sys

from ._secrets import redact

LOG_ENV = "CONVOKIT_LOG"

logger = logging.getLogger("convokit")


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler CONVOKIT_LOG attaches (a class of its own so it is attached once)."""


logger.addFilter(_RedactingFilter())


def configure_from_env() -> None:
    """CONVOKIT_LOG=info|debug attaches one stderr handler at that level."""
    level = {"info": logging.INFO, "debug": logging.DEBUG}.get(
        os.environ.get(LOG_ENV, "").strip().lower()
    )
    if level is None or any(isinstance(h, _EnvHandler) for h in logger.handlers):
        return
    handler = _EnvHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s convokit %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
