# Every target installs what it needs first; `make setup` is idempotent and a no-op
# when .venv already matches pyproject.toml and requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONHASHSEED := 0
# DVC's site cache (its hash state and data index, diskcache files it unpickles) in a folder only this
# user can enter, not the world-writable /var/tmp/dvc: on a shared build host another user could plant
# a cache there (CVE-2025-69872, governance/soup_vulnerabilities.yaml). Run dvc by hand with the same
# variable, or `dvc config --local core.site_cache_dir` (an absolute path in a 0700 folder).
DVC_SITE := $(CURDIR)/.dvc/site-cache
export DVC_SITE_CACHE_DIR := $(DVC_SITE)

.PHONY: setup repro test test-fast bench techfile lock clean-venv services-deps services-up services-down team-pull

setup: $(STAMP)

# uv installs the same pinned wheels as pip 2.4x faster (128 s against 304 s for the lock
# on the 2-core machine); the wheels on this machine's disk (torch's CPU build) come first, so
# torch is never downloaded. No byte-compiling at install: Python compiles what a process imports
# the first time and caches it (a quarter of the 18,900 modules; the first import of the stages'
# libraries took 30 s, later ones 11 s), where compiling every module at install took 84 s more
# (99 against 16 s, measured 2026-11-27). So the cache must be writable: a PYTHONDONTWRITEBYTECODE
# in the environment would make every stage compile its imports again, and is not passed on.
unexport PYTHONDONTWRITEBYTECODE
UV         := $(BIN)/uv
UV_VERSION := 0.9.30
FIND_LINKS := $(or $(PIP_FIND_LINKS),$(wildcard /opt/wheels))

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(BIN)/python $(if $(FIND_LINKS),--find-links $(FIND_LINKS)) -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# A checkout without the identified data but with the de-identified data (a teammate's clone
# after `dvc pull -r team`: data/raw is never pushed) skips the stages whose only change is
# that missing data, so it re-runs nothing that the identified zone already ran.
# (the folders as params.yaml's paths name them, read the way dvc.yaml's templating reads them; a YAML
# anchor before the value, `raw: &raw data/raw`, is skipped)
path_of = $(shell sed -n 's/^  $(1): *\(&[^ ]* *\)\{0,1\}\([^ #]*\).*/\2/p' params.yaml)
REPRO_FLAGS = $(if $(wildcard $(call path_of,raw)),,$(if $(wildcard $(call path_of,deid)),--allow-missing))

# A data profile (profiles/NAME.yaml: demo, isbi-2d, msd-3d): `make repro PROFILE=isbi-2d` first writes
# params.yaml for it (`python -m pipeline profile NAME`; PROFILE=demo restores the demo byte for byte).
# Without PROFILE, params.yaml is used as it is: the demo on a fresh clone, else the profile last selected.
# A profile whose data enters after the cohort stage runs from that stage downstream (the profile's
# starts_at, printed by `profile --repro-args`): no demo cohort is generated or de-identified for it.
PROFILE ?=

$(DVC_SITE):
	@install -d -m 0700 $@

repro: setup | $(DVC_SITE)
	$(if $(PROFILE),$(BIN)/python -m pipeline profile $(PROFILE))
	$(BIN)/python -m pipeline check-params
	@args="$$($(BIN)/python -m pipeline profile --repro-args)" && set -x && \
	  PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro $(REPRO_FLAGS) $$args
	@echo
	@echo "Results:"
	@$(BIN)/python -m pipeline profile --list | sed -n 's/^\* */  profile                           /p'
	@echo "  raw synthetic cohort (DICOM)      $(call path_of,raw)/ (demo profile)"
	@echo "  metrics and stage reports         metrics/ (params.yaml: paths)"
	@echo "  MLflow runs (sqlite)              mlflow.db  (browse: $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db)"
	@echo "  release (documents, site, models) $(call path_of,release)/"

JUNIT = $(call path_of,junit)

# Two pytest-xdist workers, each test file whole in one of them (--dist loadfile: a module's fixtures, such
# as an end-to-end run or the team services on their fixed loopback ports, are built once): much of the
# suite is single-threaded Python (imports, DICOM, rendering), so two processes use both cores.
# TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: setup services-deps | $(DVC_SITE)
	@mkdir -p $(dir $(JUNIT))
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --junitxml=$(JUNIT) --html=$(dir $(JUNIT))tests.html --self-contained-html

# The fast tests only (no stage run end to end): a quick check while editing, not a release's evidence.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# Re-render the technical file from the recorded run (after `make test` refreshed
# the junit report, paths.junit); through DVC so that dvc.lock stays in step and `make repro` stays a no-op.
techfile: setup | $(DVC_SITE)
	$(BIN)/python -m pipeline check-params
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro --single-item --force trace
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro --single-item --force techfile

bench: setup
	$(BIN)/python -m benchmarks $(BENCH)

# The team services (PostgreSQL, SeaweedFS S3, MLflow with basic auth) on loopback addresses,
# state in .services/ (see "Working as a team" in the README). PostgreSQL is Debian's package,
# installed here when missing and this user may (root with apt-get); without it the services
# tests are skipped outside CI.
services-deps:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "services-deps: installing PostgreSQL (Debian's postgresql package)"; \
	    mkdir -p /etc/postgresql-common; \
	    test -e /etc/postgresql-common/createcluster.conf || \
	      echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "services-deps: PostgreSQL is missing (apt-get install postgresql); services tests will be skipped"; \
	  fi; \
	fi

services-up: setup services-deps
	$(BIN)/python -m pipeline.services up

services-down: setup
	$(BIN)/python -m pipeline.services down

# A teammate's clone, with the team's env sourced: every shareable output of dvc.lock (all but
# the identified ones, which are never in the remote).
team-pull: setup | $(DVC_SITE)
	$(BIN)/python -m pipeline.services pull

# Re-resolve the pins into requirements.lock (needs the package registry).
lock:
	rm -rf /tmp/pipeline-lock-venv
	$(PYTHON) -m venv /tmp/pipeline-lock-venv
	/tmp/pipeline-lock-venv/bin/python -m pip install --quiet ".[test,team]"
	/tmp/pipeline-lock-venv/bin/python -m pip freeze --exclude-editable --exclude pipeline \
	  | sed -e 's/^torch==\([0-9.]*\)+cpu/torch==\1/' > requirements.lock

clean-venv:
	rm -rf $(VENV)
