# Region deny with Bedrock cross-Region inference: plan, apply and test.
# Run `make` or `make help` for the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# make expands a variable's value wherever it is used, so a value such as
# ENV='$(shell ...)' would run before any check below. Refuse, before any
# variable is used, every value given on the command line, and every value of
# these variables taken from the environment, that holds a `$` as written
# ($(value) is the text unexpanded; $(origin) says where it came from).
MAKE_INPUTS := ENV PYTHON VENV CHECKOV_VENV TF_TIMEOUT SANDBOX_PORT SANDBOX_TIMEOUT EXTRAS \
  FORMAT ALLOW_DESTROY ALLOW_NO_REGION_DENY CONFIRM LOCK_UPGRADE FILES REGIONGUARD_TF_MIRROR
$(foreach v,$(.VARIABLES),$(if $(and $(findstring command line,$(origin $(v))),$(findstring $$,$(value $(v)))),$(error $(v) given on the command line holds a $$ (a make function call or reference such as $$(shell ...)), which make would run before any check; pass a plain value)))
$(foreach v,$(MAKE_INPUTS),$(if $(and $(findstring environment,$(origin $(v))),$(findstring $$,$(value $(v)))),$(error $(v) from the environment holds a $$ (a make function call or reference such as $$(shell ...)), which make would run before any check; pass a plain value)))

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
# --foreground: Ctrl-C reaches Terraform, which stops cleanly and releases its lock.
TF := timeout --foreground --signal=INT --kill-after=30 $(TF_TIMEOUT) terraform

# The local sandbox (docs/sandbox.md): envs/local talks to it on loopback.
SANDBOX_PORT ?= 4580
SANDBOX_TIMEOUT ?= 60
SANDBOX := timeout --kill-after=5 $(SANDBOX_TIMEOUT) $(REGIONGUARD) sandbox

# Opt-in offline provider installation: point REGIONGUARD_TF_MIRROR at a
# filesystem mirror (a folder holding registry.terraform.io/...). Without it
# Terraform installs providers as it normally does.
ifneq ($(strip $(REGIONGUARD_TF_MIRROR)),)
TF_RC := $(CURDIR)/.cache/terraform/cli.tfrc
export TF_CLI_CONFIG_FILE := $(TF_RC)
endif
export TF_IN_AUTOMATION := 1
export TF_INPUT := 0

BACKEND_CONFIG := $(if $(wildcard $(ENV_DIR)/backend.hcl),-backend-config=backend.hcl,)

