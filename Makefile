# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
LOCK   := constraints/lock.txt
STAMP  := $(VENV)/.installed

CHECK  := build/install-check
DEMO_OUT := runs/quickstart-$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test lint format install install-check clean

$(STAMP): pyproject.toml setup.py $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@echo "installing the pinned stack and bnnzoo into $(VENV) (once, a few minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@# PYTHONWARNINGS: setuptools' boxed note on editable installs is not for the person running make
	@PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -c $(LOCK) -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# the main job: train a small binary model on real data, export it to TFLite (LCE) and
# OpenVINO, verify both against Keras, benchmark every engine, print the report
demo: $(STAMP)
	$(VENV)/bin/bnnzoo quickstart --out $(DEMO_OUT)

lint: $(STAMP)
	$(VENV)/bin/ruff check bnnzoo tests benchmarks examples
	$(VENV)/bin/ruff format --check bnnzoo tests benchmarks examples

format: $(STAMP)
	$(VENV)/bin/ruff format bnnzoo tests benchmarks examples
	$(VENV)/bin/ruff check --fix bnnzoo tests benchmarks examples

# The suite runs in groups, each in fresh worker processes: TensorFlow and the converters keep
# memory a test cannot give back, and one pytest session over the whole suite grew a worker
# past 12 GB until the kernel killed it on a 24 GiB machine; tests/zoo and tests/training in one
# session still took its two workers to 9.8 and 7.3 GB, and ran slower than apart. The
# converters and the rest (CLI, reproduce, layers, analysis, quickstart) share one session: its
# largest process peaked at 6.5 GB, and it saves one start-up (two workers importing
# TensorFlow) and one tail where a worker waits for the other.
TEST_GROUPS := "tests --ignore=tests/zoo --ignore=tests/training" \
               "tests/zoo --ignore=tests/zoo/test_models.py" \
               "tests/training tests/zoo/test_models.py"

test: lint
	@set -e; for group in $(TEST_GROUPS); do \
	  echo "pytest $$group"; $(PY) -m pytest -q -n 2 --dist loadgroup $$group; done

# `pip install .` as a user of the package does it, without make: a new virtual environment,
# the wheel of this source tree and its dependencies (the lock file as constraints; no -e, no
# test extras), then the command and the import, run outside the source tree. The environment
# is deleted afterwards (2.7 GB).
install-check:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found"; exit 1; }
	rm -rf $(CHECK)
	$(PYTHON) -m venv $(CHECK)
	$(CHECK)/bin/python -m pip install --quiet -c $(LOCK) .
	$(CHECK)/bin/python -m pip check
	cd $(CHECK) && env -u PYTHONPATH ./bin/python -c "import sys, bnnzoo; \
	  assert bnnzoo.__file__.startswith(sys.prefix), bnnzoo.__file__; \
	  print('import bnnzoo', bnnzoo.__version__, 'from', bnnzoo.__file__)"
	cd $(CHECK) && env -u PYTHONPATH ./bin/bnnzoo summary binary_resnet_e18 \
	  --input-shape 32,32,3 > summary.txt && tail -1 summary.txt
	cd $(CHECK) && env -u PYTHONPATH ./bin/bnnzoo export binary_resnet_e18 --format tflite \
	  --input-shape 32,32,3 --out r18.tflite > export.txt && head -3 export.txt
	rm -rf $(CHECK)
	@echo "install-check: pip install . gives a working bnnzoo command and import bnnzoo"

clean:
	rm -rf $(VENV) build *.egg-info
