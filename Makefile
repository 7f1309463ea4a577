# One command each: `make dashboard` (set up and start the dashboard), `make test` (set up and run all tests),
# `make screenshots` (the browser tests again, writing docs/screenshot.png and docs/screenshots/*.png).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup dashboard test screenshots browser-deps benchmark

$(VENV)/.installed: requirements.txt requirements-test.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt -e .
	touch $@

setup: $(VENV)/.installed

dashboard: setup
	$(VENV)/bin/streamlit run app.py

browser-deps:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

test: setup browser-deps
	$(PY) -m pytest -q

screenshots: setup browser-deps
	$(PY) -m pytest -q tests/e2e --screenshots

benchmark: setup
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/quality.py
