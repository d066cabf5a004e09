"""What an event shows of its sync (the badge, the reason in words) and what a user may ask of it:
"Retry now" and "Resync from Outlook". Both only mark things for the next run of the sync cron and ask
for that run at once: no Graph call happens in the user's request (STYLE R12)."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine.mapping import fingerprint
from .calendar_event import INBOUND_CONTEXT

OUTLOOK_STATUS = [
    ("not_synced", "Never"),
    ("synced", "Active"),
    ("pending", "Pending"),
    ("inactive", "Inactive"),
    ("error", "Error"),
    ("conflict", "Conflict"),
]


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    outlook_status = fields.Selection(
        OUTLOOK_STATUS,
        compute="_compute_outlook_status",
        help="Never: not in Outlook. Active: in sync. Pending: waiting for the next run. Inactive: ended long "
        "ago, no longer synced. Error: a side refused it (see the message). Conflict: Outlook changed an "
        "event that is locked in Odoo.",
    )
    outlook_status_message = fields.Text(compute="_compute_outlook_status")
    outlook_can_resync = fields.Boolean(compute="_compute_outlook_status")

    @api.depends(
        "outlook_sync_state",
        "outlook_last_error",
        "outlook_dirty",
        "outlook_link_ids.state",
        "outlook_link_ids.last_error",
    )
    @api.depends_context("uid")
    def _compute_outlook_status(self):
        # organizers whose mailbox will push their changes (a change of anybody else's event stays in Odoo)
        pushing = set(
            self.env["outlook.mailbox"]
            .sudo()
            .search([("user_id", "in", self.user_id.ids), ("state", "!=", "disconnected")])
            .user_id.ids
        )
        # the copies the user may see: their own mailbox's (record rules), every copy for admins
        for event in self:
            links = event.outlook_link_ids
            states = set(links.mapped("state"))
            waiting = event.outlook_dirty and event.user_id.id in pushing
            if "conflict" in states:
                status = "conflict"
            elif event.outlook_sync_state == "error" or "error" in states:
                status = "error"
            elif event.outlook_sync_state != "inactive" and (waiting or "pending" in states):
                status = "pending"
            else:
                status = event.outlook_sync_state or "not_synced"
            messages = [event.outlook_last_error] if event.outlook_last_error else []
            messages += [link.last_error for link in links if link.last_error and link.state in ("error", "conflict")]
            event.outlook_status = status
            event.outlook_status_message = "\n".join(dict.fromkeys(messages)) or False
            event.outlook_can_resync = any(link.state != "detached" for link in links)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_outlook_retry(self):
        """ "Retry now": clear the error, mark the event for the next run, and ask for that run at once.

        :return: a ``display_notification`` action
        """
        self.check_access("write")
        mailboxes_sudo = self._outlook_retry()
        mailboxes_sudo._outlook_request_sync(force=True)
        if mailboxes_sudo and not mailboxes_sudo.filtered(lambda mailbox: mailbox.state == "connected"):
            return self.env["res.users"]._outlook_notification(
                _("Marked for retry; it runs once Outlook is connected again (and not paused)."), "warning"
            )
        return self.env["res.users"]._outlook_notification(_("Marked for retry: a sync has been scheduled."), "success")

    def _outlook_retry(self):
        """Mark these events' failed changes for the next run, on the side that refused them (the sync log
        says which): Odoo's change is pushed again, or Outlook's copy is read again.

        :return: the mailboxes (sudo) whose next run does it
        """
        events_sudo = self.sudo().with_context(active_test=False)
        if not events_sudo:
            return self.env["outlook.mailbox"].sudo()
        directions = self.env["outlook.sync.log"]._outlook_last_directions(events_sudo)
        mailboxes_sudo = (
            self.env["outlook.mailbox"]
            .sudo()
            .search([("user_id", "in", events_sudo.user_id.ids), ("state", "!=", "disconnected")])
        )
        for event in events_sudo:
            links = event.outlook_link_ids
            failed = links.filtered(lambda link: link.state in ("error", "conflict"))
            if directions.get(event.id) == "out":
                # Outlook refused Odoo's change: push it again; its copy must not be read over it first
                failed.write({"state": "synced", "last_error": False})
                failed.filtered(lambda link: not link.is_organizer_copy).write({"response_state": False})
                event.with_context(**INBOUND_CONTEXT).write({"outlook_dirty": True})
            else:
                failed.write({"state": "pending", "change_key": False, "last_error": False})
            mailboxes_sudo |= failed.mailbox_id
            event.with_context(**INBOUND_CONTEXT).write(
                {
                    "outlook_last_error": False,
                    "outlook_sync_state": "synced"
                    if links.filtered(lambda link: link.state != "detached")
                    else "not_synced",
                }
            )
        return mailboxes_sudo.filtered(lambda mailbox: mailbox.state != "disconnected")

    def action_outlook_resync(self):
        """ "Resync from Outlook": the next run reads the user's Outlook copy of these events again and
        applies it over Odoo's values (an attendee's copy brings their answer only; a locked event
        shows a conflict instead).

        :return: a ``display_notification`` action
        :raises UserError: when the user's mailbox holds no copy, or only sends to Outlook
        """
        self.check_access("write")
        links = self.outlook_link_ids.filtered(lambda link: link.state != "detached")  # own copies (rules)
        if not links:
            raise UserError(_("This event has no Outlook copy in your mailbox: there is nothing to read again."))
        links_sudo = links.sudo()
        one_way = links_sudo.mailbox_id.filtered(lambda mailbox: not mailbox._outlook_policy().pulls)
        if one_way:
            raise UserError(
                _(
                    "%(mailbox)s only sends Odoo's changes to Outlook: it never reads Outlook's copy.",
                    mailbox=", ".join(one_way.mapped("address")),
                )
            )
        local = links_sudo.event_id.with_context(active_test=False)._outlook_event_data()
        for link in links_sudo:
            # Outlook's copy looks changed and Odoo's not: the next run applies Outlook's version
            link.write(
                {
                    "state": "pending",
                    "change_key": False,
                    "remote_hash": False,
                    "synced_hash": fingerprint(local[link.event_id.id]),
                    "last_error": False,
                }
            )
        links_sudo.event_id.with_context(**INBOUND_CONTEXT).write(
            {"outlook_last_error": False, "outlook_sync_state": "synced"}
        )
        links_sudo.mailbox_id._outlook_request_sync(force=True)
        return self.env["res.users"]._outlook_notification(
            _("Outlook's version will be read again: a sync has been scheduled."), "success"
        )
