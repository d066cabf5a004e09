# One-command tooling. The logic lives in tools/ (stdlib Python, run by the machine's python3).
#   make test   set up what is missing, run every suite on every Odoo major found (18, 19), print a summary
#               (.run/test-summary.json); ARGS="tests/test_access.py tests_engine/test_mapping.py" runs only those
#               (other suites: skipped); ODOO=19 runs only that major; ARGS=--no-calendar-core leaves out Odoo's
#               own calendar tests
#   make demo   PostgreSQL + Graph emulator + Odoo on http://localhost:8069 (admin/admin); Ctrl-C stops all;
#               ODOO=19 picks the major (default: the first found)
#   make setup  only create/refresh the venvs (.venv for Odoo 18, .venv-19 for Odoo 19)
#   make clean  stop what is running, remove .run/ and the venvs
#   make lint   pre-commit run --all-files: ruff, ruff format, pylint-odoo (tools installed into .venv on first use)
#   make i18n   regenerate i18n/outlook_calendar_sync.pot with Odoo's exporter and merge i18n/*.po
#   make wheel  build one wheel per Odoo series (whool) from HEAD into dist/18.0/, dist/19.0/ and check their
#               metadata; SERIES=19.0 builds only that one
# Odoo comes from ODOO18_SRC / ODOO19_SRC / ODOO_SRC=/path/to/odoo-tree, or from a python3 / python3.N on PATH (or
# a pyenv version) that already imports odoo.

BOOTSTRAP_PYTHON ?= python3
ODOO ?=
SERIES ?=
ODOO_ARG = $(if $(ODOO),--odoo $(ODOO))

.PHONY: test demo setup clean bench lint i18n wheel

test:
	@$(BOOTSTRAP_PYTHON) tools/run_tests.py $(ODOO_ARG) $(ARGS)

demo:
	@$(BOOTSTRAP_PYTHON) tools/demo.py $(ODOO_ARG)

setup:
	@$(BOOTSTRAP_PYTHON) tools/bootstrap.py $(ODOO_ARG)

clean:
	@$(BOOTSTRAP_PYTHON) tools/clean.py

lint:
	@$(BOOTSTRAP_PYTHON) tools/lint.py $(ARGS)

i18n:
	@$(BOOTSTRAP_PYTHON) tools/i18n_update.py $(ODOO_ARG)

wheel:
	@$(BOOTSTRAP_PYTHON) tools/wheel.py $(if $(SERIES),--series $(SERIES))

# make bench   our add-on vs Odoo's built-in microsoft_calendar vs a plain create (.run/bench.json); ~30 min, not CI.
#              Options: make bench ARGS="--quick" (smoke run), "--ref HEAD", "--no-profile", "--update-readme";
#              ODOO=19 measures on Odoo 19 (.run/bench-19.json)
bench:
	@$(BOOTSTRAP_PYTHON) bench/run.py $(ODOO_ARG) $(ARGS)
