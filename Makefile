# Two commands from a fresh clone: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
DOCS_PORT ?= 8001
# Processes `make test` runs the suite in (pytest-xdist): `auto` is one per CPU, `0` runs it in
# make's own pytest. Each worker has its own databases, ports and temporary files
# (docs/contributing/testing.md).
TEST_WORKERS ?= auto

.PHONY: install run token test lint typecheck unit schema docs docs-generate bench bench-peer fuzz clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/studentgraph migrate
	$(BIN)/studentgraph demo
	@$(MAKE) --no-print-directory token
	$(BIN)/studentgraph serve --host $(HOST) --port $(PORT)

token: install
	@echo
	@echo "Development token (every scope; valid 8 hours). Copy the export line into your shell:"
	@echo
	@echo "export TOKEN=$$($(BIN)/studentgraph token --sub f003ghc --name 'Development User' \
		--email dev.user@example.edu)"
	@echo
	@echo "GraphQL:  curl -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' \\"
	@echo "            -d '{\"query\": \"{ student(netid: \\\"f000abc\\\") { name terms { termId } } }\"}' http://$(HOST):$(PORT)/graphql"
	@echo "REST:     curl -H \"Authorization: Bearer \$$TOKEN\" http://$(HOST):$(PORT)/api/students/f000abc/terms"
	@echo "GraphiQL: http://$(HOST):$(PORT)/graphql  (Headers: {\"Authorization\": \"Bearer <the token>\"})"
	@echo "Home:     http://$(HOST):$(PORT)/  (links to GraphiQL, /docs, /redoc and the documentation)"
	@echo
	@echo "The CLI from another shell, in this folder: ./studentgraph --help  (it runs $(BIN)/studentgraph;"
	@echo "or put it on PATH: export PATH=\"$(CURDIR)/$(BIN):\$$PATH\")"
	@echo

lint: install
	$(BIN)/ruff check app tests bench tools
	$(BIN)/ruff format --check app tests bench tools
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=15

test: lint typecheck unit

schema: install
	$(BIN)/studentgraph export-schema --output schema.graphql
	$(BIN)/studentgraph export-schema --federation --output schema.subgraph.graphql
	$(BIN)/python -m tools.docs

# The documentation site (docs/, mkdocs.yml) on http://$(HOST):$(DOCS_PORT), rebuilt on each save.
# `make test` builds it with --strict (tests/docs/).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr $(HOST):$(DOCS_PORT)

# docs/reference/*.md from the code: the GraphQL schema, Settings, the CLI's parsers.
docs-generate: install
	$(BIN)/python -m tools.docs

# The in-process scenarios (SQLite), then the write path over HTTP on the local PostgreSQL
# (bench/writes; about a minute; skipped with a message when PostgreSQL is not reachable), then
# sizing: reads/s for 1, 2 and 4 API processes directly and through PgBouncer, tasks/s per worker,
# connections and CPU per process (bench/sizing; a few minutes; writes var/bench/sizing.json;
# e.g. `make bench SIZING_ARGS="--processes 1,2 --seconds 8"`).
SIZING_ARGS ?=
bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench.writes $(WRITES_ARGS)
	$(BIN)/python -m bench.sizing $(SIZING_ARGS)

# schemathesis against /openapi.json and the GraphQL schema of a served instance (thousands of
# cases; `make test` runs a short one: tests/test_fuzz.py).
fuzz: install
	$(BIN)/python -m tests.fuzz $(ARGS)

# The project, PostGraphile v4 and v5 (npm, pinned; v5 on Node 22 from npm) and the floor over
# HTTP on the local PostgreSQL, with CPU per request (installs wrk and PostGraphile when missing;
# see bench/peer/__main__.py and docs/contributing/measuring.md). ARGS="--only light".
bench-peer: install
	$(BIN)/python -m bench.peer $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
