# One entry point for every routine task. Everything installs from nothing:
# `make test` and `make run` create the virtual environments on first use.
SHELL := /bin/bash
PYTHON ?= python3.13
VENV := .venv
SAMVENV := .venv-sam
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true
export PYTHONPATH := $(CURDIR)/layers/core:$(CURDIR)/local:$(CURDIR)
export LAYER_PYTHON := $(CURDIR)/$(BIN)/python  # builds the layer (layers/core/Makefile)

.PHONY: install run test fuzz chaos bench bench-long lint format openapi token simulator clean

$(BIN)/.installed: requirements-dev.txt layers/core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

$(SAMVENV)/bin/.installed:
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install -q aws-sam-cli==1.170.0
	touch $@

install: $(BIN)/.installed

## run: the whole system on loopback (API :3000, local AWS :4566, Leonardo simulator :8090)
run: install
	$(BIN)/python -m stackrunner

## test: unit, integration, contract and end-to-end suites, then each bench in its bounded form
# End-to-end runs in its own process: moto keeps its state per process, and other suites reset it.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not e2e and not fuzz and not chaos"
	$(BIN)/python -m pytest -q -m e2e tests/e2e
	$(BIN)/python -m pytest -q -m fuzz tests/fuzz
	$(BIN)/python -m pytest -q -m chaos tests/chaos
	$(BIN)/python bench/run.py --set smoke

## fuzz: the long form of the fuzz suite (10,000 schemathesis examples per operation)
fuzz: install
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),10000) $(BIN)/python -m pytest -m fuzz -q -p no:timeout tests/fuzz

## chaos: the long chaos run (2,000 jobs through the local stack under injected faults)
chaos: install
	$(BIN)/python bench/chaos.py --jobs $(or $(CHAOS_JOBS),2000) --seed $(or $(CHAOS_SEED),7)

## bench: the quick benches (minutes); one table of figures, targets and pass/fail (docs/performance.md)
bench: install
	$(BIN)/python bench/run.py --set quick

## bench-long: the long forms (1,000 jobs for throughput)
bench-long: install
	$(BIN)/python bench/run.py --set long

## lint: ruff, then sam validate --lint and sam build (offline, no Docker)
lint: install $(SAMVENV)/bin/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(SAMVENV)/bin/sam validate --lint
	$(SAMVENV)/bin/sam build

## openapi: regenerate docs/openapi.json from the handlers' routes and models
openapi: install
	$(BIN)/python scripts/openapi.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## token: a JWT the local stack accepts, e.g. make token USER=alice PLAN=free (PLAN_CLAIM: the claim's name)
token: install
	@$(BIN)/python -m stackrunner.token $(or $(USER_ID),$(USER)) $(if $(PLAN),--plan $(PLAN)) \
		$(if $(PLAN_CLAIM),--plan-claim $(PLAN_CLAIM))

## simulator: the Leonardo API simulator on its own
simulator: install
	$(BIN)/python -m leonardo_simulator

clean:
	rm -rf $(VENV) $(SAMVENV) .aws-sam .pytest_cache .ruff_cache
