# Two entry points for a fresh machine: `make run` (main job, default config) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= all
# The CPU build of torch 2.13.0 (on this machine's disk); override for a CUDA build elsewhere.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install run test bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: install
	PATH="$(abspath $(VENV))/bin:$$PATH" snakemake --cores $(CORES)

test: install
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest -q

lint: install
	PATH="$(abspath $(VENV))/bin:$$PATH" snakemake --lint

bench: install
	$(PY) bench/bench_simulate.py
	$(PY) bench/bench_train.py
	$(PY) bench/bench_symbolic.py

clean:
	rm -rf results .snakemake
