# dangjian — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
PYTEST_ARGS ?= -n 2
VENV := .venv
PY := $(VENV)/bin/python
DJ := $(VENV)/bin/dangjian
VENDOR := src/dangjian/static/vendor
export DANGJIAN_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test lint format bench install assets messages extract migrate demo clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR)/.copied: node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/alpinejs/dist/cdn.min.js $(VENDOR)/alpine.min.js
	cp node_modules/bootstrap/dist/css/bootstrap.min.css $(VENDOR)/bootstrap.min.css
	cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js $(VENDOR)/bootstrap.bundle.min.js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	rm -rf $(VENDOR)/bootstrap-icons && cp -r node_modules/bootstrap-icons/font $(VENDOR)/bootstrap-icons
	touch $@

assets: $(VENDOR)/.copied

messages: $(VENV)/.installed
	$(PY) -m dangjian.i18n

extract: $(VENV)/.installed
	$(PY) -m dangjian.i18n extract

install: $(VENV)/.installed assets messages

migrate: install
	$(DJ) migrate --noinput

demo: migrate
	$(DJ) seed --if-empty

run: demo
	@echo ""
	@echo "  dangjian is starting on http://127.0.0.1:8000"
	@echo "  Demo logins (password: dangjian-demo):"
	@echo "    admin        system administrator"
	@echo "    county       organisation administrator of the county committee"
	@echo "    town         organisation administrator of a township committee"
	@echo "    secretary_a  secretary of branch A    secretary_b  secretary of its sibling branch B"
	@echo "    member_a     a member of branch A     auditor      read-only auditor"
	@echo ""
	$(DJ) serve --bind 127.0.0.1:8000

test: install
	DANGJIAN_DATA_DIR=$(DANGJIAN_DATA_DIR)/test $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/seed.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR)
