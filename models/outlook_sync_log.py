from datetime import timedelta

from odoo import _, api, fields, models

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
PARAM_LOG_DAYS = "outlook_calendar_sync.log_days"
DEFAULT_LOG_DAYS = 90
RETRY_RECENT_DAYS = 30  # "Retry errors from the last 30 days" (Practifi)


class OutlookSyncLog(models.Model):
    """One row per mailbox run that moved something or failed (what moved each way, how many Graph requests
    it took, how it ended) and one row per item that failed (which event or Outlook item, which way, why):
    Practifi's sync history."""

    _name = "outlook.sync.log"
    _description = "Outlook sync run"
    _order = "started_at desc, id desc"
    _rec_name = "started_at"

    mailbox_id = fields.Many2one("outlook.mailbox", required=True, index=True, ondelete="cascade")
    user_id = fields.Many2one("res.users", index=True, readonly=True)  # the mailbox's, at the run
    kind = fields.Selection(
        [("run", "Run"), ("item", "Failed item")], default="run", required=True, readonly=True, index=True
    )
    direction = fields.Selection(
        [("in", "Outlook → Odoo"), ("out", "Odoo → Outlook")],
        readonly=True,
        help="Failed items: the side that refused the change",
    )
    event_id = fields.Many2one("calendar.event", readonly=True, index="btree_not_null", ondelete="set null")
    graph_id = fields.Char("Outlook Event ID", readonly=True)
    started_at = fields.Datetime(required=True, readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration = fields.Float("Duration (s)", digits=(10, 2), readonly=True)
    state = fields.Selection(
        [("success", "Success"), ("partial", "Partial"), ("error", "Error")], required=True, readonly=True
    )
    created_in = fields.Integer("Created in Odoo", readonly=True)
    updated_in = fields.Integer("Updated in Odoo", readonly=True)
    deleted_in = fields.Integer("Removed in Odoo", readonly=True)
    created_out = fields.Integer("Created in Outlook", readonly=True)
    updated_out = fields.Integer("Updated in Outlook", readonly=True)
    deleted_out = fields.Integer("Removed in Outlook", readonly=True)
    errors = fields.Integer("Item errors", readonly=True)
    graph_requests = fields.Integer(readonly=True)
    message = fields.Text(readonly=True)
    retry_requested_at = fields.Datetime("Retry Requested", readonly=True)
    moved_in = fields.Char(
        "Microsoft 365 to Odoo", compute="_compute_outlook_summary", help="Created + updated - removed in Odoo"
    )
    moved_out = fields.Char(
        "Odoo to Microsoft 365", compute="_compute_outlook_summary", help="Created + updated - removed in Outlook"
    )
    summary = fields.Char("Message (first line)", compute="_compute_outlook_summary")

    @api.depends(
        "kind", "message", "created_in", "updated_in", "deleted_in", "created_out", "updated_out", "deleted_out"
    )
    def _compute_outlook_summary(self):
        for row in self:
            run = row.kind == "run"
            row.moved_in = f"+{row.created_in} ~{row.updated_in} -{row.deleted_in}" if run else False
            row.moved_out = f"+{row.created_out} ~{row.updated_out} -{row.deleted_out}" if run else False
            first_line = (row.message or "").strip().split("\n", 1)[0]
            row.summary = first_line[:140] + ("…" if len(first_line) > 140 else "") or False

    @api.model
    def _outlook_record(self, mailbox, started_at, stats, requests, error=None):
        """Write the log row of one run (as superuser: users only read their own rows)."""
        now = fields.Datetime.now()
        counts = {column: sum(stats.get(key, 0) for key in keys) for column, keys in COUNTERS.items()}
        state = "error" if error else ("partial" if counts["errors"] else "success")
        if state == "success" and not any(counts.values()):
            return self.browse()  # a run that moved nothing is not a row (the mailbox shows its last sync)
        return self.sudo().create(
            {
                "mailbox_id": mailbox.id,
                "user_id": mailbox.user_id.id,
                "started_at": started_at,
                "finished_at": now,
                "duration": (now - started_at).total_seconds(),
                "state": state,
                "graph_requests": requests,
                "message": error or (mailbox.sudo().last_error if counts["errors"] else False),
                **counts,
            }
        )

    @api.model
    def _outlook_record_item(self, mailbox, direction, message, event=None, link=None, graph_id=None):
        """Write the row of one item the sync could not apply (an Outlook item Odoo could not read, an
        event Outlook refused). Called where the sync marks the item in error.

        :param direction: ``"in"`` (Microsoft 365 to Odoo) or ``"out"`` (Odoo to Microsoft 365)
        :param event: the ``calendar.event`` concerned, if any (else the ``link``'s)
        :param link: the ``outlook.event.link`` concerned, if any
        :param graph_id: the Outlook item's id (else the ``link``'s)
        """
        now = fields.Datetime.now()
        event = event or (link.event_id if link else None)
        return self.sudo().create(
            {
                "mailbox_id": mailbox.id,
                "user_id": mailbox.user_id.id,
                "kind": "item",
                "direction": direction,
                "event_id": event.id if event else False,
                "graph_id": graph_id or (link.graph_id if link else False),
                "started_at": now,
                "finished_at": now,
                "state": "error",
                "errors": 1,
                "message": message,
            }
        )

    @api.model
    def _outlook_last_directions(self, events):
        """``{event id: "in" | "out"}``: which side refused each event's last failed change."""
        if not events:
            return {}
        rows = self.sudo().search_read(
            [("kind", "=", "item"), ("event_id", "in", events.ids)], ["event_id", "direction"], order="id desc"
        )
        found = {}
        for row in rows:
            found.setdefault(row["event_id"][0], row["direction"])
        return found

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_outlook_retry(self):
        """Retry what these error rows report: failed items are marked for the next run (see
        ``calendar.event._outlook_retry``) and their mailboxes sync at once.

        :return: a ``display_notification`` action
        """
        self.check_access("read")  # users: their own rows only (record rules)
        failed = self.filtered(lambda row: row.state in ("error", "partial"))
        if not failed:
            return self._outlook_notify(_("Nothing to retry: the selected rows report no error."), "info")
        failed_sudo = failed.sudo()
        failed_sudo.event_id._outlook_retry()
        mailboxes_sudo = failed_sudo.mailbox_id
        mailboxes_sudo._outlook_request_sync(force=True)
        failed_sudo.write({"retry_requested_at": fields.Datetime.now()})
        waiting = mailboxes_sudo.filtered(lambda mailbox: mailbox.state != "connected")
        if waiting:
            return self._outlook_notify(
                _(
                    "Marked for retry. %(mailboxes)s must be connected (not paused) before it runs.",
                    mailboxes=", ".join(waiting.mapped("address")),
                ),
                "warning",
            )
        return self._outlook_notify(
            _("%(count)s error(s) will be retried now (a sync has been scheduled).", count=len(failed)), "success"
        )

    @api.model
    def action_outlook_retry_recent(self):
        """Retry every error of the last 30 days not retried yet (Practifi's "Retry errors")."""
        since = fields.Datetime.now() - timedelta(days=RETRY_RECENT_DAYS)
        rows = self.search(
            [("state", "in", ("error", "partial")), ("started_at", ">=", since), ("retry_requested_at", "=", False)]
        )
        if not rows:
            return self._outlook_notify(
                _("No error to retry in the last %(days)s days.", days=RETRY_RECENT_DAYS), "info"
            )
        return rows.action_outlook_retry()

    @api.model
    def _outlook_notify(self, message, kind):
        return self.env["res.users"]._outlook_notification(message, kind, title=_("Outlook sync log"))

    # ------------------------------------------------------------
    # PURGE
    # ------------------------------------------------------------

    @api.autovacuum
    def _gc_outlook_logs(self):
        """Purge rows older than the configured age (Settings: "Keep the sync log", default 90 days)."""
        days = int(self.env["ir.config_parameter"].sudo().get_param(PARAM_LOG_DAYS) or DEFAULT_LOG_DAYS)
        self.sudo().search([("started_at", "<", fields.Datetime.now() - timedelta(days=days))]).unlink()
