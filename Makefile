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

# Seconds any one terraform command may run before it is interrupted.
TF_TIMEOUT ?= 900
TF := timeout --signal=INT --kill-after=30 $(TF_TIMEOUT) terraform

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
	@$(MAKE) sandbox-check ENV=$(ENV)
	$(TF) -chdir=$(ENV_DIR) init -input=false $(BACKEND_CONFIG) >/dev/null
	$(TF) -chdir=$(ENV_DIR) plan -input=false -out=tfplan
	$(TF) -chdir=$(ENV_DIR) show -json tfplan > $(PLAN_JSON).tmp
	@mv $(PLAN_JSON).tmp $(PLAN_JSON)
	$(REGIONGUARD) verify --env $(ENV) --plan $(PLAN_JSON)

.PHONY: apply
apply: check-env tf-config ## Apply the saved plan written by `make plan`, and nothing else
	@test -f $(PLAN_FILE) || { echo "$(PLAN_FILE): no saved plan; run make plan ENV=$(ENV) first" >&2; exit 2; }
	$(TF) -chdir=$(ENV_DIR) apply -input=false tfplan
	@rm -f $(PLAN_FILE) $(PLAN_JSON)

.PHONY: sandbox-check
sandbox-check:
ifeq ($(ENV),local)
	@$(BIN)/python -c 'import socket,sys; s=socket.socket(); s.settimeout(2); sys.exit(s.connect_ex(("127.0.0.1", 4580)))' 2>/dev/null || \
	  { echo "make plan ENV=local: no sandbox answers on 127.0.0.1:4580; the local sandbox is not part of this checkout yet" >&2; exit 2; }
endif

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
	$(BIN)/ruff check scripts tests bench
	$(BIN)/ruff format --check scripts tests bench
	$(BIN)/mypy

.PHONY: pytest
pytest: venv tf-config ## Python tests
	$(BIN)/pytest

.PHONY: verify
verify: venv ## Check envs/*/expectations.yaml against each environment's rendered policies
	@for env in $(ENVS); do $(REGIONGUARD) verify --env $$env --sandbox skip; done

.PHONY: bench
bench: venv ## Benchmarks: time and peak memory (decision matrix of 5,000 accounts)
	$(BIN)/python bench/matrix_bench.py

.PHONY: test
test: fmt-check lint validate tf-test pytest verify ## Everything CI runs: fmt, lint, validate, terraform test, pytest, verify

.PHONY: clean
clean: ## Remove saved plans, caches and the virtual environments
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
	rm -f envs/*/tfplan envs/*/tfplan.json envs/*/tfplan.md
