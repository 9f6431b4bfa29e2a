"""scripts/docs.sh: the API reference is one HTML file that needs no network to open."""

from __future__ import annotations

import re
import subprocess

import pytest
from _spec import ROOT

pytestmark = pytest.mark.slow

# What the page may load: nothing from any network (scripts/docs-template.hbs).
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:"
)
INLINE_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
# Attributes that make a browser fetch (a link's href is only followed when clicked).
RESOURCE_ATTRIBUTE = re.compile(r"""\b(?:src|srcset|data|poster)\s*=\s*["']?\s*(?:https?:)?//""")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not (ROOT / "node_modules" / ".bin" / "redocly").exists():
        pytest.fail("node_modules/.bin/redocly is missing: run `make test` (it runs npm ci)")
    output = tmp_path_factory.mktemp("site") / "index.html"
    result = subprocess.run(
        [str(ROOT / "scripts" / "docs.sh"), str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"wrote {output}" in result.stdout
    return output.read_text(encoding="utf-8")


def test_the_page_is_the_reference_of_the_spec(page: str) -> None:
    assert "<title>ConvoKit Chat API reference</title>" in page
    for text in ("/v1/chat", "createChat", "conversationId", "Idempotency-Key", "secretKey"):
        assert text in page, text
    # Redoc itself is inlined: the page runs without fetching any script.
    assert len(INLINE_SCRIPT.findall(page)) >= 1
    assert len(page) > 500_000


def test_the_markup_loads_nothing_from_a_cdn_or_any_other_host(page: str) -> None:
    markup = INLINE_SCRIPT.sub("<script></script>", page)
    assert "https://cdn" not in markup
    assert '<script src="http' not in page
    assert re.search(r"<script[^>]*\bsrc=", page) is None
    assert re.search(r"<link[^>]*\bhref=", markup) is None
    assert RESOURCE_ATTRIBUTE.search(markup) is None, RESOURCE_ATTRIBUTE.search(markup)
    assert re.search(r"url\(\s*['\"]?(?:https?:)?//", markup) is None


def test_the_browser_is_told_to_load_nothing_from_the_network(page: str) -> None:
    # Redoc's inlined code still names a CDN logo image and a telemetry endpoint;
    # this policy, ahead of every script, stops the browser from requesting them.
    head = page[: page.index("<script")]
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in head
    assert '"disableTelemetry":true' in page


@pytest.mark.parametrize("path", ["site/index.html", "generated/typescript/convokit.d.ts"])
def test_built_output_is_git_ignored(path: str) -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{path} is not git-ignored"
