from odoo import _, api, fields, models

from .outlook_config import get_auth_settings

CONNECT_ROUTE = "/outlook_calendar_sync/connect"


class ResUsers(models.Model):
    _inherit = "res.users"

    outlook_mailbox_ids = fields.One2many("outlook.mailbox", "user_id", readonly=True)
    outlook_sync_state = fields.Selection(
        [
            ("disconnected", "Not connected"),
            ("connected", "Connected"),
            ("reconnect", "Reconnect needed"),
        ],
        string="Outlook Calendar",
        compute="_compute_outlook_mailbox",
    )
    outlook_mailbox_address = fields.Char(compute="_compute_outlook_mailbox")
    outlook_last_sync_at = fields.Datetime("Outlook Last Sync", compute="_compute_outlook_mailbox")
    outlook_last_error = fields.Text("Outlook Sync Message", compute="_compute_outlook_mailbox")

    @property
    def SELF_READABLE_FIELDS(self):
        # the connection's state and address only: tokens stay admin-only on outlook.mailbox
        return super().SELF_READABLE_FIELDS + [
            "outlook_sync_state",
            "outlook_mailbox_address",
            "outlook_last_sync_at",
            "outlook_last_error",
        ]

    @api.depends("outlook_mailbox_ids.state", "outlook_mailbox_ids.address")
    def _compute_outlook_mailbox(self):
        # a user sees their own connection, an admin everybody's; colleagues' mailboxes stay private
        visible = self if self.env.user.has_group("base.group_system") else self & self.env.user
        mailboxes_sudo = self.env["outlook.mailbox"].sudo().search([("user_id", "in", visible.ids)])
        by_user = {mailbox.user_id.id: mailbox for mailbox in mailboxes_sudo}
        for user in self:
            mailbox = by_user.get(user.id)
            user.outlook_sync_state = mailbox.state if mailbox else "disconnected"
            user.outlook_mailbox_address = mailbox.address if mailbox else False
            user.outlook_last_sync_at = mailbox.last_sync_at if mailbox else False
            user.outlook_last_error = mailbox.last_error if mailbox else False

    # ------------------------------------------------------------
    # Calendar view hooks (calendar's AttendeeCalendarModel asks these)
    # ------------------------------------------------------------

    def _has_any_active_synchronization(self):
        """Odoo 19 asks it when the organizer deletes an event: with a connected mailbox our sync cancels the
        Outlook copy (Exchange tells the attendees), so Odoo deletes at once instead of offering its own
        cancellation mail. Odoo 18 has no such question (it never offers that mail)."""
        if self.env["outlook.mailbox"].sudo().search_count([("user_id", "in", self.ids), ("state", "=", "connected")]):
            return True
        parent = getattr(super(), "_has_any_active_synchronization", None)  # Odoo 18's calendar has no such hook
        return bool(parent and parent())

    @api.model
    def check_calendar_credentials(self):
        res = super().check_calendar_credentials()
        # the Outlook button is for internal users only (they alone may connect a mailbox)
        res["outlook_calendar_sync"] = self.env.user._is_internal() and not get_auth_settings(self.env).missing()
        return res

    def check_synchronization_status(self):
        """Asked each time the Calendar loads: also schedules a sync of the user's mailbox when the last
        one is older than :data:`OPEN_SYNC_DELAY` (rate-limited; the cron never runs one mailbox twice)."""
        res = super().check_synchronization_status()
        res["outlook_calendar_sync"] = self.env.user.outlook_sync_state
        if res["outlook_calendar_sync"] == "connected":
            self.env["outlook.mailbox"].sudo().search([("user_id", "=", self.env.uid)])._outlook_request_sync()
        return res

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_outlook_connect_or_sync(self):
        """The Calendar view's Outlook button.

        :return: a URL action to Microsoft's consent (through our connect route), a notification when
            already connected (after scheduling a sync), or directions when nothing is configured
        """
        user = self.env.user
        if not user._is_internal():
            return self._outlook_notification(_("Only internal users can connect an Outlook calendar."), "warning")
        if get_auth_settings(self.env).missing():
            if user.has_group("base.group_system"):
                return {
                    "type": "ir.actions.act_window",
                    "name": _("Outlook Calendar settings"),
                    "res_model": "res.config.settings",
                    "view_mode": "form",
                    "target": "inline",
                    "context": {"module": "general_settings", "bin_size": False},
                }
            return self._outlook_notification(
                _("An administrator must configure the Outlook Calendar integration before you can connect."),
                "warning",
            )
        if user.outlook_sync_state == "connected":
            self.env["outlook.mailbox"].sudo().search([("user_id", "=", user.id)])._outlook_request_sync(force=True)
            return self._outlook_notification(
                _(
                    "Your calendar is connected to %(address)s; a sync has been scheduled.",
                    address=user.outlook_mailbox_address,
                ),
                "success",
            )
        return {"type": "ir.actions.act_url", "url": CONNECT_ROUTE, "target": "self"}

    def action_outlook_disconnect(self):
        self.env["outlook.mailbox"].search([("user_id", "=", self.env.uid)]).action_outlook_disconnect()
        return self._outlook_notification(_("Your Outlook calendar is disconnected."), "info")

    @api.model
    def _outlook_notification(self, message, kind, title=None, next_action=None):
        """The add-on's toast: ``kind`` is info / success / warning / danger; then the view reloads (or
        ``next_action``)."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title or _("Outlook Calendar"),
                "message": message,
                "type": kind,
                "sticky": False,
                "next": next_action or {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
