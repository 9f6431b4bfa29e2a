"""A field added to openapi.yaml reaches users after regeneration with no edit to convokit/.

In a copy of the repository: add an optional request field (`replyLanguage`) and a
response field (`model_version`), run scripts/regen.sh, and prove with the copy's own
package that `chat(reply_language=...)` and `chat({"replyLanguage": ...})` send it as
`replyLanguage`, and that `response.model_version` reads the new response field.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _repo_copy import copy_repo, run_regen
from _spec import ROOT

pytestmark = pytest.mark.slow

REQUEST_ANCHOR = """        chatHistory:
          type: array"""
REQUEST_ADDED = (
    """        replyLanguage:
          type: string
          description: Language for the reply (BCP 47).
"""
    + REQUEST_ANCHOR
)
RESPONSE_ANCHOR = """        usage:
          $ref: "#/components/schemas/Usage"
    Usage:"""
RESPONSE_ADDED = """        usage:
          $ref: "#/components/schemas/Usage"
        model_version:
          type: string
          description: The model that wrote the reply.
    Usage:"""

SCRIPT = r"""
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import convokit
from convokit import create_client
from convokit.testing import MockServer

received = []

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        body = json.dumps({"reply": "ok", "conversation_id": "conv_1", "model_version": "m-2",
                           "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
client = create_client("sk_test_evolution", base_url=f"http://127.0.0.1:{server.server_port}")
first = client.chat(message="Hola", reply_language="es")
client.chat({"message": "Hallo", "replyLanguage": "de"})
server.shutdown()

with MockServer() as mock:
    mock_client = create_client("sk_test_evolution", base_url=mock.base_url)
    mock_reply = mock_client.chat(message="Bonjour", replyLanguage="fr").reply
    mock_body = mock.requests[-1].body

print(json.dumps({
    "package": convokit.__file__,
    "sent": received,
    "model_version": first.model_version,
    "mock_reply": mock_reply,
    "mock_body": mock_body,
}))
"""


def test_a_new_field_is_usable_after_regen_with_convokit_unchanged(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    spec_path = repo / "openapi.yaml"
    spec_text = spec_path.read_text(encoding="utf-8")
    assert REQUEST_ANCHOR in spec_text and RESPONSE_ANCHOR in spec_text
    spec_text = spec_text.replace(REQUEST_ANCHOR, REQUEST_ADDED).replace(
        RESPONSE_ANCHOR, RESPONSE_ADDED
    )
    spec_path.write_text(spec_text, encoding="utf-8")

    regen = run_regen(repo)
    assert regen.returncode == 0, regen.stdout + regen.stderr

    unchanged = filecmp.dircmp(ROOT / "convokit", repo / "convokit", ignore=["__pycache__"])
    assert not (unchanged.diff_files or unchanged.left_only or unchanged.right_only)

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["package"].startswith(str(repo))
    assert outcome["sent"] == [
        {"message": "Hola", "replyLanguage": "es"},
        {"message": "Hallo", "replyLanguage": "de"},
    ]
    assert outcome["model_version"] == "m-2"
    assert outcome["mock_body"] == {"message": "Bonjour", "replyLanguage": "fr"}
    assert "Bonjour" in outcome["mock_reply"]
