"""pytest plugin loaded by tools/run_tests.py for the Odoo suites (``-p outlook_odoo_quiet``); it also loads the
log-secret guard (``outlook_log_guard.py``).

pytest-odoo imports ``odoo.tests`` before it turns on Odoo's test mode, and Odoo 18 then logs
"Importing test framework ... avoid importing from business modules" as an ERROR with a stack trace.
That line is expected under pytest-odoo; hide it so real errors stand out.
"""

import logging

# the log-secret guard (a plugin of its own, so that a suite without Odoo can prove that it works)
pytest_plugins = ["outlook_log_guard"]


class _DropTestFrameworkImportError(logging.Filter):
    def filter(self, record):
        return not (record.levelno == logging.ERROR and record.getMessage().startswith("Importing test framework"))


logging.getLogger("odoo.tests.common").addFilter(_DropTestFrameworkImportError())