# `make help`: the targets with a `## ` comment, in these groups (a title and
# its targets), then the variables users set. A target with a `## ` comment
# that no group names is listed under "Other", and tests/test_make_help.py
# fails until it has a group.
HELP_GROUPS := run sandbox checks registry bench maintenance
HELP_TITLE_run := Plan and apply (ENV, default local: the sandbox)
HELP_run := rehearse plan apply destroy review preflight drift permits notify backend-config init
HELP_TITLE_sandbox := Local sandbox (127.0.0.1:SANDBOX_PORT)
HELP_sandbox := sandbox-up sandbox-status sandbox-down
HELP_TITLE_checks := Checks and tests
HELP_checks := test test-fast test-stress fmt fmt-check lint validate tf-test check pytest verify differential-deps
HELP_TITLE_registry := Registry (envs/ENV/accounts.yaml)
HELP_registry := tfvars check-registry render
HELP_TITLE_bench := Benchmarks
HELP_bench := bench bench-registry bench-scale bench-plan-diff bench-matrix bench-prove bench-sandbox bench-scale-sandbox bench-requests
HELP_TITLE_maintenance := Maintenance
HELP_maintenance := venv lock docs plan-fixtures clean help
# The variables users set on the command line (make TARGET NAME=value), each
# shown with its value in this run.
HELP_VARIABLES := ENV SANDBOX_PORT REGIONGUARD_TF_MIRROR TF_TIMEOUT ALLOW_DESTROY ALLOW_NO_REGION_DENY STATE_LOCK CONFIRM FORMAT EXTRAS SANDBOX_TIMEOUT PYTHON LOCK_UPGRADE NOTIFY_TITLE FILES PYTEST_WORKERS FAST_WORKERS TEST_JOBS
HELP_VAR_ENV := the environment, one of: $(ENVS)
HELP_VAR_SANDBOX_PORT := port of the local sandbox on 127.0.0.1 (ENV=local); make rehearse: of its own sandbox (unset: any free port)
HELP_VAR_REGIONGUARD_TF_MIRROR := folder of a Terraform provider filesystem mirror, for offline use; unset: the registry
HELP_VAR_TF_TIMEOUT := seconds any one terraform command may run before it is interrupted
HELP_VAR_ALLOW_DESTROY := 1: plan and review let a plan remove guardrails
HELP_VAR_ALLOW_NO_REGION_DENY := 1: destroy even where the landing-zone Region deny is off (docs/adopt.md, Rollback)
HELP_VAR_STATE_LOCK := false: plan, review and drift plan without the state lock (the read-only plan role)
HELP_VAR_CONFIRM := destroy of any ENV but local: the environment's name again
HELP_VAR_FORMAT := preflight output: text (when empty), json or markdown
HELP_VAR_EXTRAS := what .venv installs: core, sandbox (ENV=local) or dev (venv, test, lint, pytest, bench)
HELP_VAR_SANDBOX_TIMEOUT := seconds the sandbox commands wait for the server
HELP_VAR_PYTHON := the Python (3.11 or later) that creates .venv
HELP_VAR_LOCK_UPGRADE := make lock: --upgrade takes newer releases; empty keeps every other pin
HELP_VAR_NOTIFY_TITLE := make notify: the message's title
HELP_VAR_FILES := make notify: the files posted
HELP_VAR_PYTEST_WORKERS := make pytest, make test: pytest-xdist processes (default: cores + 1; 0: none)
HELP_VAR_FAST_WORKERS := make test-fast: pytest-xdist processes (default: the cores; 0: none)
HELP_VAR_TEST_JOBS := make test: how many of its checks before pytest run at once (default: the cores)

# $(call _quote,text): text as one single-quoted shell word.
_quote = '$(subst ','\'',$(1))'

.PHONY: help
help: ## List the targets, grouped, and the variables you can set
	@echo "Usage: make TARGET [NAME=value ...]"
	@awk -v groups='$(foreach g,$(HELP_GROUPS),$(HELP_TITLE_$(g))|$(HELP_$(g));)' \
	  'BEGIN { FS = ":.*## " } \
	   /^[a-zA-Z0-9_-]+:.*## / { if (!($$1 in desc)) order[++n] = $$1; desc[$$1] = $$2 } \
	   END { \
	     ng = split(groups, g, ";"); \
	     for (i = 1; i <= ng; i++) { \
	       if (split(g[i], part, "|") < 2) continue; \
	       sub(/^ +/, "", part[1]); printf "\n%s\n", part[1]; \
	       nt = split(part[2], t, " "); \
	       for (j = 1; j <= nt; j++) { listed[t[j]] = 1; printf "  %-20s %s\n", t[j], desc[t[j]] } \
	     } \
	     other = ""; \
	     for (k = 1; k <= n; k++) if (!(order[k] in listed)) other = other sprintf("  %-20s %s\n", order[k], desc[order[k]]); \
	     if (other != "") printf "\nOther\n%s", other \
	   }' $(MAKEFILE_LIST)
	@echo
	@echo "Variables (make TARGET NAME=value; shown with their value now)"
	@$(foreach v,$(HELP_VARIABLES),printf '  %-30s %s\n' $(call _quote,$(v)=$($(v))) $(call _quote,$(HELP_VAR_$(v)));)

