# The single entry point. `make synth` and `make test` install everything they need on a fresh
# machine that has python3, node and npm, and need no AWS credentials or network beyond the
# package registries.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamps live inside what they stand for: deleting .venv or node_modules makes `make` install again.
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export AWS_EC2_METADATA_DISABLED := true
PIPELINE_APP := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 python3 pipeline_app.py

.PHONY: install synth synth-pipeline test lint typecheck unit integration coverage bench docs status drill deploy deploy-pipeline diff clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt requirements-runtime.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	@touch $@

# Both CDK apps: the gateway-cluster app (cdk.json) and the pipeline app.
synth: install
	cdk synth --quiet --output cdk.out
	$(MAKE) synth-pipeline

# The pipeline app alone (the pipeline's own build step runs this).
synth-pipeline: install
	cdk synth --quiet --app "$(PIPELINE_APP)" --output cdk.out.pipeline

lint: install
	ruff check .
	ruff format --check .

typecheck: install
	mypy

# Test tiers: unit (pure functions and handler logic, about a minute), integration (synthesis, cfn-lint,
# cdk-nag, the wheel, the fault matrix); `make test` runs both and prints line coverage per package.
unit: install
	pytest -q -m "not integration" --cov --cov-report= $(PYTEST_ARGS)

integration: install
	pytest -q -m integration --cov --cov-append --cov-report= $(PYTEST_ARGS)

coverage: install
	python -m tests.coverage_report

test: lint typecheck
	rm -f .coverage
	$(MAKE) unit integration coverage

# The configuration reference is generated from the construct's config; a test fails when it is stale.
docs: install
	python -m trustgrid_ha.reference > docs/configuration.md

# Benchmarks are not tests: they measure and write BENCHMARKS.md (several minutes).
bench: install
	python -m benchmarks.run

# Operations (need AWS credentials): the status of clusters, and a failover drill.
#   make status SECRET=trustgrid/api-key CLUSTERS="prod-gw.acme.trustgrid.io"
#   make drill  SECRET=trustgrid/api-key CLUSTER=prod-gw.acme.trustgrid.io DRILL_ARGS="--failback --output drill.json"
status: install
	python -m trustgrid_ha_tools.status --secret-id "$(SECRET)" $(foreach c,$(CLUSTERS),--cluster $(c)) $(STATUS_ARGS)

drill: install
	python -m trustgrid_ha_tools.drill --secret-id "$(SECRET)" --cluster "$(CLUSTER)" $(DRILL_ARGS)

# Every stack of the app, or those named: make deploy STACKS="TrustgridGatewayCluster TrustgridCluster-prod-gw"
diff: install
	cdk diff $(or $(STACKS),--all)

deploy: install
	cdk deploy $(or $(STACKS),--all) --require-approval broadening -c trustgrid-deploy=true

deploy-pipeline: install
	cdk deploy --app "$(PIPELINE_APP)" --output cdk.out.pipeline TrustgridPipeline --require-approval broadening

clean:
	rm -rf $(VENV) node_modules cdk.out cdk.out.pipeline .make build dist *.egg-info
