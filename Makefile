# Two entry points for a fresh machine: `make run` (main job, default config) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# CORES: cores Snakemake may use (make run CORES=2). PYTHON: the interpreter .venv is made from
# (make run PYTHON=python3.12). A comment on a variable's own line would become part of its value.
CORES ?= all
PYTHON ?= python3
# Which torch build: auto (CUDA where nvidia-smi finds a GPU, else CPU), cpu, cuda or a wheel
# index URL. The venv is remade when this choice, pyproject.toml or the Python changes.
TORCH ?= auto

.PHONY: install run test bench lint clean md-example

install:
	@VENV='$(VENV)' TORCH='$(TORCH)' PYTHON='$(PYTHON)' bash tools/install.sh

run: install
	PATH="$(abspath $(VENV))/bin:$$PATH" snakemake --cores $(CORES)

test: install
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest -q

# ASE molecular dynamics (256 Lennard-Jones atoms, periodic) written as extxyz, then distilled
md-example: install
	$(PY) tools/md_example.py --out results/md/lj.extxyz
	PATH="$(abspath $(VENV))/bin:$$PATH" snakemake --cores $(CORES) --configfile config/data/md.yaml

lint: install
	PATH="$(abspath $(VENV))/bin:$$PATH" snakemake --lint

bench: install
	$(PY) bench/bench_simulate.py
	$(PY) bench/bench_train.py
	$(PY) bench/bench_symbolic.py

clean:
	rm -rf results .snakemake
