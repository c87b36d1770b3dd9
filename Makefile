# Two commands from a fresh clone: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint typecheck unit schema bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/studentgraph migrate
	$(BIN)/studentgraph demo
	@echo
	@echo "Development token (every scope; valid 8 hours):"
	@TOKEN=$$($(BIN)/studentgraph token --sub f003ghc --name "Development User" \
		--email dev.user@example.edu); echo "$$TOKEN"; echo; \
	echo "Use it as a header:  Authorization: Bearer $$TOKEN"; \
	echo "GraphiQL:            http://$(HOST):$(PORT)/graphql  (paste the header in Headers)"; \
	echo "REST:                curl -H \"Authorization: Bearer \$$TOKEN\" http://$(HOST):$(PORT)/api/students/f000abc/terms"; \
	echo
	$(BIN)/studentgraph serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint typecheck unit

schema: install
	$(BIN)/studentgraph export-schema --output schema.graphql

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
