"""The admins' dashboard: every internal user, connected or not, with their mailbox's state and numbers
(a read-only SQL view, one query for the whole list); also any other user who has a mailbox (connected before
only internal users could), marked so."""

from odoo import _, fields, models, tools
from odoo.exceptions import UserError

DASHBOARD_STATES = [
    ("connected", "Connected"),
    ("reconnect", "Reconnect needed"),
    ("paused", "Paused"),
    ("disconnected", "Stopped"),
    ("never", "Never connected"),
    ("not_internal", "Not an internal user"),
]


class OutlookDashboard(models.Model):
    _name = "outlook.dashboard"
    _description = "Outlook sync: users and their connection"
    _auto = False
    _order = "state_sequence, user_name, user_id"
    _rec_name = "user_id"

    user_id = fields.Many2one("res.users", readonly=True)
    user_name = fields.Char(readonly=True)
    mailbox_id = fields.Many2one("outlook.mailbox", string="Mailbox Record", readonly=True)
    address = fields.Char("Mailbox", readonly=True)
    state = fields.Selection(DASHBOARD_STATES, string="Connection", readonly=True)
    state_sequence = fields.Integer(readonly=True)
    paused_by_admin = fields.Boolean(readonly=True)
    last_sync_at = fields.Datetime("Last Successful Sync", readonly=True)
    last_error = fields.Text(readonly=True)
    last_error_short = fields.Char("Last Error (first line)", readonly=True)
    linked_count = fields.Integer("Events Linked", readonly=True)
    errors_24h = fields.Integer("Errors (24 h)", readonly=True)
    import_running = fields.Boolean(readonly=True)
    import_done = fields.Integer(readonly=True)
    import_total = fields.Integer(readonly=True)
    import_progress = fields.Char("Import", readonly=True, help="Items imported / estimated total, while importing")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(f"""
            CREATE OR REPLACE VIEW {self._table} AS (
                SELECT u.id AS id,
                       u.id AS user_id,
                       p.name AS user_name,
                       m.id AS mailbox_id,
                       m.address AS address,
                       CASE WHEN u.share THEN 'not_internal' ELSE COALESCE(m.state, 'never') END AS state,
                       CASE WHEN u.share THEN 0 ELSE
                       CASE COALESCE(m.state, 'never') WHEN 'reconnect' THEN 0 WHEN 'paused' THEN 1
                            WHEN 'connected' THEN 2 WHEN 'disconnected' THEN 3 ELSE 4 END END AS state_sequence,
                       COALESCE(m.paused_by_admin, false) AS paused_by_admin,
                       m.last_sync_at AS last_sync_at,
                       m.last_error AS last_error,
                       left(split_part(m.last_error, chr(10), 1), 120) AS last_error_short,
                       COALESCE(m.import_running, false) AS import_running,
                       COALESCE(m.import_done, 0) AS import_done,
                       GREATEST(COALESCE(m.import_total, 0), COALESCE(m.import_done, 0)) AS import_total,
                       CASE WHEN m.import_running THEN m.import_done || ' / ' ||
                            GREATEST(COALESCE(m.import_total, 0), m.import_done) END AS import_progress,
                       (SELECT count(*) FROM outlook_event_link l
                         WHERE l.mailbox_id = m.id AND l.event_id IS NOT NULL) AS linked_count,
                       (SELECT count(*) FROM outlook_sync_log g
                         WHERE g.mailbox_id = m.id AND g.state = 'error'
                           AND g.started_at >= (now() AT TIME ZONE 'UTC') - interval '24 hours') AS errors_24h
                  FROM res_users u
                  JOIN res_partner p ON p.id = u.partner_id
             LEFT JOIN outlook_mailbox m ON m.user_id = u.id
                 WHERE u.active AND (NOT u.share OR m.id IS NOT NULL)
            )
        """)

    # ------------------------------------------------------------
    # ACTIONS (administrators only: the model's access rights)
    # ------------------------------------------------------------

    def _outlook_mailboxes(self):
        mailboxes = self.mailbox_id
        if not mailboxes:
            raise UserError(_("%(user)s never connected an Outlook mailbox.", user=", ".join(self.mapped("user_name"))))
        return mailboxes

    def action_outlook_open(self):
        """A row: its mailbox (tokens stay hidden), or nothing for a user who never connected."""
        self.ensure_one()
        if not self.mailbox_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": "outlook.mailbox",
            "res_id": self.mailbox_id.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    def action_outlook_pause(self):
        self._outlook_mailboxes().action_outlook_pause()
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_outlook_resume(self):
        self._outlook_mailboxes().action_outlook_resume()
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_outlook_stop(self):
        self._outlook_mailboxes().action_outlook_stop()
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_outlook_reset(self):
        self.ensure_one()
        return self._outlook_mailboxes().action_outlook_reset()

    def action_outlook_sync_log(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("outlook_calendar_sync.outlook_sync_log_action")
        action["domain"] = [("user_id", "=", self.user_id.id)]
        action["context"] = {"search_default_errors": 0}
        return action

    def action_outlook_pause_all(self):
        return self.env["outlook.mailbox"].action_outlook_pause_all()

    def action_outlook_resume_all(self):
        return self.env["outlook.mailbox"].action_outlook_resume_all()
