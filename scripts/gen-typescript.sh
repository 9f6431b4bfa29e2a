#!/usr/bin/env bash
# Generates TypeScript types for the ConvoKit API from openapi.yaml with the pinned
# openapi-typescript (node_modules/, installed by `make test` through npm ci).
#
#   scripts/gen-typescript.sh [OUTPUT_DIR]   default: generated/typescript (git-ignored)
#   scripts/regen.sh --lang typescript       the same thing
#
# Writes OUTPUT_DIR/convokit.d.ts: `paths`, `components` and `operations` types
# for openapi-fetch (see clients/typescript/ for a client that uses them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
generator="$root/node_modules/.bin/openapi-typescript"
out_dir=${1:-generated/typescript}

if [ ! -x "$generator" ]; then
  echo "gen-typescript.sh: $generator is missing; run 'make test' or 'npm ci' first (Node.js 20+ and npm are needed)." >&2
  exit 2
fi

mkdir -p "$out_dir"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --default-non-nullable false: a field with a `default` stays as optional as the spec
# makes it (openapi-typescript would otherwise require it, in request bodies too).
"$generator" openapi.yaml --default-non-nullable false --output "$out_dir/convokit.d.ts" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
echo "gen-typescript.sh: wrote $out_dir/convokit.d.ts"
