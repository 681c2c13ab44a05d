# Region deny with Bedrock cross-Region inference: plan, apply and test.
# Run `make` or `make help` for the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ENV ?= local
ENVS := $(sort $(patsubst envs/%/backend.tf,%,$(wildcard envs/*/backend.tf)))
MODULES := $(sort $(patsubst %/versions.tf,%,$(wildcard modules/*/versions.tf)))
# Roots with terraform test suites: every module, and environments with tests/.
TEST_ROOTS := $(MODULES) $(sort $(patsubst %/tests/,%,$(dir $(wildcard envs/*/tests/*.tftest.hcl))))
ENV_DIR := envs/$(ENV)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REGIONGUARD := $(BIN)/regionguard

# checkov and the CI file validators live in their own virtual environment:
# checkov pins an old boto3 that moto in .venv does not accept.
CHECKOV_VENV ?= .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_FLAGS := --quiet --skip-download --config-file .checkov.yaml --external-checks-dir policies/checkov
export REGIONGUARD_CHECKOV := $(abspath $(CHECKOV))
export REGIONGUARD_TOOLS_BIN := $(abspath $(CHECKOV_VENV)/bin)

# Seconds any one terraform command may run before it is interrupted.
TF_TIMEOUT ?= 900
TF := timeout --signal=INT --kill-after=30 $(TF_TIMEOUT) terraform

# The local sandbox (docs/sandbox.md): envs/local talks to it on loopback.
SANDBOX_PORT ?= 4580
SANDBOX_TIMEOUT ?= 60
SANDBOX := timeout --kill-after=5 $(SANDBOX_TIMEOUT) $(REGIONGUARD) sandbox
ifneq ($(SANDBOX_PORT),4580)
export TF_VAR_sandbox_endpoint := http://127.0.0.1:$(SANDBOX_PORT)
endif

# Opt-in offline provider installation: point REGIONGUARD_TF_MIRROR at a
# filesystem mirror (a folder holding registry.terraform.io/...). Without it
# Terraform installs providers as it normally does.
ifneq ($(strip $(REGIONGUARD_TF_MIRROR)),)
TF_RC := $(CURDIR)/.cache/terraform/cli.tfrc
export TF_CLI_CONFIG_FILE := $(TF_RC)
endif
export TF_IN_AUTOMATION := 1
export TF_INPUT := 0

PLAN_FILE := $(ENV_DIR)/tfplan
PLAN_JSON := $(ENV_DIR)/tfplan.json
BACKEND_CONFIG := $(if $(wildcard $(ENV_DIR)/backend.hcl),-backend-config=backend.hcl,)

.PHONY: help
help: ## List the targets
	@echo "Usage: make TARGET [ENV=$(ENV)]   (environments: $(ENVS))"
	@echo
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: check-env
check-env:
	@if [[ " $(ENVS) " != *" $(ENV) "* ]]; then \
	  echo "ENV=$(ENV) is not an environment; choose one of: $(ENVS)" >&2; exit 2; fi

# ---------------------------------------------------------------- bootstrap

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: venv
venv: $(BIN)/.installed ## Create .venv and install the regionguard package

$(CHECKOV_VENV)/.installed: policies/requirements.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r policies/requirements.txt
	@touch $@

ifneq ($(strip $(REGIONGUARD_TF_MIRROR)),)
$(TF_RC):
	@mkdir -p $(dir $@) .cache/terraform/plugins
	@printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\nplugin_cache_dir = "%s"\n' \
	  "$(REGIONGUARD_TF_MIRROR)" "$(CURDIR)/.cache/terraform/plugins" > $@
endif

.PHONY: tf-config
tf-config: $(TF_RC)

# ---------------------------------------------------------------- workflow

.PHONY: init
init: check-env tf-config ## terraform init of ENV
	$(TF) -chdir=$(ENV_DIR) init -input=false $(BACKEND_CONFIG) >/dev/null

.PHONY: plan
plan: check-env venv tf-config ## Plan ENV (default local, on the sandbox); writes tfplan and tfplan.json
ifeq ($(ENV),local)
	@$(SANDBOX) up --port $(SANDBOX_PORT)
endif
	$(REGIONGUARD) tfvars --env $(ENV)
	$(REGIONGUARD) validate --env $(ENV)
	$(TF) -chdir=$(ENV_DIR) init -input=false $(BACKEND_CONFIG) >/dev/null
	$(TF) -chdir=$(ENV_DIR) plan -input=false -out=tfplan
	$(TF) -chdir=$(ENV_DIR) show -json tfplan > $(PLAN_JSON).tmp
	@mv $(PLAN_JSON).tmp $(PLAN_JSON)
	@$(MAKE) plan-gate ENV=$(ENV)
	@$(REGIONGUARD) verify --env $(ENV) --plan $(PLAN_JSON) --sandbox skip || { \
	  rm -f $(ENV_DIR)/tfplan.gate.json; \
	  echo "make plan: $(ENV_DIR)/expectations.yaml does not hold for this plan; make apply will refuse it" >&2; exit 1; }

.PHONY: preflight
preflight: check-env venv ## Read-only checks of the organization for ENV (local: the sandbox); FORMAT=json|markdown
ifeq ($(ENV),local)
	@$(SANDBOX) up --port $(SANDBOX_PORT)
endif
	$(REGIONGUARD) preflight --env $(ENV) --format $(or $(FORMAT),text)

.PHONY: apply
apply: check-env tf-config apply-guard ## Apply the saved plan written by `make plan`, and nothing else
	@test -f $(PLAN_FILE) || { echo "$(PLAN_FILE): no saved plan; run make plan ENV=$(ENV) first" >&2; exit 2; }
ifeq ($(ENV),local)
	@$(SANDBOX) status >/dev/null || { echo "make apply ENV=local: the sandbox is not running, so the saved plan has nothing to apply to; run make plan again" >&2; exit 2; }
endif
	$(TF) -chdir=$(ENV_DIR) apply -input=false tfplan
	@rm -f $(PLAN_FILE) $(PLAN_JSON) $(ENV_DIR)/tfplan.md $(ENV_DIR)/tfplan.gate.json
ifeq ($(ENV),local)
	@# Prove after the apply what the plan promised: the expectations hold
	@# in the emulated organization, as its SCPs now stand.
	$(REGIONGUARD) verify --env $(ENV) --sandbox require
endif

# ---------------------------------------------------------------- plan gate

.PHONY: plan-gate
plan-gate: check-env venv ## Gate the saved plan of ENV; writes tfplan.md (ALLOW_DESTROY=1 permits deletes)
	@$(REGIONGUARD) plan-gate --env $(ENV) $(if $(filter 1 yes true,$(ALLOW_DESTROY)),--allow-destroy,)

.PHONY: apply-guard
apply-guard: check-env venv ## Refuse a saved plan that failed the gate or is older than its inputs
	@$(REGIONGUARD) apply-guard --env $(ENV)

.PHONY: plan-fixtures
plan-fixtures: venv tf-config ## Regenerate the real plans of tests/fixtures/plans (terraform, sandbox)
	$(BIN)/python tests/fixtures/plans/regenerate.py

.PHONY: bench-plan-diff
bench-plan-diff: venv ## Benchmark plan-diff on 200 OUs and an SCP at the size limit
	$(BIN)/python bench/plan_diff_bench.py


.PHONY: destroy
destroy: check-env venv tf-config ## Destroy what ENV manages (any ENV but local needs CONFIRM=ENV)
	@if [[ "$(ENV)" != local && "$(CONFIRM)" != "$(ENV)" ]]; then \
	  echo "make destroy ENV=$(ENV) removes the Region deny control and the SCP from every target OU; re-run with CONFIRM=$(ENV)" >&2; exit 2; fi
ifeq ($(ENV),local)
	@$(SANDBOX) up --port $(SANDBOX_PORT)
endif
	$(TF) -chdir=$(ENV_DIR) init -input=false $(BACKEND_CONFIG) >/dev/null
	$(TF) -chdir=$(ENV_DIR) destroy -input=false -auto-approve
	@rm -f $(PLAN_FILE) $(PLAN_JSON)

# ---------------------------------------------------------------- sandbox

.PHONY: sandbox-up
sandbox-up: venv ## Start the local sandbox on 127.0.0.1:SANDBOX_PORT (default 4580) unless it runs
	@$(SANDBOX) up --port $(SANDBOX_PORT)

.PHONY: sandbox-down
sandbox-down: ## Stop the local sandbox started by sandbox-up or plan
	@if [[ -x $(REGIONGUARD) ]]; then $(SANDBOX) down; else echo "sandbox not running; nothing to stop"; fi

.PHONY: bench-sandbox
bench-sandbox: ## Time make plan/apply on the sandbox in a fresh clone (Terraform's share too)
	@bash bench/sandbox.sh

.PHONY: sandbox-status
sandbox-status: venv ## Say whether the local sandbox runs, and where
	@$(SANDBOX) status

.PHONY: tfvars
tfvars: check-env venv ## Generate envs/ENV/accounts.auto.tfvars.json from accounts.yaml
	$(REGIONGUARD) tfvars --env $(ENV)

.PHONY: render
render: check-env venv ## Print the SCP and control parameters Terraform will send for ENV
	$(REGIONGUARD) render --env $(ENV)

.PHONY: check-registry
check-registry: check-env venv ## Validate ENV: registry, settings, generated tfvars, rendered documents
	$(REGIONGUARD) tfvars --env $(ENV) --check
	$(REGIONGUARD) validate --env $(ENV)

# ---------------------------------------------------------------- quality

.PHONY: fmt
fmt: ## Format Terraform files in place
	terraform fmt -recursive modules envs

.PHONY: fmt-check
fmt-check: ## Fail when a Terraform file is not formatted
	terraform fmt -check -recursive -diff modules envs

.PHONY: validate
validate: tf-config ## terraform validate every environment (no backend, no credentials)
	@for env in $(ENVS); do \
	  echo "validate envs/$$env"; \
	  $(TF) -chdir=envs/$$env init -input=false -backend=false >/dev/null; \
	  $(TF) -chdir=envs/$$env validate -no-color; \
	done

.PHONY: tf-test
tf-test: tf-config ## terraform test every module and the shared root (mock provider, offline)
	@for root in $(TEST_ROOTS); do \
	  echo "terraform test $$root"; \
	  $(TF) -chdir=$$root init -input=false -backend=false >/dev/null; \
	  $(TF) -chdir=$$root test -no-color; \
	done

.PHONY: lint
lint: venv ## ruff and mypy --strict over the Python package and tests
	$(BIN)/ruff check scripts tests bench policies
	$(BIN)/ruff format --check scripts tests bench policies
	$(BIN)/mypy

.PHONY: check
check: $(CHECKOV_VENV)/.installed ## checkov (built-in and policies/checkov) over modules/, each env and envs/ENV/tfplan.json
	@echo "checkov modules (built-in checks; a module alone has no inputs)"
	@$(CHECKOV) --quiet --skip-download --config-file .checkov.yaml --framework terraform -d modules
	@for env in $(ENVS); do \
	  echo "checkov envs/$$env"; \
	  $(CHECKOV) $(CHECKOV_FLAGS) --framework terraform -d envs/$$env; \
	done
	@if [[ -f $(PLAN_JSON) ]]; then \
	  echo "checkov $(PLAN_JSON)"; \
	  $(CHECKOV) $(CHECKOV_FLAGS) --framework terraform_plan -f $(PLAN_JSON) --repo-root-for-plan-enrichment .; \
	fi

.PHONY: pytest
pytest: venv tf-config $(CHECKOV_VENV)/.installed ## Python tests
	$(BIN)/pytest

.PHONY: verify
verify: venv ## Check envs/*/expectations.yaml against each environment's rendered policies
	@for env in $(ENVS); do $(REGIONGUARD) verify --env $$env --sandbox skip; done

.PHONY: bench
bench: bench-registry bench-plan-diff bench-matrix ## All benchmarks: time and peak memory (bench-sandbox runs apart)

.PHONY: bench-registry
bench-registry: venv ## Benchmark tfvars + validate on 5,000 accounts against a bare YAML load
	$(BIN)/python bench/registry_bench.py

.PHONY: bench-matrix
bench-matrix: venv ## Benchmark the decision matrix of 5,000 accounts x 30 Regions x 3 actions
	$(BIN)/python bench/matrix_bench.py

.PHONY: test
test: fmt-check lint validate tf-test check pytest verify ## Everything CI runs: fmt, lint, validate, terraform test, checkov, pytest, verify

.PHONY: clean
clean: ## Remove saved plans, caches and the virtual environments
	rm -rf $(VENV) $(CHECKOV_VENV) .cache .pytest_cache .mypy_cache .ruff_cache
	rm -f envs/*/tfplan envs/*/tfplan.json envs/*/tfplan.md envs/*/tfplan.gate.json
