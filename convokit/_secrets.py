"""The secret key's one home, and redaction of anything key-shaped from text the SDK emits."""

from __future__ import annotations

import re

# Any ConvoKit key (secret or public, live or test) that might reach a message:
# a server echoing the Authorization header, a key pasted into the wrong option.
# The possessive `?+` keeps "sk_live_..." (a placeholder in prose) from matching as
# the key "sk_" + "live_". After its first character a key may hold any printable
# character (see _config), so the match runs to whitespace or a delimiter: stopping
# at the first "." or "/" would print the rest of such a key.
_KEY_PATTERN = re.compile(r"\b([sp]k)_(?:(live|test)_)?+[A-Za-z0-9][^\s\"'`<>()\[\]{},;]{2,}")


def redact(text: str) -> str:
    """`text` with every ConvoKit-key-shaped token replaced by its prefix and `…`."""
    return _KEY_PATTERN.sub(_mask, text)


def redact_authorization(value: str) -> str:
    """An `Authorization` header value with its credential hidden: the scheme, and the
    kind of a ConvoKit key when the credential is one (`Bearer sk_test_...(redacted)`)."""
    scheme, _, credential = value.strip().partition(" ")
    if not credential.strip():
        return "(redacted)"  # no scheme to keep: the whole value may be the key
    match = _KEY_PATTERN.fullmatch(credential.strip())
    kind = "" if match is None else _mask(match).removesuffix("…")
    return f"{scheme} {kind}...(redacted)"


def _mask(match: re.Match[str]) -> str:
    prefix = match.group(1) + ("_" + match.group(2) if match.group(2) else "")
    return f"{prefix}_…"


class SecretKey:
    """Holds the API key. Nothing but `authorization()` ever reveals it.

    repr/str show only the key's kind, so a client, its config or a traceback's
    frame dump cannot print it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def authorization(self) -> str:
        """The `Authorization` header value."""
        return f"Bearer {self._value}"

    @property
    def kind(self) -> str:
        """`sk_live`, `sk_test` or `sk` (the part of the key that is safe to show)."""
        for prefix in ("sk_live_", "sk_test_"):
            if self._value.startswith(prefix):
                return prefix[:-1]
        return "sk"

    def __repr__(self) -> str:
        return f"SecretKey({self.kind}_…)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str:
        # Pickling would write the key to wherever the pickle goes.
        raise TypeError("a ConvoKit secret key cannot be pickled")
