#!/usr/bin/env bash
# Regenerates convokit_generated/ from openapi.yaml with the pinned openapi-python-client.
#
#   scripts/regen.sh           rewrite convokit_generated/ in place
#   scripts/regen.sh --check   generate into a temporary folder and fail, with a diff,
#                              when the committed package differs (CI runs this)
#   scripts/regen.sh --lang typescript [OUTPUT_DIR]
#                              TypeScript types instead, into git-ignored generated/typescript
#                              (scripts/gen-typescript.sh does it)
#
# The generator comes from the project's .venv, never from PATH; on a fresh clone
# regen.sh first creates .venv through the Makefile rule `make demo` and `make test`
# use (`make .venv/.installed`, which installs the pinned versions). Output depends
# only on openapi.yaml, generator-config.yml, templates/ and the pinned tool versions.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "${1:-}" = --lang ]; then
  case "${2:-}" in
    typescript) exec "$root/scripts/gen-typescript.sh" "${@:3}" ;;
    *) echo "usage: scripts/regen.sh --lang typescript [OUTPUT_DIR]" >&2; exit 2 ;;
  esac
fi

generator="$root/.venv/bin/openapi-python-client"
package=convokit_generated

if [ ! -x "$generator" ]; then
  echo "regen.sh: .venv has no openapi-python-client; creating it: make .venv/.installed" >&2
  ${MAKE:-make} -C "$root" --no-print-directory .venv/.installed >&2
  if [ ! -x "$generator" ]; then
    echo "regen.sh: $generator is still missing after 'make .venv/.installed'; remove .venv and run regen.sh again." >&2
    exit 2
  fi
fi

mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: scripts/regen.sh [--check | --lang typescript [OUTPUT_DIR]]" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The ruff post-hooks must be the project's pinned ruff, not whatever is first on PATH.
PATH="$root/.venv/bin:$PATH" "$generator" generate \
  --path openapi.yaml \
  --config generator-config.yml \
  --custom-template-path templates \
  --meta none \
  --output-path "$work/$package" \
  --fail-on-warning \
  >"$work/generator.log" 2>&1 || { cat "$work/generator.log" >&2; exit 1; }

# What the generator's templates cannot see (parameter schemas, examples of $ref'd
# responses) comes from the spec as data, formatted as the generator formats its output.
"$root/.venv/bin/python" scripts/operations_data.py openapi.yaml "$work/$package/operations_data.py"
"$root/.venv/bin/ruff" format --isolated --no-cache --target-version py311 --line-length 120 \
  --quiet "$work/$package/operations_data.py"

# A spec the templates cannot render into valid Python fails here, before anything is
# written: say, a field or parameter named like a per-call option every method takes.
if ! "$root/.venv/bin/python" -m compileall -q "$work/$package" >"$work/compile.log" 2>&1; then
  cat "$work/compile.log" >&2
  echo "regen.sh: the generated code does not compile (above). A request field or parameter named like a per-call option (timeout, total_timeout, max_retries, extra_headers) must be renamed in openapi.yaml." >&2
  exit 1
fi

# --meta none writes no py.typed; the package ships typed, so the marker is part of it.
touch "$work/$package/py.typed"
find "$work/$package" -name __pycache__ -prune -exec rm -rf {} +

if [ "$mode" = check ]; then
  if diff -ru --exclude=__pycache__ "$package" "$work/$package" >"$work/diff.txt"; then
    echo "regen.sh --check: $package/ matches openapi.yaml"
  else
    cat "$work/diff.txt"
    echo >&2
    echo "regen.sh --check: $package/ is stale; run scripts/regen.sh and commit the result with openapi.yaml." >&2
    exit 1
  fi
else
  rm -rf "$package"
  cp -R "$work/$package" "$package"
  echo "regen.sh: wrote $package/"
fi
