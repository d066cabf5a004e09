"""Taking over from Odoo's built-in Outlook sync (``microsoft_calendar`` + ``microsoft_account``).

Before the built-in is uninstalled (the two modules exclude each other, and uninstalling drops its columns),
``data/preserve_microsoft_calendar.sql`` (or ``tools/preserve_microsoft_calendar.py``) copies its links into three
plain tables. When this add-on is installed, :func:`..hooks.post_init_hook` calls
:meth:`OutlookMailbox._outlook_take_over_builtin`, which:

* gives each event and recurrence the iCalUId the built-in knew (``outlook_ical_uid``): the first sync of each
  mailbox then attaches Outlook's copies to them (the pull matches new copies by iCalUId) instead of creating a
  second event, and pushes nothing (events created before a mailbox's connection are not pushed), so Exchange
  mails nobody;
* takes the built-in's Azure app (client id and secret) when this add-on's settings are empty: the redirect URI
  ``/microsoft_account/authentication`` is the same;
* creates a mailbox in *Reconnect needed* for each user who synced, holding their refresh token (in its
  ``outlook.mailbox.token``, system only). The next cron run redeems it with MSAL (graph-reference I.4) and the
  mailbox is connected without a new consent; when that fails (another Azure app, a revoked grant) the user clicks
  Outlook once.
"""

import logging

from odoo import _, api, models
from odoo.tools.sql import table_exists

from ..engine.records import occurrence_start_utc, occurrence_uid
from ..graph.errors import ConfigurationError, GraphError, OutlookError, TransientError
from ..graph.run import GraphRun
from .calendar_event import INBOUND_CONTEXT
from .outlook_config import PARAM_CLIENT_ID, PARAM_CLIENT_SECRET, get_auth_settings, set_config_error

_logger = logging.getLogger(__name__)

