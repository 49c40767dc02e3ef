# The two commands of the README: `make book` and `make test`. Both set everything up on a fresh machine.
#   make book [PROFILE=tiny|paper]   install, execute every chapter with papermill, build the HTML (warnings are errors)
#                                    (timing table: wall + CPU s per chapter against BUDGET; a chapter fails on an
#                                    error or on CPU time over FAIL_MULTIPLE x BUDGET x 2 cores)
#   make test                        pytest + doctests (set SRLIB_DATA=path/to/data for the benchmark tests)
#   make data DATASETS="Set5 Set14"  download real data sets into data/ (needs internet)
#   make assignments                 student notebooks without the exercise solutions, in _build/assignments
#   make bench                       benchmarks (by hand; not part of CI)
#   make gpu-smoke [SMOKE_ARGS=...]  paper profile on one GPU: trainers, DDP, pytest -m gpu, chapters (tools/gpu_smoke.py;
#                                    on a CPU it runs at reduced size)
#   make clean                       remove build products, executed notebooks and runs

PROFILE ?= tiny
DATASETS ?= Set5 Set14 B100 Urban100
BUDGET ?= 180
FAIL_MULTIPLE ?= 3

# Use the active virtual environment if there is one, otherwise create ./.venv.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.srlib-installed

.PHONY: install book chapters html test data bench clean assignments gpu-smoke

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[book,test]"
	@touch $(STAMP)

chapters: install
	$(PY) tools/run_book.py --profile $(PROFILE) --budget $(BUDGET) --fail-multiple $(FAIL_MULTIPLE)

html: install
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going

book: chapters html
	@echo "Book built: _build/html/index.html"

test: install
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --doctest-modules srlib -p no:cacheprovider

assignments: install
	$(PY) tools/make_assignments.py --out _build/assignments

data: install
	$(PY) -m srlib data $(DATASETS) --root data

bench: install
	$(PY) benchmarks/run_all.py

gpu-smoke: install
	$(PY) tools/gpu_smoke.py $(SMOKE_ARGS)

clean:
	rm -rf _build book/*.ipynb runs .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
