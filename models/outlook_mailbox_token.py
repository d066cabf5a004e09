"""Where a mailbox's tokens live: one ``outlook.mailbox.token`` row per mailbox, written by the token path only.

Why a record of its own. The mailbox row is updated by many writers (the cron's claim and its progress, the user's
pause, the OAuth callback, the dashboard). When PostgreSQL refuses one of two concurrent UPDATEs of a row
(serialization failure), Odoo logs the refused statement *with its values* at ERROR, and retries the request: tokens
written on that row would stand in the log. So:

* the tokens sit in this table, which nothing but the methods below writes: the connect callback, the sync's token
  refresh checkpoint, the take-over of Odoo's former Outlook module and disconnecting. Reading a mailbox never
  loads them (another model: never prefetched with it), and no user has any access right on this model: only sudo
  code reaches them, through :meth:`OutlookMailbox._outlook_tokens`;
* every write first takes the row lock (``SELECT ... FOR UPDATE``, whose only parameter is the mailbox id), so a
  second token writer waits for the first one's commit. Under Odoo's REPEATABLE READ a waiter whose row was changed
  meanwhile is refused *on that statement* (its log line holds ids only) and its transaction is run again on a fresh
  snapshot: Odoo's retry of the HTTP request, the sync's retry of its page;
* the statement that carries the tokens runs only once the lock is held (it can no longer conflict) and with
  ``log_exceptions=False``: should anything else make it fail (a lost connection), Odoo does not print it. Raw SQL,
  not the ORM: an ORM write is flushed by whichever later query comes first, and printed if that flush fails.
"""

from collections import namedtuple

from odoo import api, fields, models
from odoo.tools import SQL

from . import compat

TOKEN_COLUMNS = ("cache", "builtin_refresh_token")
MailboxTokens = namedtuple("MailboxTokens", TOKEN_COLUMNS, defaults=(None, None))
ANY_CACHE = object()  # _outlook_write_tokens: whatever cache is stored


class OutlookMailboxToken(models.Model):
    _name = "outlook.mailbox.token"
    _description = "Outlook mailbox tokens (system only)"
    _log_access = False

    mailbox_id = fields.Many2one("outlook.mailbox", required=True, readonly=True, ondelete="cascade")
    cache = fields.Text("MSAL Token Cache", groups="base.group_system", prefetch=False, copy=False)
    builtin_refresh_token = fields.Text(
        "Refresh token of the former Outlook module",
        groups="base.group_system",
        prefetch=False,
        copy=False,
        help="Kept from Odoo's microsoft_calendar until the next sync takes the connection over",
    )

    _mailbox_uniq = compat.Constraint("UNIQUE(mailbox_id)", "A mailbox has one token record.")


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    def _outlook_tokens(self):
        """The one way to read tokens: ``{mailbox id: MailboxTokens}`` of these mailboxes (none: empty values)."""
        tokens = dict.fromkeys(self.ids, MailboxTokens())
        if self.ids:
            self.env.cr.execute(
                "SELECT mailbox_id, cache, builtin_refresh_token FROM outlook_mailbox_token WHERE mailbox_id IN %s",
                [tuple(self.ids)],
            )
            tokens.update((row[0], MailboxTokens(*row[1:])) for row in self.env.cr.fetchall())
        return tokens

    def _outlook_token_cache(self):
        """This mailbox's serialized MSAL token cache, or ``None``."""
        self.ensure_one()
        return self._outlook_tokens()[self.id].cache

    def _outlook_write_tokens(self, expected_cache=ANY_CACHE, **values):
        """Store token values (``cache``, ``builtin_refresh_token``) on these mailboxes, under the row lock.

        :param expected_cache: write only where the stored cache is still this one (the sync's refresh must not
            overwrite a reconnection or bring back the tokens of a disconnection made meanwhile)
        :return: whether every mailbox was written
        """
        unknown = set(values) - set(TOKEN_COLUMNS)
        if unknown or not values:
            raise ValueError(f"not token columns: {sorted(unknown) or 'none given'}")
        cr = self.env.cr
        assignments = SQL(", ").join(
            SQL("%s = %s", SQL.identifier(column), value or None) for column, value in values.items()
        )
        written = True
        for mailbox_id in self.ids:
            if expected_cache is ANY_CACHE:
                cr.execute(
                    "INSERT INTO outlook_mailbox_token (mailbox_id) VALUES (%s) ON CONFLICT (mailbox_id) DO NOTHING",
                    [mailbox_id],
                )
            cr.execute("SELECT id, cache FROM outlook_mailbox_token WHERE mailbox_id = %s FOR UPDATE", [mailbox_id])
            row = cr.fetchone()
            if row is None or (expected_cache is not ANY_CACHE and row[1] != (expected_cache or None)):
                written = False
                continue
            cr.execute(
                SQL("UPDATE outlook_mailbox_token SET %s WHERE id = %s", assignments, row[0]), log_exceptions=False
            )
        return written

    def _outlook_forget_tokens(self):
        """Drop every token of these mailboxes (disconnecting)."""
        if self.ids:
            self.env.cr.execute("DELETE FROM outlook_mailbox_token WHERE mailbox_id IN %s", [tuple(self.ids)])

    @api.model
    def _outlook_with_builtin_token(self):
        """The mailboxes whose refresh token of Odoo's former Outlook module still waits to be redeemed."""
        self.env.cr.execute(
            "SELECT mailbox_id FROM outlook_mailbox_token WHERE builtin_refresh_token IS NOT NULL ORDER BY mailbox_id"
        )
        return self.sudo().browse([row[0] for row in self.env.cr.fetchall()]).exists()


def move_legacy_token_columns(cr):
    """Upgrade from 18.0.1.0.0, where the tokens were columns of ``outlook_mailbox``: copy them into
    ``outlook_mailbox_token`` and drop the old columns, so that no copy is left on the mailbox row.

    :return: the number of mailboxes whose tokens were moved
    """
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'outlook_mailbox' "
        "AND column_name IN ('token_cache', 'builtin_refresh_token')"
    )
    legacy = {row[0] for row in cr.fetchall()}
    if not legacy:
        return 0
    cache = SQL.identifier("token_cache") if "token_cache" in legacy else SQL("NULL")
    builtin = SQL.identifier("builtin_refresh_token") if "builtin_refresh_token" in legacy else SQL("NULL")
    # no parameter holds a token: the values go from table to table inside PostgreSQL
    cr.execute(
        SQL(
            """
            INSERT INTO outlook_mailbox_token (mailbox_id, cache, builtin_refresh_token)
                 SELECT id, %(cache)s, %(builtin)s FROM outlook_mailbox
                  WHERE %(cache)s IS NOT NULL OR %(builtin)s IS NOT NULL
            ON CONFLICT (mailbox_id) DO UPDATE
                    SET cache = COALESCE(EXCLUDED.cache, outlook_mailbox_token.cache),
                        builtin_refresh_token = COALESCE(EXCLUDED.builtin_refresh_token,
                                                         outlook_mailbox_token.builtin_refresh_token)
            """,
            cache=cache,
            builtin=builtin,
        )
    )
    moved = cr.rowcount
    for column in sorted(legacy):
        cr.execute(SQL("ALTER TABLE outlook_mailbox DROP COLUMN %s", SQL.identifier(column)))
    return moved
