# One entry point for every routine task. Everything installs from nothing:
# `make test` and `make run` create the virtual environments on first use.
SHELL := /bin/bash
PYTHON ?= python3.13
VENV := .venv
SAMVENV := .venv-sam
CHECKOVVENV := .venv-checkov
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true
export PYTHONPATH := $(CURDIR)/layers/core:$(CURDIR)/local:$(CURDIR)
export LAYER_PYTHON := $(CURDIR)/$(BIN)/python  # builds the layer (layers/core/Makefile)

.PHONY: install run test fuzz chaos bench bench-long lint typecheck audit lock lock-check format openapi token simulator clean

# Every environment installs from its lock file, each pin with the hashes of its files (pip refuses
# anything else): requirements-dev.lock (the project's, layer included), requirements-sam.lock,
# requirements-checkov.lock; the layer's own, layers/core/requirements.lock, is what `sam build`
# ships. `make lock` updates them.
$(BIN)/.installed: requirements-dev.lock clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	# The Python client and `leo` (clients/python), editable; its dependencies and build backend come
	# from the lock above (nothing resolved here).
	$(BIN)/pip install -q --no-deps --no-build-isolation -e clients/python
	touch $@

$(SAMVENV)/bin/.installed: requirements-sam.lock
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install -q --require-hashes -r requirements-sam.lock
	touch $@

$(CHECKOVVENV)/bin/.installed: requirements-checkov.lock
	$(PYTHON) -m venv $(CHECKOVVENV)
	$(CHECKOVVENV)/bin/pip install -q --require-hashes -r requirements-checkov.lock
	touch $@

install: $(BIN)/.installed

## run: the whole system on loopback (API :3000, local AWS :4566, Leonardo simulator :8090)
run: install
	$(BIN)/python -m stackrunner

## test: unit, integration, contract and end-to-end suites, then each bench in its bounded form
# End-to-end runs in its own process: moto keeps its state per process, and other suites reset it.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not e2e and not fuzz and not chaos"
	$(BIN)/python -m pytest -q -c clients/python/pyproject.toml clients/python/tests
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

## bench-long: the long forms (1,000 jobs for throughput; the 2,000-job chaos run for seeds 7, 13 and 42)
bench-long: install
	$(BIN)/python bench/run.py --set long

## lint: ruff; the template's policy checks (sam validate --lint, cfn-lint with the serverless rules,
## checkov: .cfnlintrc, .checkov.yaml); the locks' freshness and known vulnerabilities (PyPI); sam build
## (no Docker). BC_SKIP_MAPPING: checkov would fetch its guideline links from a host we cannot reach.
lint: install $(SAMVENV)/bin/.installed $(CHECKOVVENV)/bin/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(SAMVENV)/bin/sam validate --lint
	$(SAMVENV)/bin/cfn-lint -- template.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOVVENV)/bin/checkov --config-file .checkov.yaml
	$(MAKE) --no-print-directory lock-check audit
	$(SAMVENV)/bin/sam build

## typecheck: mypy, strict, with the pydantic plugin and boto3's stubs ([tool.mypy] in pyproject.toml),
## on the layer and on each function in turn (every handler is a module named `app`)
typecheck: install
	@status=0; $(BIN)/mypy -p gencore || status=1; \
	(cd clients/python && ../../$(BIN)/mypy src) || status=1; \
	for fn in functions/*/; do echo "mypy $$fn"; MYPYPATH=layers/core:$$fn $(BIN)/mypy $$fn || status=1; done; \
	exit $$status

## audit: the locked pins against PyPI's vulnerability and yank records (scripts/audit_deps.py)
audit: install
	$(BIN)/python scripts/audit_deps.py $(LOCKS)

## lock: re-resolve every lock after a requirements*.txt edit (UPGRADE=1: newest allowed versions)
LOCKS := layers/core/requirements.lock requirements-dev.lock requirements-sam.lock requirements-checkov.lock
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.13 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
define compile_locks
	$(UV_COMPILE) layers/core/requirements.txt -o $(1)layers/core/requirements.lock
	$(UV_COMPILE) requirements-dev.txt -c $(1)layers/core/requirements.lock -o $(1)requirements-dev.lock
	$(UV_COMPILE) requirements-sam.txt -o $(1)requirements-sam.lock
	$(UV_COMPILE) requirements-checkov.txt -o $(1)requirements-checkov.lock
endef
lock: install
	$(call compile_locks,)

## lock-check: fails when a requirements*.txt changed without `make lock`
lock-check: install
	@rm -rf .lock-check && mkdir -p .lock-check/layers/core
	@for f in $(LOCKS); do cp $$f .lock-check/$$f; done
	$(call compile_locks,.lock-check/)
	@sed -i 's#\.lock-check/##g' $(addprefix .lock-check/,$(LOCKS))
	@for f in $(LOCKS); do diff -q $$f .lock-check/$$f >/dev/null \
		|| { echo "$$f is stale: run make lock"; diff $$f .lock-check/$$f | head -20; exit 1; }; done
	@rm -rf .lock-check

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
	rm -rf $(VENV) $(SAMVENV) $(CHECKOVVENV) .aws-sam .pytest_cache .ruff_cache
