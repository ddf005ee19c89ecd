# Two commands set everything up on a fresh machine with Python 3.10+ and pip:
#   make lab    install (into .venv) and open JupyterLab on notebooks/
#   make test   install (into .venv) and run every test, notebooks included
# Versions are pinned in requirements/constraints*.txt so printed numbers do not drift.
# An environment you manage yourself (conda: environment.yml) instead of the venv:
#   make lab VENV=$CONDA_PREFIX STAMP=    (STAMP= : no install, its packages as they are)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
KERNEL := response-geometry
PYMINOR := $(shell $(PYTHON) -c 'import sys; print(sys.version_info[1] if sys.version_info[0] == 3 else 0)')
CONSTRAINTS := $(if $(filter 10,$(PYMINOR)),requirements/constraints-py310.txt,requirements/constraints.txt)
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install lab test bench models notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "response-geometry needs Python 3.10 or newer; found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (response-geometry)" > /dev/null
	@touch $(STAMP)

# JupyterLab on notebooks/. `make lab PORT=8899` picks the port (default 8888); if it is
# taken, Jupyter tries the next free ones (port_retries) and prints the URL it got.
# As root (a container) Jupyter refuses to start without --allow-root, so uid 0 gets it.
# With no display (ssh, a container, CI; macOS always has one) there is no browser to
# open: --no-browser, and you open the printed http://127.0.0.1:PORT/lab?token=... URL.
# LAB_ARGS go to `jupyter lab` as they are (e.g. LAB_ARGS=--ip=0.0.0.0 in a container).
PORT     ?= 8888
LAB_ARGS ?=
AS_ROOT   = $(filter 0,$(shell id -u))
HEADLESS  = $(if $(DISPLAY)$(WAYLAND_DISPLAY)$(filter Darwin,$(shell uname -s)),,yes)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks \
	    --ServerApp.port=$(PORT) --ServerApp.port_retries=50 \
	    $(if $(AS_ROOT),--allow-root) $(if $(HEADLESS),--no-browser) $(LAB_ARGS)

# JAX's persistent compilation cache: the notebooks run twice in `make test` (nbval and the
# browser test), and compiling through the unrolled LCA takes longer than running it.
JAX_CACHE ?= $(abspath $(VENV))/jax-cache
export JAX_COMPILATION_CACHE_DIR := $(JAX_CACHE)
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0.2

# Three pytest sessions (tools/run_tests.py) at the same time, all always run, make fails if
# any fails: the unit tests and doctests on TEST_WORKERS pytest-xdist processes (whole files
# per worker; TEST_WORKERS=0: one process), the browser tests, and the notebooks (nbval).
# PYTEST_ARGS go to all three (add --sequential to run them one after another); naming
# test paths in PYTEST_ARGS runs just those, in one serial session.
TEST_WORKERS ?= 2

test: $(STAMP)
	@bash tools/ensure_chromium.sh
	$(PY) -m tools.run_tests --workers $(TEST_WORKERS) $(PYTEST_ARGS)

# BENCH_ARGS go to `python -m benchmarks` (e.g. BENCH_ARGS="--quick --only mlp"; --help lists them).
BENCH_ARGS ?=

bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

# Retrain every shipped parameter file in geomlib/params (seeded; about an hour on 2 cores:
# chapter 8's dictionaries and the PGD-trained MLP take most of it).
models: $(STAMP)
	$(PY) -m geomlib.cli.train all

# Re-execute every notebook in place (saved executed, so they read without a kernel).
notebooks: $(STAMP)
	$(PY) -m tools.execute_notebooks notebooks/*.ipynb

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
