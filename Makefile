# The two commands of the README: `make demo` and `make test`. Both set up .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TRIAGEPARSE_CORPUS ?= $(abspath ../shared/corpus)

.PHONY: demo test fuzz bench docs clean

$(STAMP): pyproject.toml setup.py src/triageparse/_evtxfast.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,kql,registry,adx,notebook]'
# An editable install leaves src/ without bytecode, and with PYTHONDONTWRITEBYTECODE set (as on this
# machine) every command compiled the package again: ~0.15 s before an EVTX file's workers could start.
	$(PY) -m compileall -q src
	@if [ -f package.json ]; then npm ci --silent --no-audit --no-fund; fi
	touch $(STAMP)

demo: $(STAMP)
	rm -rf demo-out
	$(VENV)/bin/triageparse convert sample_data/DFIR-WS01-2025-10-02.zip sample_data/DFIR-LEGACY01-2023-03-14 -o demo-out
	$(VENV)/bin/triageparse hunt demo-out

test: $(STAMP)
	$(PY) -m pytest -q

fuzz: $(STAMP)
	TRIAGEPARSE_FUZZ_EXAMPLES=2000 $(PY) -m pytest -q tests -k fuzz

docs: $(STAMP)
	$(VENV)/bin/triageparse schema --markdown > docs/tables.md

clean:
	rm -rf $(VENV) demo-out .pytest_cache
