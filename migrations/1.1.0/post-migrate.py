"""18.0.1.1.0: the tokens leave the mailbox row for their own record (``outlook.mailbox.token``).

Runs after the new table exists and before Odoo drops the columns of the removed fields: the stored MSAL caches and
the refresh tokens kept from Odoo's former Outlook module are moved inside PostgreSQL (no token passes through Python
or a log), then the old columns are dropped.
"""

import logging

from odoo.addons.outlook_calendar_sync.models.outlook_mailbox_token import move_legacy_token_columns

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    moved = move_legacy_token_columns(cr)
    _logger.info("outlook: tokens of %s mailboxes moved to their own records", moved)