# ENV and SANDBOX_PORT reach shell commands: check them here, in make itself,
# before any shell sees them.
ifneq ($(words $(ENV)),1)
$(error ENV='$(ENV)' is not an environment; choose one of: $(ENVS))
endif
ifneq ($(findstring %,$(ENV))$(filter-out $(ENVS),$(ENV)),)
$(error ENV=$(ENV) is not an environment; choose one of: $(ENVS))
endif
_PORT_REST := $(SANDBOX_PORT)
$(foreach d,0 1 2 3 4 5 6 7 8 9,$(eval _PORT_REST := $$(subst $(d),,$$(_PORT_REST))))
ifneq ($(words $(SANDBOX_PORT)) $(strip $(_PORT_REST)),1 )
$(error SANDBOX_PORT='$(SANDBOX_PORT)' is not a port number; use digits only, such as 4580)
endif

.PHONY: check-env
check-env:
	@true

# ---------------------------------------------------------------- bootstrap

# EXTRAS picks what .venv gets beside the core (pyproject.toml): `core` alone
# plans staging and prod; `sandbox` adds the local sandbox (moto) for
# ENV=local; `dev` adds the sandbox, the tests and the linters, and is what
# `make venv` alone, test, lint, pytest and the benchmarks install. Every
# version comes from requirements.lock (`make lock` refreshes it).
LOCK := requirements.lock
DEV_GOALS := venv test test-fast lint pytest bench bench-% plan-fixtures
# A rehearsal runs a sandbox for any ENV.
EXTRAS ?= $(if $(filter $(DEV_GOALS),$(MAKECMDGOALS)),dev,$(if $(filter local,$(ENV))$(filter rehearse,$(MAKECMDGOALS)),sandbox,core))
ifeq ($(filter $(EXTRAS),core sandbox dev),)
$(error EXTRAS=$(EXTRAS) is not one of: core sandbox dev)
endif
# What each install provides: dev includes the sandbox, which includes the core.
PROVIDES_dev := dev sandbox core
PROVIDES_sandbox := sandbox core
PROVIDES_core := core

# One line says what is installed and why before pip starts (pip itself stays
# quiet), one line when it is done.
$(BIN)/.installed-%: pyproject.toml $(LOCK) scripts/regionguard/__init__.py
	@if [[ -x $(BIN)/python ]]; then \
	  echo "make: installing regionguard$(if $(filter-out core,$*),[$*]) into $(VENV) (new extras, or pyproject.toml or $(LOCK) changed)" >&2; \
	else \
	  echo "first run: creating $(VENV) and installing regionguard$(if $(filter-out core,$*),[$*]) with its dependencies (a minute or two)" >&2; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.$(if $(filter-out core,$*),[$*])'
	@touch $(foreach x,$(PROVIDES_$*),$(BIN)/.installed-$(x))
	@echo "make: $(VENV) ready: regionguard$(if $(filter-out core,$*),[$*]) $$($(REGIONGUARD) --version | cut -d' ' -f2)" >&2

.PHONY: venv
venv: $(BIN)/.installed-$(EXTRAS) ## Create .venv and install regionguard with EXTRAS (core, sandbox or dev)

# uv resolves the lock for Python 3.11 on every platform; it runs from its own
# virtual environment, pinned here.
UV_VERSION := 0.13.8
UV_VENV := .cache/uv-$(UV_VERSION)
UV := $(UV_VENV)/bin/uv
LOCK_UPGRADE ?= --upgrade

$(UV):
	@rm -rf $(UV_VENV) && $(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)

.PHONY: lock
lock: $(UV) ## Refresh requirements.lock: newest versions pyproject.toml allows (LOCK_UPGRADE= keeps pins)
	$(UV) pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
	  $(LOCK_UPGRADE) --custom-compile-command 'make lock' --quiet --output-file $(LOCK)

