# Two entry points: `make demo` and `make test`. Each builds .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := denoise deblur sharpen inpaint colorize dejpeg superres
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint format bench clean

$(STAMP): pyproject.toml $(foreach p,$(PLUGINS),plugins/$(p)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,ray]" $(foreach p,$(PLUGINS),-e plugins/$(p))
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/make_images.py examples/images
	$(BIN)/restore examples/pipelines/old-photo.yaml examples/images -o restored --overwrite

test: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/mypy benchmarks/*.py
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/tiling.py

clean:
	rm -rf $(VENV) restored examples/images
