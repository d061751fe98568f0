# Two commands do everything on a fresh machine with Python 3.11:
#   make book    environment, papermill-executed chapters (PROFILE=quick), HTML book
#   make test    unit tests, nbval on book/*.ipynb, strict book build
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick

.PHONY: env book html test clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt --editable ".[book,test]"
	# torchattacks and adv-lib are development-only cross-checks; their declared dependencies would pull in torchvision.
	$(PY) -m pip install --quiet --no-deps --constraint constraints.txt torchattacks adv-lib
	touch $@

env: $(VENV)/.installed

book: env
	$(VENV)/bin/intrinsic-rob book --profile $(PROFILE)

html: env
	$(VENV)/bin/jupyter-book build book/ -W -n --keep-going

test: env
	$(PY) -m pytest

clean:
	rm -rf book/_build
