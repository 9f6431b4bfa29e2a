"""scripts/docs.sh: the HTTP API reference is one HTML file that needs no network to open,
and the Python API reference next to it, built from the docstrings, loads nothing remote."""

from __future__ import annotations

import html
import inspect
import pkgutil
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from _spec import ROOT

import convokit

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
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder scripts/docs.sh built: index.html (HTTP) and python/ (Python)."""
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
    assert f"wrote {output.parent / 'python' / 'index.html'}" in result.stdout
    return output.parent


@pytest.fixture(scope="module")
def page(site: Path) -> str:
    return (site / "index.html").read_text(encoding="utf-8")


def _public_modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.iter_modules(convokit.__path__)]
    public = [f"convokit.{name}" for name in names if not name.startswith("_")]
    return [convokit, *(__import__(name, fromlist=["_"]) for name in public)]


def _python_page(site: Path, module: ModuleType) -> str:
    path = site / "python" / (module.__name__.replace(".", "/") + ".html")
    assert path.is_file(), f"no page for {module.__name__}"
    return path.read_text(encoding="utf-8")


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


@pytest.mark.parametrize("module", _public_modules(), ids=lambda module: module.__name__)
def test_the_python_reference_documents_every_public_name(site: Path, module: ModuleType) -> None:
    page = _python_page(site, module)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for name in module.__all__:
        assert f'id="{name}"' in page, f"{module.__name__}.{name} is not documented"
        doc = _own_docstring(getattr(module, name))
        if doc is not None:
            # The docstring's first words as pdoc renders them: Markdown's marks aside.
            words = re.sub(r"[`*]", "", doc).split()[:4]
            assert " ".join(words) in text, f"the docstring of {module.__name__}.{name} is missing"


def _own_docstring(obj: object) -> str | None:
    """The docstring written for a class or function itself, not one a class inherits."""
    if isinstance(obj, type):
        doc = vars(obj).get("__doc__")
    elif inspect.isroutine(obj):
        doc = obj.__doc__
    else:
        return None
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else None


def test_the_python_reference_loads_nothing_from_a_cdn_or_any_other_host(site: Path) -> None:
    files = sorted((site / "python").rglob("*"))
    pages = [path for path in files if path.suffix == ".html"]
    assert len(pages) >= len(_public_modules())
    for path in pages:
        markup = INLINE_SCRIPT.sub("<script></script>", path.read_text(encoding="utf-8"))
        assert re.search(r"<script[^>]*\bsrc=[\"']?\s*(?:https?:)?//", markup) is None, path
        assert re.search(r"<link[^>]*\bhref=[\"']?\s*(?:https?:)?//", markup) is None, path
        assert RESOURCE_ATTRIBUTE.search(markup) is None, (path, RESOURCE_ATTRIBUTE.search(markup))
        assert re.search(r"(?:url\(|@import)\s*['\"]?(?:https?:)?//", markup) is None, path
        # pdoc takes MathJax and Mermaid from a CDN when they are on: they must be off.
        assert "mathjax" not in markup.lower() and "mermaid" not in markup.lower(), path
    for script in [path for path in files if path.suffix == ".js"]:
        code = script.read_text(encoding="utf-8")
        # Code that would fetch: a script or link element, import(), fetch() or XHR to a host.
        assert re.search(r"""(?:src|href)\s*=\s*\\?["'](?:https?:)?//""", code) is None, script
        assert re.search(r"""(?:import|fetch|open)\(\s*["'](?:https?:)?//""", code) is None, script


@pytest.mark.parametrize(
    "path",
    [
        "site/index.html",
        "site/python/index.html",
        "generated/typescript/convokit.d.ts",
        "clients/go/convokit/client.go",
    ],
)
def test_built_output_is_git_ignored(path: str) -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{path} is not git-ignored"