BUILTIN_PARAMS = {
    "microsoft_calendar_client_id": PARAM_CLIENT_ID,
    "microsoft_calendar_client_secret": PARAM_CLIENT_SECRET,
}


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    # ------------------------------------------------------------
    # INSTALL: read what the built-in left (data/preserve_microsoft_calendar.sql)
    # ------------------------------------------------------------

    @api.model
    def _outlook_take_over_builtin(self):
        """Apply the preserved links of the built-in module; nothing happens without its tables.

        :return: ``{"events": n, "recurrences": n, "mailboxes": n, "settings": n}``
        """
        cr = self.env.cr
        if not table_exists(cr, "outlook_builtin_event"):
            return {}
        counts = {"events": 0, "recurrences": 0, "mailboxes": 0, "settings": 0}
        for model, table, key in (
            ("calendar.event", "calendar_event", "events"),
            ("calendar.recurrence", "calendar_recurrence", "recurrences"),
        ):
            self.env[model].flush_model(["outlook_ical_uid"])
            # the table names are the two constants above, never input
            cr.execute(
                f"""
                UPDATE {table} AS rec SET outlook_ical_uid = kept.ical_uid
                  FROM outlook_builtin_event AS kept
                 WHERE kept.model = %s AND kept.res_id = rec.id
                   AND kept.ical_uid IS NOT NULL AND rec.outlook_ical_uid IS NULL
            """,
                [model],
            )  # pylint: disable=sql-injection
            counts[key] = cr.rowcount
            self.env[model].invalidate_model(["outlook_ical_uid"])
        self._outlook_name_builtin_occurrences()
        counts["settings"] = self._outlook_take_builtin_settings()
        counts["mailboxes"] = self._outlook_take_builtin_users()
        _logger.info("outlook: took over from microsoft_calendar: %s", counts)
        return counts

    @api.model
    def _outlook_name_builtin_occurrences(self):
        """The occurrences that follow their rule get the identity the pull gives them (series iCalUId and
        start, :func:`occurrence_uid`): delta lists them without an iCalUId. Exceptions keep Graph's, the
        pull matches them by it."""
        self.env.cr.execute(
            """
            SELECT kept.res_id FROM outlook_builtin_event AS kept
              JOIN calendar_event AS event ON event.id = kept.res_id
              JOIN calendar_recurrence AS rec ON rec.id = event.recurrence_id
             WHERE kept.model = 'calendar.event' AND event.follow_recurrence AND rec.outlook_ical_uid IS NOT NULL
        """
        )
        events = (
            self.env["calendar.event"]
            .sudo()
            .with_context(active_test=False)
            .browse([row[0] for row in self.env.cr.fetchall()])
        )
        data = events._outlook_event_data()
        for event in events:
            uid = occurrence_uid(event.recurrence_id.outlook_ical_uid, occurrence_start_utc(data[event.id]))
            event.with_context(**INBOUND_CONTEXT).write({"outlook_ical_uid": uid})

    @api.model
    def _outlook_take_builtin_settings(self):
        """The built-in's client id and secret, where this add-on has none yet."""
        if not table_exists(self.env.cr, "outlook_builtin_param"):
            return 0
        self.env.cr.execute("SELECT key, value FROM outlook_builtin_param WHERE key IN %s", [tuple(BUILTIN_PARAMS)])
        params_sudo = self.env["ir.config_parameter"].sudo()
        taken = 0
        for key, value in self.env.cr.fetchall():
            if value and not params_sudo.get_param(BUILTIN_PARAMS[key]):
                params_sudo.set_param(BUILTIN_PARAMS[key], value)
                taken += 1
        return taken

    @api.model
    def _outlook_take_builtin_users(self):
        """A mailbox per active user who synced with the built-in (and had not stopped it)."""
        if not table_exists(self.env.cr, "outlook_builtin_user"):
            return 0
        self.env.cr.execute("""
            SELECT kept.user_id, kept.refresh_token
              FROM outlook_builtin_user AS kept JOIN res_users AS usr ON usr.id = kept.user_id
             WHERE usr.active AND NOT coalesce(kept.sync_stopped, false)
               AND (kept.refresh_token IS NOT NULL OR kept.last_sync_date IS NOT NULL)
             ORDER BY kept.user_id
        """)
        rows = self.env.cr.fetchall()
        mailboxes_sudo = self.sudo().with_context(mail_create_nosubscribe=True, tracking_disable=True)
        known = set(mailboxes_sudo.search([]).user_id.ids)
        tokens = {user_id: token for user_id, token in rows if token and user_id not in known}
        vals_list = [
            {
                "user_id": user_id,
                "state": "reconnect",
                "last_error": _(
                    "Synced by Odoo's former Outlook Calendar module: the next sync takes the connection over."
                )
                if token
                else _(
                    "Synced by Odoo's former Outlook Calendar module: click the Outlook button in Calendar to connect."
                ),
            }
            for user_id, token in rows
            if user_id not in known
        ]
        for mailbox in mailboxes_sudo.create(vals_list).filtered(lambda m: m.user_id.id in tokens):
            mailbox._outlook_write_tokens(builtin_refresh_token=tokens[mailbox.user_id.id])
        # the tokens now live in the system-only token records; the plain table keeps no secret
        self.env.cr.execute("UPDATE outlook_builtin_user SET refresh_token = NULL WHERE refresh_token IS NOT NULL")
        if tokens:
            self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync").sudo()._trigger()
        return len(vals_list)

    # ------------------------------------------------------------
    # CRON: redeem the preserved refresh tokens (STYLE R10, R11)
    # ------------------------------------------------------------

    @api.model
    def _cron_outlook_sync(self, time_budget=240):
        self._outlook_adopt_builtin_tokens()
        return super()._cron_outlook_sync(time_budget=time_budget)

    @api.model
    def _outlook_adopt_builtin_tokens(self):
        """Connect the mailboxes whose built-in refresh token is still waiting, one by one.

        A wrong app configuration keeps every token for a later run (the admin fixes the settings); a
        network failure keeps that token; any other refusal sends its user to the Outlook button.

        :return: the number of mailboxes connected
        """
        pending = self._outlook_with_builtin_token()
        if not pending:
            return 0
        settings = get_auth_settings(self.env)
        if settings.missing():
            return 0  # not configured yet: the tokens wait
        from .outlook_mailbox import Checkpoints

        run = GraphRun(settings)
        adopted = 0
        for mailbox in pending:
            try:
                mailbox._outlook_adopt_builtin_token(run)
                adopted += 1
            except ConfigurationError as exc:
                set_config_error(self.env, str(exc))
                break
            except TransientError as exc:
                _logger.warning("outlook: mailbox %s: built-in connection not taken over yet: %s", mailbox.id, exc)
                continue
            except OutlookError as exc:
                _logger.info("outlook: mailbox %s: built-in connection not taken over: %s", mailbox.id, exc)
                mailbox._outlook_write_tokens(builtin_refresh_token=False)
                mailbox._outlook_mark_reconnect(exc.user_message())
            finally:
                Checkpoints(self.env.cr).commit_and_close()  # cron boundary: one mailbox's outcome is durable
        return adopted

    def _outlook_adopt_builtin_token(self, run):
        """Redeem this mailbox's preserved refresh token and store the connection as the connect button does."""
        self.ensure_one()
        mailbox_sudo = self.sudo()
        auth = run.auth()
        result = auth.redeem_refresh_token(self._outlook_tokens()[self.id].builtin_refresh_token)
        me = self._outlook_builtin_identity(run, auth, result)
        self.env["outlook.mailbox"].with_user(mailbox_sudo.user_id)._outlook_store_connection(
            me, auth.cache.serialize()
        )
        self._outlook_write_tokens(builtin_refresh_token=False)
        _logger.info("outlook: mailbox %s: connection of microsoft_calendar taken over", self.id)

    @api.model
    def _outlook_builtin_identity(self, run, auth, result):
        """Who signed in: Graph's ``/me`` when the grant includes User.Read, else the sign-in's claims
        (``oid`` is the same id as ``/me``'s; the sign-in name stands in for the mailbox address)."""
        try:
            return run.client(auth).me()
        except GraphError as exc:
            if exc.status != 403:
                raise
        claims = result.get("id_token_claims") or {}
        return {
            "id": claims.get("oid") or "",
            "mail": claims.get("email") or "",
            "userPrincipalName": claims.get("preferred_username") or "",
        }
