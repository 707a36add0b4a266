# Every target installs what it needs first; `make setup` is idempotent and a no-op
# when .venv already matches pyproject.toml and requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONHASHSEED := 0

.PHONY: setup repro test test-fast bench techfile lock clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

repro: setup
	$(BIN)/python -m pipeline check-params
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	@echo
	@echo "Results:"
	@echo "  raw synthetic cohort (DICOM)      data/raw/"
	@echo "  metrics and stage reports         metrics/"
	@echo "  MLflow runs (sqlite)              mlflow.db  (browse: $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db)"
	@echo "  release (documents, site, models) release/"

test: setup
	@mkdir -p reports
	$(BIN)/python -m pytest --junitxml=reports/junit.xml --html=reports/tests.html --self-contained-html

# The fast tests only (no stage run end to end): a quick check while editing, not a release's evidence.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# Re-render the technical file from the recorded run (after `make test` refreshed
# reports/junit.xml); through DVC so that dvc.lock stays in step and `make repro` stays a no-op.
techfile: setup
	$(BIN)/python -m pipeline check-params
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro --single-item --force trace
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro --single-item --force techfile

bench: setup
	$(BIN)/python -m benchmarks $(BENCH)

# Re-resolve the pins into requirements.lock (needs the package registry).
lock:
	rm -rf /tmp/pipeline-lock-venv
	$(PYTHON) -m venv /tmp/pipeline-lock-venv
	/tmp/pipeline-lock-venv/bin/python -m pip install --quiet ".[test]"
	/tmp/pipeline-lock-venv/bin/python -m pip freeze --exclude-editable --exclude pipeline \
	  | sed -e 's/^torch==\([0-9.]*\)+cpu/torch==\1/' > requirements.lock

clean-venv:
	rm -rf $(VENV)