# The custom checks import the package's pure modules (regionguard.catalogue
# and the rules), so the package's source is on the path too, by a .pth file
# and without its dependencies: nothing is written into the source tree, so
# this venv and .venv (whose editable install writes
# scripts/regionguard.egg-info) can be built side by side (make test).
$(CHECKOV_VENV)/.installed: policies/requirements.txt
	@if [[ -x $(CHECKOV_VENV)/bin/python ]]; then \
	  echo "make: installing checkov into $(CHECKOV_VENV) (policies/requirements.txt or pyproject.toml changed)" >&2; \
	else \
	  echo "first run: creating $(CHECKOV_VENV) and installing checkov, pinned by policies/requirements.txt (a minute or two)" >&2; \
	  $(PYTHON) -m venv $(CHECKOV_VENV); \
	fi
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet -r policies/requirements.txt
	@$(CHECKOV_VENV)/bin/python -c 'import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "regionguard-source.pth").write_text(sys.argv[1] + "\n")' $(call _quote,$(CURDIR)/scripts)
	@touch $@
	@echo "make: $(CHECKOV_VENV) ready: checkov $$($(CHECKOV) --version)" >&2

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
	$(TF) -chdir=$(ENV_DIR) init -input=false -lock-timeout=120s $(BACKEND_CONFIG) >/dev/null

# Every stage of plan and apply lives in `regionguard plan` / `regionguard apply`
# (scripts/regionguard/pipeline.py, through regionguard/commands/plan.py);
# these targets only call them.
PIPELINE_FLAGS := --env $(ENV) --timeout $(TF_TIMEOUT) --sandbox-port $(SANDBOX_PORT)
# STATE_LOCK=false: plan, review and drift plan without the state lock, for the
# read-only plan role, which may not write the S3 lock object (docs/adopt.md).
STATE_LOCK ?= true
ifeq ($(filter true false,$(STATE_LOCK)),)
$(error STATE_LOCK=$(STATE_LOCK) is neither true nor false)
endif
PLAN_FLAGS := $(PIPELINE_FLAGS) $(if $(filter false,$(STATE_LOCK)),--no-state-lock,)

# The chain runs checkov over the saved plan (docs/policy-as-code.md): plan and
# review need .venv-checkov, created on first use.
.PHONY: plan
plan: check-env venv tf-config $(CHECKOV_VENV)/.installed ## Plan ENV (default local, on the sandbox): validate, plan, review and gate, expectations, checkov
	@$(REGIONGUARD) plan $(PLAN_FLAGS) $(if $(filter 1 yes true,$(ALLOW_DESTROY)),--allow-destroy,)

.PHONY: preflight
preflight: check-env venv ## Read-only checks of the organization for ENV (local: the sandbox); FORMAT=json|markdown
ifeq ($(ENV),local)
	@$(SANDBOX) up --port $(SANDBOX_PORT)
endif
	$(REGIONGUARD) preflight --env $(ENV) --format $(or $(FORMAT),text)

.PHONY: apply
apply: check-env venv tf-config ## Apply the saved plan that `make plan` passed, and nothing else
	@$(REGIONGUARD) apply $(PIPELINE_FLAGS)

# The pull-request check: the chain of `make plan`, and whatever its outcome
# the review envs/ENV/tfplan.md, its pull-request comment envs/ENV/tfplan.comment.md
# and the SARIF log envs/ENV/tfplan.sarif.
.PHONY: review
review: check-env venv tf-config $(CHECKOV_VENV)/.installed ## Plan ENV for a pull request: always writes tfplan.md and tfplan.sarif; fails when plan would
	@$(REGIONGUARD) review $(PLAN_FLAGS) $(if $(filter 1 yes true,$(ALLOW_DESTROY)),--allow-destroy,)

.PHONY: drift
drift: check-env venv tf-config ## Read-only: terraform plan -detailed-exitcode, Control Tower drift, expired permits (drift.md)
	@$(REGIONGUARD) drift $(PLAN_FLAGS)

.PHONY: permits
permits: check-env venv ## Report permits of ENV that expired or end within 30 days (permits.md)
	@$(REGIONGUARD) permits --env $(ENV)

# The webhook URL comes from the environment variable REGIONGUARD_WEBHOOK_URL
# (a repository secret in the scheduled workflow); unset, nothing is sent.
.PHONY: notify
notify: venv ## Post NOTIFY_TITLE and FILES to the webhook in REGIONGUARD_WEBHOOK_URL (Slack, Teams), if set
	@$(REGIONGUARD) notify --title "$$NOTIFY_TITLE" $(foreach f,$(FILES),--file $(f))

