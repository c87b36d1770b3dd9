# Two commands from a fresh clone: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Processes `make test` runs the suite in (pytest-xdist): `auto` is one per CPU, `0` runs it in
# make's own pytest. Each worker has its own databases, ports and temporary files
# (docs/contributing/testing.md).
TEST_WORKERS ?= auto

.PHONY: install run token test lint typecheck unit schema bench bench-peer fuzz clean

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
	@echo

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=15

test: lint typecheck unit

schema: install
	$(BIN)/studentgraph export-schema --output schema.graphql
	$(BIN)/studentgraph export-schema --federation --output schema.subgraph.graphql

# The in-process scenarios (SQLite), then the write path over HTTP on the local PostgreSQL
# (bench/writes; about a minute; skipped with a message when PostgreSQL is not reachable).
bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench.writes $(WRITES_ARGS)

# schemathesis against /openapi.json and the GraphQL schema of a served instance (thousands of
# cases; `make test` runs a short one: tests/test_fuzz.py).
fuzz: install
	$(BIN)/python -m tests.fuzz $(ARGS)

# The project, PostGraphile v4 (npm, pinned) and the floor over HTTP on the local PostgreSQL
# (installs wrk and PostGraphile when missing; see bench/peer/__main__.py).
bench-peer: install
	$(BIN)/python -m bench.peer $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
