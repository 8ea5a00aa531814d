# Bastion: two commands on a fresh machine.
#   make serve   install what is needed and start `bastion serve` (SQLite, in-memory hot state)
#   make test    install the test tools and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck bench install clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The Debian packages some suites need (nginx, chromium, nodejs, softhsm2); they skip without.
system-deps:
	scripts/install-system-deps.sh

serve: install
	$(BIN)/bastion serve

test: install
	$(BIN)/pytest -n 2 --dist loadgroup -q

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

bench: install
	-$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]' || \
		echo "libinjection-python did not install: bench_inspect.py prints our figures only"
	$(BIN)/python bench/bench_verify_http.py
	$(BIN)/python bench/bench_token_verify.py
	$(BIN)/python bench/bench_login_http.py
	$(BIN)/python bench/bench_password_hash.py
	$(BIN)/python bench/bench_memory.py
	$(BIN)/python bench/bench_apikeys.py
	$(BIN)/python bench/bench_ratelimit.py
	$(BIN)/python bench/bench_inspect.py
	$(BIN)/python bench/bench_protect_http.py
	$(BIN)/python bench/bench_sealed.py
	$(BIN)/python bench/bench_signing_http.py
	$(BIN)/python bench/bench_crypto.py
	$(BIN)/python bench/bench_vault.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