# backend.hcl from the environment variables BACKEND_BUCKET and BACKEND_REGION
# (GitHub variables in the workflows, server environment in Atlantis).
.PHONY: backend-config
backend-config: check-env ## Write envs/ENV/backend.hcl from BACKEND_BUCKET and BACKEND_REGION (environment)
	@if [[ -z "$${BACKEND_BUCKET:-}" || -z "$${BACKEND_REGION:-}" ]]; then \
	  echo "make backend-config: set BACKEND_BUCKET and BACKEND_REGION (the state bucket and its Region)" >&2; exit 2; fi
	@if [[ ! "$$BACKEND_BUCKET" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$$ || ! "$$BACKEND_REGION" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$$ ]]; then \
	  echo "make backend-config: BACKEND_BUCKET is not an S3 bucket name or BACKEND_REGION not a Region code" >&2; exit 2; fi
	@printf 'bucket = "%s"\nregion = "%s"\n' "$$BACKEND_BUCKET" "$$BACKEND_REGION" > $(ENV_DIR)/backend.hcl
	@echo "wrote $(ENV_DIR)/backend.hcl"

.PHONY: plan-fixtures
plan-fixtures: venv tf-config ## Regenerate the real plans of tests/fixtures/plans and tests/checkov/fixtures/plan (terraform, sandbox)
	$(BIN)/python tests/fixtures/plans/regenerate.py
	$(BIN)/python tests/checkov/fixtures/plan/regenerate_checkov_plans.py

.PHONY: bench-plan-diff
bench-plan-diff: venv ## Benchmark plan-diff on 200 OUs and an SCP at the size limit
	$(BIN)/python bench/plan_diff_bench.py


# docs/adopt.md's migration for ENV on a sandbox seeded as its organization is
# today (scripts/regionguard/rehearsal.py): the sandbox extra and checkov, as plan.
# Its sandbox is its own: on SANDBOX_PORT when set, else on any free port.
.PHONY: rehearse
rehearse: check-env venv tf-config $(CHECKOV_VENV)/.installed ## Rehearse docs/adopt.md's migration and rollback for ENV on a sandbox of its own (.rehearse/ENV)
	@$(REGIONGUARD) rehearse --env $(ENV) --timeout $(TF_TIMEOUT) \
	  $(if $(filter command line environment,$(origin SANDBOX_PORT)),--sandbox-port $(SANDBOX_PORT),)

.PHONY: destroy
destroy: check-env venv tf-config ## Destroy what ENV manages (any ENV but local needs CONFIRM=ENV; refused while the landing-zone Region deny is off)
	@$(REGIONGUARD) destroy $(PIPELINE_FLAGS) $(if $(CONFIRM),--confirm $(CONFIRM),) \
	  $(if $(filter 1 yes true,$(ALLOW_NO_REGION_DENY)),--allow-no-region-deny,)

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

# The generated parts of the docs: the module READMEs' tables (from each
# module's .tf files), the docs' rule tables and .checkov.yaml's skip list
# (from regionguard.catalogue). Tests fail when one is stale.
.PHONY: docs
docs: venv ## Regenerate the module READMEs' tables and the docs' rule tables (and .checkov.yaml's skip list)
	$(BIN)/python tools/module_docs.py
	$(BIN)/python tools/rule_tables.py

# validate runs in a data folder of its own (TF_DATA_DIR, under .cache/validate/),
# never in the environment's .terraform: after a real `terraform init` that one
# records the S3 backend, and `terraform init -backend=false` there still loads
# that backend, which asks for AWS credentials. So `make validate`, and the
# pre-commit hook and `make test` that run it, never need credentials.
# (regionguard's plan and apply refuse TF_DATA_DIR, docs/plan-gate.md, "One door
# into Terraform": validate runs terraform directly, plans nothing and applies
# nothing.)
VALIDATE_DATA := $(CURDIR)/.cache/validate

