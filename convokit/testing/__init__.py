"""A local ConvoKit API for demos and tests: what stripe-mock is to Stripe.

Import it explicitly (``import convokit`` does not load it)::

    from convokit import create_client
    from convokit.testing import MockServer

    with MockServer() as server:
        client = create_client("sk_test_123", base_url=server.base_url)
        res = client.chat(message="Hello")
        assert server.conversations[res.conversation_id][0]["content"] == "Hello"

The server follows ``openapi.yaml`` through the generated operation descriptors: it
serves every operation on a background thread, checks the ``Authorization: Bearer
sk_...`` header, validates path, query and header parameters and request bodies with
their schemas (fields the spec gains later included), and answers every error with the
documented ``{"error": {"type", "message", "code"?, "param"?}}`` envelope, its ``type``
(and injected errors' whole bodies) taken from the spec's examples. The chat operation
threads conversations by ``conversationId`` and honours ``Idempotency-Key``; any other
operation answers its documented example. It uses the standard library only (plus the
generated ``convokit_generated`` package), so it adds no dependency to a user's test
suite.
"""

from ._api import MAX_BODY_BYTES, RecordedRequest, Responder
from ._server import TEST_KEY, MockServer, run_mock_server

__all__ = [
    "MAX_BODY_BYTES",
    "TEST_KEY",
    "MockServer",
    "RecordedRequest",
    "Responder",
    "run_mock_server",
]

# Documented as convokit.testing's own (repr, pdoc), not their private modules'.
for _public in (MockServer, RecordedRequest):
    _public.__module__ = __name__
del _public
