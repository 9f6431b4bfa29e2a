#!/usr/bin/env bash
# Builds the API reference from openapi.yaml: one self-contained HTML file.
#
#   scripts/docs.sh [OUTPUT]   default: site/index.html (git-ignored); open it in a browser
#
# Redoc's scripts and the spec are inlined (--inlineBundle, no CDN), Redoc's telemetry
# is off, and scripts/docs-template.hbs adds a Content-Security-Policy that lets the
# page fetch nothing at all. Uses the pinned @redocly/cli from node_modules/ (npm ci).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
redocly="$root/node_modules/.bin/redocly"
output=${1:-site/index.html}

if [ ! -x "$redocly" ]; then
  echo "docs.sh: $redocly is missing; run 'make test' or 'npm ci' first (Node.js 20+ and npm are needed)." >&2
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
