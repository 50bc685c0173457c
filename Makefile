# Two commands set up a fresh machine:  `make demo`  and  `make test`.
# Each creates .venv when missing; torch is pinned to the local CPU build first
# so that no multi-GB CUDA build is pulled.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
TORCH   ?= torch==2.13.0

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[test,baselines,distributed,classification]" "$(TORCH)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/insp demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.fit_speed

clean:
	rm -rf $(VENV) out
