# Soundlake — the two commands a newcomer needs are `make demo` and `make test`.
.DEFAULT_GOAL := help
.PHONY: help demo run test test-cluster setup stack-up stack-down stack-status stack-logs stack-reset lint fmt

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

demo: ## set up what is missing, start the local stack and run the whole pipeline (DEMO_ARGS="--users N --days N")
	scripts/demo $(DEMO_ARGS)

run: ## run the platform continuously under Dagster, UI on 127.0.0.1:3070; Ctrl-C stops (RUN_ARGS="--users N")
	scripts/soundlake run $(RUN_ARGS)

test: ## set up what is missing, start the stack, run every test suite, stop what it started; then the cluster profile's quick tests
	scripts/test

test-cluster: ## start the cluster profile if needed, run all its tests (tests/test_stack_cluster*.py), stop what it started
	scripts/test-cluster

setup: ## install everything (Debian packages, Python venv, service jars, Rust binaries)
	scripts/setup

stack-up: ## start the local stack (installs on first use; harmless when already up)
	scripts/stack up

stack-down: ## stop the local stack's processes
	scripts/stack down

stack-status: ## each service, its address, whether it answers
	scripts/stack status

stack-logs: ## the last lines of each service's log
	scripts/stack logs

stack-reset: ## stop the local stack and delete all its data (installed software stays)
	scripts/stack reset --yes

lint: ## formatters and linters, no tests
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$${SOUNDLAKE_VENV:-.venv}/bin/ruff check .
	$${SOUNDLAKE_VENV:-.venv}/bin/ruff format --check .
	$${SOUNDLAKE_VENV:-.venv}/bin/mypy
	$${SOUNDLAKE_VENV:-.venv}/bin/mypy --config-file rust-udfs/pyproject.toml rust-udfs/python/soundlake_udfs
	$${SOUNDLAKE_VENV:-.venv}/bin/python -m mypy.stubtest --mypy-config-file rust-udfs/pyproject.toml soundlake_udfs._native

fmt: ## format Rust and Python code
	cargo fmt --all
	$${SOUNDLAKE_VENV:-.venv}/bin/ruff format .
