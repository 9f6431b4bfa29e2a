# Two commands matter: `make demo` and `make test`. Each builds what it needs from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WHEELHOUSE := $(VENV)/wheelhouse

.PHONY: demo test lint typecheck regen-check pytest bench soak clean

demo: $(VENV_STAMP)
	$(BIN)/python examples/quickstart.py

test: $(VENV_STAMP) $(NODE_STAMP)
	$(MAKE) lint typecheck regen-check pytest

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV_STAMP)
	$(BIN)/mypy

regen-check: $(VENV_STAMP)
	scripts/regen.sh --check

pytest: $(VENV_STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The venv: the package (editable) with every pinned dev tool, and a wheelhouse of
# the runtime dependencies so the packaging test can install the built wheel into a
# fresh venv without the network.
$(VENV_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "convokit-server needs Python 3.11+ (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --wheel-dir $(WHEELHOUSE) .
	touch $@

# Node tools (redocly, prism, openapi-typescript) exactly as package-lock.json pins them.
$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "make: Node.js 20+ and npm are needed for the spec and contract tests: install them (e.g. apt-get install nodejs npm)." >&2; exit 1; }
	@command -v npm >/dev/null || { echo "make: npm is needed for the spec and contract tests: install it (e.g. apt-get install npm)." >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: $(VENV_STAMP)
	$(BIN)/python benchmarks/run.py

# The randomized fault soak of tests/test_soak.py at full size: `make soak SEED=123 CALLS=5000`
# replays a run (each soak prints its seed; without SEED a new one is drawn).
SEED ?=
CALLS ?= 5000
soak: $(VENV_STAMP)
	SOAK_SEED=$(SEED) SOAK_CALLS=$(CALLS) $(BIN)/python -m pytest tests/test_soak.py -k client_soak -s --timeout=1800

clean:
	rm -rf $(VENV) node_modules dist build site generated .mypy_cache .ruff_cache .pytest_cache