.PHONY: validate
validate: tf-config ## terraform validate every environment (no backend, no credentials)
	@for env in $(ENVS); do \
	  echo "validate envs/$$env"; \
	  TF_DATA_DIR=$(VALIDATE_DATA)/$$env $(TF) -chdir=envs/$$env init -input=false -backend=false >/dev/null; \
	  TF_DATA_DIR=$(VALIDATE_DATA)/$$env $(TF) -chdir=envs/$$env validate -no-color; \
	done

# One target per root, so that `make -j` (and `make test`) runs them beside
# each other; each has its own .terraform folder.
TF_TEST_ROOTS := $(addprefix tf-test/,$(TEST_ROOTS))

.PHONY: tf-test $(TF_TEST_ROOTS)
tf-test: $(TF_TEST_ROOTS) ## terraform test every module and the shared root (mock provider, offline)

# A module commits no lock file (.gitignore); it gets envs/local's, the same
# provider: init without one would install the provider into the plugin cache
# again, replacing the entry that the inits beside it are linking to.
$(TF_TEST_ROOTS): tf-test/%: tf-config
	@echo "terraform test $*"
	@test -f $*/.terraform.lock.hcl || cp envs/local/.terraform.lock.hcl $*/.terraform.lock.hcl
	@$(TF) -chdir=$* init -input=false -backend=false >/dev/null
	@$(TF) -chdir=$* test -no-color

# zizmor audits the GitHub workflows offline (no GitHub API calls): template
# injection, unpinned actions, credentials kept by checkout, permissions.
.PHONY: lint
lint: venv ## ruff and mypy --strict over the Python package and tests; zizmor over the workflows
	$(BIN)/ruff check scripts tests bench policies tools
	$(BIN)/ruff format --check scripts tests bench policies tools
	$(BIN)/mypy
	$(BIN)/zizmor --offline --no-progress .github/workflows

# The saved plan is not scanned here: `make plan` and `make review` run checkov
# over it as a stage of the chain, and its findings join tfplan.sarif.
.PHONY: check
check: $(CHECKOV_VENV)/.installed ## checkov (built-in and policies/checkov) over modules/ and each env's Terraform
	@echo "checkov modules (built-in checks; a module alone has no inputs)"
	@$(CHECKOV) --quiet --skip-download --config-file .checkov.yaml --framework terraform -d modules
	@for env in $(ENVS); do \
	  echo "checkov envs/$$env"; \
	  $(CHECKOV) $(CHECKOV_FLAGS) --framework terraform -d envs/$$env; \
	done

# The IAM simulator the differential test compares with: an npm development
# dependency pinned by tests/differential/package-lock.json (docs/decisions.md).
DIFFERENTIAL_DEPS := tests/differential/node_modules/.installed
# Without npm, outside CI, the test is skipped with the reason; in CI (CI set) make fails.
$(DIFFERENTIAL_DEPS): tests/differential/package.json tests/differential/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/differential --no-audit --no-fund --loglevel=error && touch $@; \
	elif [[ -n "$${CI:-}" ]]; then \
	  echo "make: npm is not installed; the differential test needs it (install Node.js and npm)" >&2; exit 1; \
	else \
	  echo "make: npm is not installed; tests/test_differential_iam_simulate.py will be skipped" >&2; \
	fi

.PHONY: differential-deps
differential-deps: $(DIFFERENTIAL_DEPS) ## Install the npm package the differential test compares with (npm ci)

.PHONY: pytest
# PYTEST_WORKERS: pytest-xdist's processes, by default one more than the
# machine's cores: a test often waits (for Terraform's provider to start, for
# the sandbox's Control Tower operations), and on 2 cores 3 workers ran the
# slow tests faster than 2 (docs/testing.md, "Where the time goes"). 0 runs
# the tests in this process. Each worker starts its own sandboxes and copies.
# The machine's cores, counted once; the defaults of the test runs below.
CORES := $(shell nproc 2>/dev/null || echo 1)
PYTEST_WORKERS ?= $(shell echo $$(( $(CORES) + 1 )))

