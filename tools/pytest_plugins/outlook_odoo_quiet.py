"""pytest plugin loaded by tools/run_tests.py for the Odoo suite (``-p outlook_odoo_quiet``).

pytest-odoo imports ``odoo.tests`` before it turns on Odoo's test mode, and Odoo 18 then logs
"Importing test framework ... avoid importing from business modules" as an ERROR with a stack trace.
That line is expected under pytest-odoo; hide it so real errors stand out.
"""

import logging


class _DropTestFrameworkImportError(logging.Filter):
    def filter(self, record):
        return not (record.levelno == logging.ERROR and record.getMessage().startswith("Importing test framework"))


logging.getLogger("odoo.tests.common").addFilter(_DropTestFrameworkImportError())
