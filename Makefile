# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
LOCK   := constraints/lock.txt
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format install clean

$(STAMP): pyproject.toml setup.py $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# the main job: train a small binary model on real data, export it to TFLite (LCE) and
# OpenVINO, verify both against Keras, benchmark every engine, print the report
demo: $(STAMP)
	$(VENV)/bin/bnnzoo quickstart --out runs/quickstart-$$(date +%Y%m%d-%H%M%S)

lint: $(STAMP)
	$(VENV)/bin/ruff check bnnzoo tests benchmarks
	$(VENV)/bin/ruff format --check bnnzoo tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format bnnzoo tests benchmarks
	$(VENV)/bin/ruff check --fix bnnzoo tests benchmarks

test: lint
	$(PY) -m pytest -q -n 2 --dist loadgroup

clean:
	rm -rf $(VENV) build *.egg-info
