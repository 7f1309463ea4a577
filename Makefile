# One command each: `make dashboard` (set up and start the dashboard), `make test` (set up and run all tests),
# `make screenshots` (the browser tests again, writing docs/screenshot.png and docs/screenshots/*.png).
# `make setup` installs what the dashboard and the CLI need (requirements.txt); the tests add requirements-test.txt
# and the optional Ray extra. Each half has its own marker, so `make test` after `make dashboard` adds only the rest.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-test dashboard test screenshots browser-deps benchmark

$(VENV)/.installed-runtime: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-runtime requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt -e '.[ray]'
	touch $@

setup: $(VENV)/.installed-runtime

setup-test: $(VENV)/.installed-test

dashboard: setup
	$(VENV)/bin/streamlit run app.py

browser-deps:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

test: setup-test browser-deps
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=10

screenshots: setup-test browser-deps
	$(PY) -m pytest -q tests/e2e --screenshots

benchmark: setup
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/quality.py
