# Two commands on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Compile llama.cpp with both cores; pip caches the built wheel, so this happens once.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
# llama.cpp is built for x86-64 with explicit instruction sets instead of -march=native: on
# virtual machines that advertise Intel AMX without supporting it, a native build dies with
# SIGILL at the first prompt. AVX-512 is added where the CPU has it (faster prompt processing).
LLAMA_X86 := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_AVX512 := -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
ifeq ($(shell uname -m),x86_64)
ifneq ($(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo yes),)
export CMAKE_ARGS ?= $(LLAMA_X86) $(LLAMA_AVX512)
else
export CMAKE_ARGS ?= $(LLAMA_X86)
endif
endif

.PHONY: install install-train run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The training stack (torch CPU build, transformers, TRL, PEFT, sentence embeddings), the GPU
# helper service and the evaluation charts, which personalization and the tests need; the app
# itself runs without them.
$(VENV)/.installed-train: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e ".[dev,train,helper,eval]"
	touch $@

install-train: $(VENV)/.installed-train

run: install
	$(BIN)/gravity-desktop

test: install-train
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q
	$(BIN)/ruff check .

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/engine_vs_raw.py

clean:
	rm -rf $(VENV) build *.egg-info
