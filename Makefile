# node-ops developer commands. Everything self-installs into .venv from PyPI.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The client older DSS instances bundle, installed beside the newest one and put
# first on PYTHONPATH for the compatibility run of the suite.
OLD_CLIENT := 12.6.4
OLD_CLIENT_DIR := $(VENV)/clients/$(OLD_CLIENT)
PLUGIN_ID := $(shell $(PYTHON) -c "import json;print(json.load(open('plugin.json'))['id'])")
PLUGIN_VERSION := $(shell $(PYTHON) -c "import json;print(json.load(open('plugin.json'))['version'])")
ZIP := dist/dss-plugin-$(PLUGIN_ID)-$(PLUGIN_VERSION).zip
STAMP := $(VENV)/.installed

.PHONY: venv test unit contract integration compat demo plugin bench pythons clean

$(STAMP): tests/requirements.txt code-env/python/spec/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r code-env/python/spec/requirements.txt -r tests/requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --target $(OLD_CLIENT_DIR) dataiku-api-client==$(OLD_CLIENT)
	touch $(STAMP)

venv: $(STAMP)

# The whole suite with the newest client, then the parts that talk to DSS again
# with the old client.
test: venv
	$(PY) -m pytest -n 2 tests
	$(MAKE) --no-print-directory compat

# (The browser test is left out here: the pages it opens do not depend on the client, and
# test_demo already runs the demo with the old one.)
compat: venv
	PYTHONPATH=$(CURDIR)/$(OLD_CLIENT_DIR) NODEOPS_EXPECT_CLIENT=$(OLD_CLIENT) $(PY) -m pytest -n 2 -m "not browser" tests/contract tests/integration

unit: venv
	$(PY) -m pytest tests/unit

demo: venv
	$(PY) tools/demo.py --out demo-out

# The README's screenshots: every demo report as a 560x420 dashboard tile and as a full page, in
# headless Chromium (apt-get install -y chromium chromium-driver).
.PHONY: screenshots
screenshots: venv
	$(PY) tools/screenshots.py --out docs/screenshots

plugin: venv
	$(PY) tools/build_plugin.py --out $(ZIP)

bench: venv
	$(PY) tests/bench/run.py $(BENCH)

# The suite (default tests/unit; PYTEST_ARGS="tests" for all of it) under every Python the code env
# accepts that this machine has an interpreter for, each in its own virtualenv under .venvs/.
pythons: venv
	$(PY) tools/pythons.py test $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venvs dist demo-out .pytest_cache
