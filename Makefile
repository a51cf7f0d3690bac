# congress: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := -e shared/counting -e shared/contract -e shared/cli -e shared -e services/sections -e services/voting -e services/secretariat -e services/gateway

.PHONY: install run test test-faults lint bench compose-smoke scale-voting clean

install: $(STAMP)

$(STAMP): shared/pyproject.toml shared/*/pyproject.toml services/*/pyproject.toml requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip 'setuptools<82' wheel
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	touch $(STAMP)

run: install
	$(BIN)/python -m congress.devstack

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Faults as tests (issue 16): a congress under load, one fault each; figures in var/faults/last-run.md,
# logs in var/faults/stacks/.
test-faults: install
	$(BIN)/python -m pytest tests/faults -m faults $(PYTEST_ARGS)

compose-smoke:
	bash deploy/compose-smoke.sh

# During a congress: more (or fewer) voting replicas without downtime, e.g. `make scale-voting N=5`.
N ?= 3
scale-voting:
	@bash deploy/scale-voting.sh $(N)

bench: install
	@for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