pytest: venv tf-config $(CHECKOV_VENV)/.installed $(DIFFERENTIAL_DEPS) ## Python tests, spread over PYTEST_WORKERS processes
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The tests marked `processes` STRESS_RUNS times in a row (default 20) beside
# two busy processes; STRESS_RUNS reaches the runner through the environment.
.PHONY: test-stress
test-stress: $(BIN)/.installed-dev tf-config ## Run the process and signal tests STRESS_RUNS times (default 20) under CPU load
	$(BIN)/python tests/stress.py

.PHONY: verify
verify: venv ## Check envs/*/expectations.yaml against each environment's rendered policies
	@for env in $(ENVS); do $(REGIONGUARD) verify --env $$env --sandbox skip; done

.PHONY: bench
bench: bench-registry bench-scale bench-plan-diff bench-matrix bench-prove ## All benchmarks: time and peak memory (bench-sandbox, bench-scale-sandbox run apart)

.PHONY: bench-registry
bench-registry: venv ## Benchmark tfvars + validate on 5,000 accounts against a bare YAML load
	$(BIN)/python bench/registry_bench.py

.PHONY: bench-scale
bench-scale: venv ## Benchmark tfvars + validate on 5,000 accounts, 2,000 permitted, 200 OUs, scp_layout per_ou
	$(BIN)/python bench/scale_bench.py registry

.PHONY: bench-scale-sandbox
bench-scale-sandbox: venv ## Time make plan/apply and count AWS calls on a sandbox of 200 OUs and 5,000 accounts (minutes)
	$(BIN)/python bench/scale_bench.py sandbox

.PHONY: bench-requests
bench-requests: venv ## Count client retries of 10,000 aws provider calls against the sandbox at Terraform's parallelism (about 20 minutes)
	$(BIN)/python bench/scale_bench.py requests

.PHONY: bench-matrix
bench-matrix: venv ## Benchmark the decision matrix of 5,000 accounts x 30 Regions x 3 actions
	$(BIN)/python bench/matrix_bench.py

.PHONY: bench-prove
bench-prove: venv ## Benchmark regionguard prove on 200 OUs, 5,000 accounts, 2,000 permitted (per_ou)
	$(BIN)/python bench/prove_bench.py

# The checks before pytest run beside each other, TEST_JOBS at a time (the
# cores by default), once `validate` has filled Terraform's plugin cache that
# the other inits link from; --output-sync prints each one's output whole
# when it ends. Then pytest, then verify.
TEST_JOBS ?= $(CORES)

.PHONY: test
test: ## Everything CI runs: fmt, lint, validate, terraform test, checkov, pytest, verify
	@$(MAKE) -j$(TEST_JOBS) --output-sync=target EXTRAS=$(EXTRAS) venv tf-config $(CHECKOV_VENV)/.installed
	@$(MAKE) fmt-check validate
	@$(MAKE) -j$(TEST_JOBS) --output-sync=target lint tf-test check
	@$(MAKE) pytest
	@$(MAKE) verify

# The dev loop (docs/testing.md): no Terraform, no sandbox process, no
# checkov or other outside tool, nothing slow; under two minutes.
FAST_TESTS := not terraform and not sandbox and not checkov and not tools and not slow

# The fast tests only compute (they wait for no provider or sandbox), so one
# pytest-xdist process per core: on 2 cores, 83 s against 138 s in one
# process and 96 s with 3 (docs/testing.md).
FAST_WORKERS ?= $(CORES)

.PHONY: test-fast
test-fast: venv ## The dev loop in under two minutes: ruff, and the tests that need no Terraform, sandbox or outside tool
	$(BIN)/ruff check scripts tests bench policies tools
	$(BIN)/pytest -n $(FAST_WORKERS) --dist loadfile -m "$(FAST_TESTS)"

.PHONY: clean
clean: ## Remove saved plans, caches and the virtual environments
	rm -rf $(VENV) $(CHECKOV_VENV) .cache .pytest_cache .mypy_cache .ruff_cache
	rm -rf .rehearse
	rm -f envs/*/tfplan envs/*/tfplan.json envs/*/tfplan.md envs/*/tfplan.gate.json envs/*/tfplan.sarif envs/*/tfplan.comment.md
