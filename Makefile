# Two commands for a new user: `make demo` (the main job) and `make test`.
# Both install what they need first. VENV can point at an existing environment to reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
REPORTS ?= reports
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
# The install stamp changes with the pinned requirements and with this checkout's location
# (the editable install points at it), so a reused venv is refreshed only when needed.
STAMP := $(abspath $(VENV))/.installed-$(shell (cat requirements.txt pyproject.toml; pwd) | sha1sum | cut -c1-12)

.PHONY: install data demo report smoke lab test clean-reports clean-cache help

help:
	@echo "make demo   install, fetch data, execute every notebook into $(REPORTS)/ (ipynb + html)"
	@echo "make report execute every notebook (runs reused) -> $(REPORTS)/report.html + summary.json"
	@echo "make test   install, fetch data, run the test suite (notebooks at SMOKE size included)"
	@echo "make lab    open JupyterLab on notebooks/"
	@echo "make data   fetch MNIST and render the instrument set into data/"
	@echo "make install  create the virtual environment $(VENV) (about 6 GB)"
	@echo "make clean-cache  remove the cached spectra (recomputed when needed)"

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet numpy==2.4.6 "setuptools>=70.1" wheel
	$(BIN)/python -m pip install --quiet --no-build-isolation -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps tinysoundfont==0.3.7
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(abspath $(VENV))/.installed-*
	touch $@

data: install
	$(BIN)/python -m helpers.data fetch all

demo: data
	$(BIN)/python -m helpers.notebooks --out $(REPORTS) $(NOTEBOOKS)

report: data
	$(BIN)/python -m helpers.report --out $(REPORTS) $(NOTEBOOKS)

smoke: data
	$(BIN)/python -m helpers.notebooks --smoke --out $(REPORTS)/smoke $(NOTEBOOKS)

lab: data
	$(BIN)/jupyter lab notebooks/

test: data
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-reports:
	rm -rf $(REPORTS)

# the spectra cache ($NOVELTY_CACHE_DIR/spectra, else data/cache/spectra): rebuilt when needed
clean-cache:
	$(BIN)/python -m helpers.audio.cache clean
