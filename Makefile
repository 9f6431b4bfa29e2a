# Two commands matter: `make demo` and `make test`. Each builds what it needs from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WHEELHOUSE := $(VENV)/wheelhouse

.PHONY: demo test lint typecheck regen-check pytest bench soak clean require-java

demo: $(VENV_STAMP)
	$(BIN)/python examples/quickstart.py

test: $(VENV_STAMP) $(NODE_STAMP) require-java
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

# The venv: the package (editable) with every pinned dev tool and the examples' web
# stack, and a wheelhouse so the tests can install the built wheel into fresh venvs
# without the network: the runtime dependencies, and for every other Python version
# (tests/test_python_versions.py) what its end-to-end run needs (scripts/pythons.py).
$(VENV_STAMP): pyproject.toml scripts/pythons.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "make: convokit-server needs Python 3.11+: install it, or set PYTHON=python3.11 (or newer)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,examples]'
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --wheel-dir $(WHEELHOUSE) .
	$(BIN)/python scripts/pythons.py wheelhouse $(WHEELHOUSE)
	touch $@

# Node tools (redocly, prism, openapi-typescript) exactly as package-lock.json pins them.
$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "make: Node.js 20+ and npm are needed for the spec and contract tests: install them (e.g. apt-get install nodejs npm)." >&2; exit 1; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "make: Node.js 20+ is needed for the spec and contract tests; this is $$(node --version)." >&2; exit 1; }
	@command -v npm >/dev/null || { echo "make: npm is needed for the spec and contract tests: install it (e.g. apt-get install npm)." >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# openapi-generator (the Go client test) runs on the machine's Java.
require-java:
	@v=$$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'); \
	[ "$${v%%.*}" -ge 17 ] 2>/dev/null || { echo "make: Java 17+ is needed for the openapi-generator tests (the Go client): install it (e.g. apt-get install default-jre-headless); found: $${v:-no java}." >&2; exit 1; }

bench: $(VENV_STAMP)
	$(BIN)/python benchmarks/run.py

# The randomized fault soak of tests/test_soak.py at full size: `make soak SEED=123 CALLS=5000`
# replays a run (each soak prints its seed; without SEED a new one is drawn).
SEED ?=
CALLS ?= 5000
soak: $(VENV_STAMP)
	SOAK_SEED=$(SEED) SOAK_CALLS=$(CALLS) $(BIN)/python -m pytest tests/test_soak.py -k client_soak -s --timeout=1800

clean:
	rm -rf $(VENV) node_modules dist build site generated clients/go/convokit .mypy_cache .ruff_cache .pytest_cache
