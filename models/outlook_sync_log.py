from datetime import timedelta

from odoo import api, fields, models

# run statistics (MailboxRun.stats keys) -> log columns
COUNTERS = {
    "created_in": ("pull_create",),
    "updated_in": ("pull_update", "pull_conflict", "pull_attach"),
    "deleted_in": ("pull_remove",),
    "created_out": ("push_create",),
    "updated_out": ("push_patch", "push_response"),
    "deleted_out": ("push_cancel", "push_delete"),
    "errors": ("pull_error", "push_error"),
}


class OutlookSyncLog(models.Model):
    """One row per mailbox run: what moved each way, how many Graph requests it took, and how it ended
    (Practifi's sync history)."""

    _name = "outlook.sync.log"
    _description = "Outlook sync run"
    _order = "started_at desc, id desc"
    _rec_name = "started_at"

    mailbox_id = fields.Many2one("outlook.mailbox", required=True, index=True, ondelete="cascade")
    user_id = fields.Many2one(related="mailbox_id.user_id", store=True, string="User")
    started_at = fields.Datetime(required=True, readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration = fields.Float("Duration (s)", digits=(10, 2), readonly=True)
    state = fields.Selection([("success", "Success"), ("partial", "Partial"), ("error", "Error")],
                             required=True, readonly=True)
    created_in = fields.Integer("Created in Odoo", readonly=True)
    updated_in = fields.Integer("Updated in Odoo", readonly=True)
    deleted_in = fields.Integer("Removed in Odoo", readonly=True)
    created_out = fields.Integer("Created in Outlook", readonly=True)
    updated_out = fields.Integer("Updated in Outlook", readonly=True)
    deleted_out = fields.Integer("Removed in Outlook", readonly=True)
    errors = fields.Integer("Item errors", readonly=True)
    graph_requests = fields.Integer(readonly=True)
    message = fields.Text(readonly=True)

    @api.model
    def _outlook_record(self, mailbox, started_at, stats, requests, error=None):
        """Write the log row of one run (as superuser: users only read their own rows)."""
        now = fields.Datetime.now()
        counts = {column: sum(stats.get(key, 0) for key in keys) for column, keys in COUNTERS.items()}
        state = "error" if error else ("partial" if counts["errors"] else "success")
        return self.sudo().create({
            "mailbox_id": mailbox.id,
            "started_at": started_at,
            "finished_at": now,
            "duration": (now - started_at).total_seconds(),
            "state": state,
            "graph_requests": requests,
            "message": error or (mailbox.sudo().last_error if counts["errors"] else False),
            **counts,
        })

    @api.autovacuum
    def _gc_outlook_logs(self):
        """Purge rows older than the configured age (default 90 days)."""
        days = int(self.env["ir.config_parameter"].sudo().get_param("outlook_calendar_sync.log_days") or 90)
        self.sudo().search([("started_at", "<", fields.Datetime.now() - timedelta(days=days))]).unlink()
