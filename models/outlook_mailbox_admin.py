"""What admins and users do with a mailbox besides connecting it: pause, resume, stop, reset; the
progress of a long import; the re-reads that "Retry now" and "Resync from Outlook" ask for; the admin's
limits on what users may choose (issue "Sync you can see")."""

import logging
from dataclasses import replace
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import policy as rules
from ..engine.push import LocalEvent, PushLink, plan_push
from ..graph.errors import GraphError, Throttled
from .calendar_event import INBOUND_CONTEXT
from .outlook_mailbox import LOCK_NAMESPACE

_logger = logging.getLogger(__name__)

PARAM_FIXED_DIRECTION = "outlook_calendar_sync.fixed_direction"
PARAM_FIXED_CATEGORIES = "outlook_calendar_sync.fixed_categories"
PROGRESS_NOTIFICATION = "outlook_calendar_sync/progress"  # bus notification type (the Calendar's button)
REREAD_LIMIT = 50  # copies read again per run on request ("Retry now", "Resync from Outlook")


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    state = fields.Selection(selection_add=[("paused", "Paused")], ondelete={"paused": "set default"})
    paused_by_admin = fields.Boolean(
        readonly=True, copy=False, help="An administrator paused this mailbox: only an administrator resumes it"
    )
    import_running = fields.Boolean(
        readonly=True, copy=False, help="A full listing of the Outlook calendar is in progress"
    )
    import_done = fields.Integer("Items Imported", readonly=True, copy=False)
    import_total = fields.Integer(
        "Items Expected",
        readonly=True,
        copy=False,
        help="An estimate: Graph does not say how many items a listing holds; while more "
        "pages follow, the next page is counted as full as the last one",
    )
    linked_count = fields.Integer("Events Linked", compute="_compute_outlook_counts")
    errors_24h = fields.Integer("Errors (24 h)", compute="_compute_outlook_counts")

    def _compute_outlook_counts(self):
        links = (
            self.env["outlook.event.link"]
            .sudo()
            ._read_group([("mailbox_id", "in", self.ids), ("event_id", "!=", False)], ["mailbox_id"], ["__count"])
        )
        linked = {mailbox.id: count for mailbox, count in links}
        since = fields.Datetime.now() - timedelta(hours=24)
        errors = (
            self.env["outlook.sync.log"]
            .sudo()
            ._read_group(
                [("mailbox_id", "in", self.ids), ("state", "=", "error"), ("started_at", ">=", since)],
                ["mailbox_id"],
                ["__count"],
            )
        )
        failed = {mailbox.id: count for mailbox, count in errors}
        for mailbox in self:
            mailbox.linked_count = linked.get(mailbox.id, 0)
            mailbox.errors_24h = failed.get(mailbox.id, 0)

    # ------------------------------------------------------------
    # ACTIONS: pause, resume, stop, reset (users: their own mailbox; admins: any)
    # ------------------------------------------------------------

    def _outlook_check_manage(self, resume=False):
        """Users manage their own mailbox, admins every mailbox; a mailbox an admin paused stays paused
        until an admin resumes it. :raises AccessError: otherwise"""
        self.check_access("read")  # record rules: users see their own mailbox only
        if self.env.user.has_group("base.group_system"):
            return
        if any(mailbox.user_id != self.env.user for mailbox in self):
            raise AccessError(_("You can only manage your own Outlook mailbox."))
        if resume and any(mailbox.paused_by_admin for mailbox in self):
            raise AccessError(_("An administrator paused your Outlook sync; ask them to resume it."))

    def action_outlook_pause(self):
        """Stop syncing for now; tokens, links and checkpoints stay, and Resume goes on where it stopped.
        The cron claims connected mailboxes only, so a paused one is skipped (a run under way finishes)."""
        self._outlook_check_manage()
        active = self.filtered(lambda mailbox: mailbox.state == "connected")
        for mailbox in active:
            mailbox.sudo().write({"state": "paused", "paused_by_admin": mailbox.user_id != self.env.user})
        _logger.info("outlook: user %s paused mailboxes %s", self.env.uid, active.ids)
        return True

    def action_outlook_resume(self):
        """Sync again, at once."""
        self._outlook_check_manage(resume=True)
        paused = self.filtered(lambda mailbox: mailbox.state == "paused")
        foreign = paused.filtered(lambda mailbox: mailbox.user_id.share)
        if foreign:
            raise UserError(
                _(
                    "%(users)s is not an internal user: make them one (Settings > Users) before resuming, or stop "
                    "the mailbox.",
                    users=", ".join(foreign.user_id.mapped("name")),
                )
            )
        paused.sudo().write({"state": "connected", "paused_by_admin": False})
        paused.sudo()._outlook_request_sync(force=True)
        _logger.info("outlook: user %s resumed mailboxes %s", self.env.uid, paused.ids)
        return True

    def action_outlook_stop(self):
        """Stop = disconnect: forget the tokens (links stay, so reconnecting duplicates nothing)."""
        self._outlook_check_manage()
        return self.action_outlook_disconnect()

    def action_outlook_reset(self):
        """Open the reset wizard (nothing is deleted in Outlook unless its checkbox is ticked)."""
        self._outlook_check_manage()
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Reset the Outlook sync"),
            "res_model": "outlook.reset.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_mailbox_id": self.id},
        }

    @api.model
    def action_outlook_pause_all(self):
        """Administrators: pause every connected mailbox (e.g. during maintenance)."""
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(_("Only administrators can pause every Outlook mailbox."))
        self.search([("state", "=", "connected")]).action_outlook_pause()
        return self._outlook_dashboard_reload()

    @api.model
    def action_outlook_resume_all(self):
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(_("Only administrators can resume every Outlook mailbox."))
        paused = self.search([("state", "=", "paused")])
        paused.filtered(lambda mailbox: not mailbox.user_id.share).action_outlook_resume()
        return self._outlook_dashboard_reload()

    @api.model
    def _outlook_dashboard_reload(self):
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    # ------------------------------------------------------------
    # OWNERS WHO ARE NOT INTERNAL USERS
    # ------------------------------------------------------------

    def _outlook_sync_guarded(self, graph_run, attempt_stamped=False):
        """A mailbox whose owner is not an internal user (connected before only internal users could, or whose
        owner became a portal user) is paused with the reason instead of failing at every run: the cron
        claims connected mailboxes only, so this happens once. Its tokens stay until an administrator stops
        it (or makes the owner internal again and resumes it)."""
        self.ensure_one()
        if not self.user_id.share:  # stored on res.users: read with the owner the sync reads anyway
            return super()._outlook_sync_guarded(graph_run, attempt_stamped=attempt_stamped)
        message = self._outlook_foreign_owner_message()
        self.sudo().write({"state": "paused", "paused_by_admin": True, "last_error": message})
        self.env["outlook.sync.log"]._outlook_record(self, fields.Datetime.now(), {}, 0, message)
        _logger.warning("outlook: mailbox %s paused: its owner %s is not an internal user", self.id, self.user_id.id)
        return True

    def _outlook_foreign_owner_message(self):
        return _(
            "%(user)s is not an internal user: only internal users may sync an Outlook calendar. The sync is "
            "paused; stop this mailbox to forget its tokens, or make %(user)s an internal user and resume it.",
            user=self.user_id.name,
        )

    # ------------------------------------------------------------
    # RESET
    # ------------------------------------------------------------

    def _outlook_reset(self, remove_remote=False):
        """Forget what links this mailbox to Odoo, without any Graph call: every Odoo event stays, the
        next run lists the Outlook calendar again and finds the same events by their iCalUId (no
        duplicate). Copies removed in Odoo stay removed (their links become detached, nothing is
        deleted in Outlook).

        :param remove_remote: also remove from Outlook the copies of the events this user organizes
            (cancelled when they are still to come and have attendees, deleted otherwise), at the next
            run of this mailbox: it must be connected for that
        :raises UserError: while a sync of this mailbox is running
        """
        self._outlook_check_manage()
        links_sudo = self.env["outlook.event.link"].sudo().search([("mailbox_id", "in", self.ids)])
        for mailbox in self:
            self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, mailbox.id])
            if not self.env.cr.fetchone()[0]:
                raise UserError(
                    _(
                        "A sync of %(mailbox)s is running; try again in a minute.",
                        mailbox=mailbox.address or mailbox.user_id.name,
                    )
                )
        removed_in_odoo = links_sudo.filtered(
            lambda link: not link.event_id and link.state not in ("error", "detached")
        )
        doomed = (
            links_sudo.filtered(lambda link: link.event_id and link.is_organizer_copy and link.state != "detached")
            if remove_remote
            else links_sudo.browse()
        )
        dropped = links_sudo - removed_in_odoo - doomed
        events = (dropped | doomed).event_id
        dropped.filtered(lambda link: link.state != "detached").unlink()
        for link in removed_in_odoo:
            link.write({"state": "detached", "outlook_remove_remote": remove_remote and link.is_organizer_copy})
        doomed.write({"event_id": False, "state": "detached", "outlook_remove_remote": True, "cancel_allowed": True})
        events.invalidate_recordset(["outlook_link_ids"])
        unlinked = events.sudo().with_context(active_test=False).filtered(lambda event: not event.outlook_link_ids)
        unlinked.with_context(**INBOUND_CONTEXT).write(
            {"outlook_sync_state": "not_synced", "outlook_last_error": False}
        )
        self.sudo().write(
            {
                "delta_link": False,
                "delta_window_start": False,
                "delta_window_end": False,
                "delta_round_full": False,
                "last_error": False,
                "import_running": False,
                "import_done": 0,
                "import_total": 0,
            }
        )
        if remove_remote:
            self.sudo()._outlook_request_sync(force=True)
        _logger.info(
            "outlook: user %s reset mailboxes %s (%s links, %s removed in Outlook)",
            self.env.uid,
            self.ids,
            len(links_sudo),
            len(doomed) if remove_remote else 0,
        )
        return len(doomed)

    def _outlook_push(self, run):
        """First remove the Outlook copies a reset asked to remove, then the regular push."""
        self._outlook_push_reset_removals(run)
        return super()._outlook_push(run)

    def _outlook_push_reset_removals(self, run):
        if run.pending and not run.pending.get("reset_removals", True):
            return
        links_sudo = (
            self.env["outlook.event.link"]
            .sudo()
            .search([("mailbox_id", "=", self.id), ("outlook_remove_remote", "=", True)], order="id")
        )
        if not links_sudo:
            return
        policy = replace(run.policy, direction=rules.BOTH, delete_from_odoo=rules.DELETE)
        now = fields.Datetime.now()
        for link in links_sudo:
            push_link = PushLink(
                link.id,
                link.graph_id,
                link._outlook_synced_data(),
                link.is_organizer_copy,
                cancel_allowed=True,
                attendees_capped=link.attendees_capped,
            )
            action = plan_push(LocalEvent(), push_link, policy, now).action
            try:
                if action == "cancel":
                    run.client.cancel_event(link.graph_id)
                elif action == "delete":
                    run.client.delete_event(link.graph_id)
                # "forget": Odoo knows nothing of this copy (never synced), so it is left alone
                run.stats[f"push_{action}"] += action in ("cancel", "delete")
                link.unlink()
            except Throttled:
                raise
            except GraphError as exc:
                message = _("Outlook refused to remove this copy: %(error)s", error=exc)
                link.write({"last_error": message})
                self.env["outlook.sync.log"]._outlook_record_item(self, "out", message, link=link)
            run.commit()

    # ------------------------------------------------------------
    # RE-READS ASKED FOR ("Retry now", "Resync from Outlook") and PROGRESS
    # ------------------------------------------------------------

    def _outlook_retry_failed(self, run, limit=50):
        """Also read again the copies marked ``pending`` (a user asked for it): whatever Outlook holds
        now is applied as if delta had listed it."""
        self._outlook_reread_pending(run, min(limit, REREAD_LIMIT))
        return super()._outlook_retry_failed(run, limit=limit)

    def _outlook_reread_pending(self, run, limit):
        links_sudo = (
            self.env["outlook.event.link"]
            .sudo()
            .search(
                [("mailbox_id", "=", self.id), ("state", "=", "pending"), ("event_id", "!=", False)],
                limit=limit,
                order="write_date",
            )
        )
        if not links_sudo:
            return
        payloads = []
        for link in links_sudo:
            try:
                payloads.append(run.client.event(link.graph_id))
            except GraphError as exc:
                if exc.status != 404:
                    raise
                payloads.append({"id": link.graph_id, "@removed": {"reason": "deleted"}})
        self._outlook_apply_page(payloads, run)
        # unchanged or inactive copies: nothing was written on them, they are in sync again
        links_sudo.exists().filtered(lambda link: link.state == "pending").write({"state": "synced"})

    def _outlook_new_round(self, run):
        """A full listing starts: its progress starts from zero."""
        url = super()._outlook_new_round(run)
        self.sudo().write({"import_running": True, "import_done": 0, "import_total": 0})
        return url

    def _outlook_report_progress(self, page):
        """After each delta page of a full listing: items done, and an estimate of the total (Graph gives
        no count: while more pages follow, the next one is counted as full as this one). Sent to the
        user's browser on the bus when the page commits."""
        mailbox_sudo = self.sudo()
        if not mailbox_sudo.import_running:
            return
        done = mailbox_sudo.import_done + len(page.items)
        running = bool(page.next_link)
        total = done + len(page.items) if running else done
        mailbox_sudo.write({"import_done": done, "import_total": total, "import_running": running})
        self.env["bus.bus"]._sendone(
            mailbox_sudo.user_id.partner_id, PROGRESS_NOTIFICATION, mailbox_sudo._outlook_progress()
        )

    def _outlook_progress(self):
        """What the Calendar's button shows: ``{"running", "done", "total"}``."""
        self.ensure_one()
        mailbox_sudo = self.sudo()
        return {
            "running": mailbox_sudo.import_running,
            "done": mailbox_sudo.import_done,
            "total": max(mailbox_sudo.import_total, mailbox_sudo.import_done),
        }

    # ------------------------------------------------------------
    # WHAT USERS MAY CHOOSE (the admin's settings)
    # ------------------------------------------------------------

    def _outlook_policy(self):
        """The user's direction and category overrides apply only where the admin allows them."""
        policy = super()._outlook_policy()
        params_sudo = self.env["ir.config_parameter"].sudo()
        company = {}
        if params_sudo.get_param(PARAM_FIXED_DIRECTION) and self.user_id.outlook_direction != "company":
            company["direction"] = params_sudo.get_param("outlook_calendar_sync.direction") or rules.BOTH
        if params_sudo.get_param(PARAM_FIXED_CATEGORIES) and self.user_id.outlook_category_mode != "company":
            company["category_mode"] = params_sudo.get_param("outlook_calendar_sync.category_mode") in (
                "True",
                "true",
                "1",
            )
        return replace(policy, **company) if company else policy


class OutlookEventLink(models.Model):
    _inherit = "outlook.event.link"

    outlook_remove_remote = fields.Boolean(
        "Remove in Outlook",
        copy=False,
        readonly=True,
        help="A reset asked to remove this Outlook copy; the next run of its mailbox does it",
    )
