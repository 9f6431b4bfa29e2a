#!/usr/bin/env bash
# Builds the two API references: the HTTP one from openapi.yaml and the Python one from
# the docstrings of the convokit package. Both open from a file and load nothing from
# any network.
#
#   scripts/docs.sh [OUTPUT]   default: site/index.html (git-ignored); open it in a browser
#                              the Python reference goes next to it: site/python/index.html
#
# HTTP: one self-contained file. Redoc's scripts and the spec are inlined (--inlineBundle,
# no CDN), Redoc's telemetry is off, and scripts/docs-template.hbs adds a
# Content-Security-Policy that lets the page fetch nothing at all. Uses the pinned
# @redocly/cli from node_modules/ (npm ci).
# Python: pdoc (pinned in the dev extra, .venv) renders `convokit` and its public
# submodules; its search index is a local file, and MathJax and Mermaid (which pdoc would
# take from a CDN) stay off.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
redocly="$root/node_modules/.bin/redocly"
pdoc="$root/.venv/bin/pdoc"
pdoc_python="$root/.venv/bin/python"
output=${1:-site/index.html}
python_output="$(dirname "$output")/python"

if [ ! -x "$redocly" ]; then
  echo "docs.sh: $redocly is missing; run 'make test' or 'npm ci' first (Node.js 20+ and npm are needed)." >&2
  exit 2
fi
if [ ! -x "$pdoc" ]; then
  echo "docs.sh: $pdoc is missing; run 'make test' or 'make demo' first (they create .venv)." >&2
  exit 2
fi

mkdir -p "$(dirname "$output")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$redocly" build-docs openapi.yaml \
  --output "$output" \
  --inlineBundle \
  --template scripts/docs-template.hbs \
  --title "ConvoKit Chat API reference" \
  --openapi.disableTelemetry=true \
  >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
echo "docs.sh: wrote $output; open it in a browser (file://$(cd "$(dirname "$output")" && pwd)/$(basename "$output"))"

# `convokit` lists its names in __all__, which hides its submodules from pdoc: name the
# public ones (no leading underscore) explicitly. pdoc reads a module's __dict__, and
# convokit imports its generated models on first use (convokit/__init__.py): ask for
# every public name first.
PYTHON_OUTPUT="$python_output" "$pdoc_python" - >"$log" 2>&1 <<'EOF' || { cat "$log" >&2; exit 1; }
import os
import pkgutil
from pathlib import Path

import pdoc

import convokit

for name in convokit.__all__:
    getattr(convokit, name)
modules = ["convokit"] + [
    f"convokit.{module.name}"
    for module in pkgutil.iter_modules(convokit.__path__)
    if not module.name.startswith("_")
]
pdoc.render.configure(docformat="markdown", math=False, mermaid=False)
pdoc.pdoc(*modules, output_directory=Path(os.environ["PYTHON_OUTPUT"]))
EOF
echo "docs.sh: wrote $python_output/index.html (the Python API of convokit)"
