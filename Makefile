# Two entry points (see README): `make run` and `make test`.
# Each creates .venv if it is missing and installs the project into it first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c "from dqfl.quantum.kernels import warm_up; warm_up()"  # compile the simulator once
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/dqfl run

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# Headless Chromium + chromedriver from Debian for the report.html check (root; optional:
# without them tests/test_report_browser.py is skipped with the reason).
browser:
	apt-get install -y --no-install-recommends chromium chromium-driver

clean:
	rm -rf $(VENV) .pytest_cache .dqfl_cache
