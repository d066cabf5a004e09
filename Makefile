# One-command tooling. The logic lives in tools/ (stdlib Python, run by the machine's python3).
#   make test   set up what is missing, run every suite, print a summary (.run/test-summary.json);
#               ARGS="tests/test_access.py tests_engine/test_mapping.py" runs only those (other suites: skipped)
#   make demo   PostgreSQL + Graph emulator + Odoo on http://localhost:8069 (admin/admin); Ctrl-C stops all
#   make setup  only create/refresh .venv
#   make clean  stop what is running, remove .run/ and .venv/
#   make lint   pre-commit run --all-files: ruff, ruff format, pylint-odoo (tools installed into .venv on first use)
#   make i18n   regenerate i18n/outlook_calendar_sync.pot with Odoo's exporter and merge i18n/*.po
#   make wheel  build dist/odoo_addon_outlook_calendar_sync-*.whl (whool) from HEAD and check its metadata
# Odoo comes from ODOO_SRC=/path/to/odoo-18-tree, or from an odoo the machine's python3 already imports.

BOOTSTRAP_PYTHON ?= python3

.PHONY: test demo setup clean bench lint i18n wheel

test:
	@$(BOOTSTRAP_PYTHON) tools/run_tests.py $(ARGS)

demo:
	@$(BOOTSTRAP_PYTHON) tools/demo.py

setup:
	@$(BOOTSTRAP_PYTHON) tools/bootstrap.py

clean:
	@$(BOOTSTRAP_PYTHON) tools/clean.py

lint:
	@$(BOOTSTRAP_PYTHON) tools/lint.py $(ARGS)

i18n:
	@$(BOOTSTRAP_PYTHON) tools/i18n_update.py

wheel:
	@$(BOOTSTRAP_PYTHON) tools/wheel.py

# make bench   our add-on vs Odoo's built-in microsoft_calendar vs a plain create (.run/bench.json); ~30 min, not CI.
#              Options: make bench ARGS="--quick" (smoke run), "--ref HEAD", "--no-profile", "--update-readme"
bench:
	@$(BOOTSTRAP_PYTHON) bench/run.py $(ARGS)
