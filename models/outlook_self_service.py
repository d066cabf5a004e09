"""User self-service in the preferences (pause, resume, reset, own sync log, the import's progress) and
the admin's settings that go with it (what users may choose, how long the sync log is kept)."""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .outlook_mailbox_admin import PARAM_FIXED_CATEGORIES, PARAM_FIXED_DIRECTION
from .outlook_sync_log import DEFAULT_LOG_DAYS, PARAM_LOG_DAYS


class ResUsers(models.Model):
    _inherit = "res.users"

    outlook_sync_state = fields.Selection(selection_add=[("paused", "Paused")])
    outlook_paused_by_admin = fields.Boolean("Outlook Paused by an Administrator", compute="_compute_outlook_self")
    outlook_import_progress = fields.Char("Outlook Import", compute="_compute_outlook_self")
    outlook_may_choose_direction = fields.Boolean(compute="_compute_outlook_self")
    outlook_may_choose_categories = fields.Boolean(compute="_compute_outlook_self")

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + [
            "outlook_paused_by_admin",
            "outlook_import_progress",
            "outlook_may_choose_direction",
            "outlook_may_choose_categories",
        ]

    @api.depends("outlook_mailbox_ids.state")
    def _compute_outlook_self(self):
        params_sudo = self.env["ir.config_parameter"].sudo()
        may_direction = not params_sudo.get_param(PARAM_FIXED_DIRECTION)
        may_categories = not params_sudo.get_param(PARAM_FIXED_CATEGORIES)
        visible = self if self.env.user.has_group("base.group_system") else self & self.env.user
        mailboxes_sudo = self.env["outlook.mailbox"].sudo().search([("user_id", "in", visible.ids)])
        by_user = {mailbox.user_id.id: mailbox for mailbox in mailboxes_sudo}
        for user in self:
            mailbox = by_user.get(user.id)
            progress = mailbox._outlook_progress() if mailbox else {}
            user.outlook_paused_by_admin = bool(mailbox and mailbox.state == "paused" and mailbox.paused_by_admin)
            user.outlook_import_progress = (
                _("%(done)s of about %(total)s Outlook items imported", done=progress["done"], total=progress["total"])
                if progress.get("running")
                else False
            )
            user.outlook_may_choose_direction = may_direction
            user.outlook_may_choose_categories = may_categories

    def _outlook_own_mailbox(self):
        return self.env["outlook.mailbox"].search([("user_id", "=", self.env.uid)], limit=1)

    # ------------------------------------------------------------
    # Calendar view hooks
    # ------------------------------------------------------------

    def check_synchronization_status(self):
        """Also the progress of a long import, for the Outlook button (then kept fresh over the bus)."""
        res = super().check_synchronization_status()
        mailbox = self._outlook_own_mailbox()
        if mailbox:
            res["outlook_calendar_sync_progress"] = mailbox._outlook_progress()
        return res

    def action_outlook_connect_or_sync(self):
        """A paused mailbox: the Outlook button resumes it (unless an administrator paused it)."""
        if not self.env.user._is_internal():  # no mailbox to look at: super() explains
            return super().action_outlook_connect_or_sync()
        mailbox = self._outlook_own_mailbox()
        if mailbox.state == "paused":
            if mailbox.paused_by_admin:
                return self._outlook_notification(
                    _("An administrator paused your Outlook sync; ask them to resume it."), "warning"
                )
            mailbox.action_outlook_resume()
            return self._outlook_notification(_("Your Outlook sync is resumed; a sync has been scheduled."), "success")
        return super().action_outlook_connect_or_sync()

    # ------------------------------------------------------------
    # ACTIONS (preferences: the user's own mailbox only)
    # ------------------------------------------------------------

    def action_outlook_pause(self):
        self._outlook_own_mailbox().action_outlook_pause()
        return self._outlook_notification(_("Your Outlook sync is paused. Resume it here when you want."), "info")

    def action_outlook_resume(self):
        self._outlook_own_mailbox().action_outlook_resume()
        return self._outlook_notification(_("Your Outlook sync is resumed; a sync has been scheduled."), "success")

    def action_outlook_reset(self):
        mailbox = self._outlook_own_mailbox()
        if not mailbox:
            return self._outlook_notification(_("No Outlook mailbox was ever connected: nothing to reset."), "info")
        return mailbox.action_outlook_reset()

    def action_outlook_sync_log(self):
        """The user's own sync history (record rules keep it to their rows)."""
        action = self.env["ir.actions.act_window"]._for_xml_id("outlook_calendar_sync.outlook_sync_log_action")
        action["domain"] = [("user_id", "=", self.env.uid)]
        return action


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    outlook_fixed_direction = fields.Boolean(
        "Users cannot choose their sync direction",
        config_parameter=PARAM_FIXED_DIRECTION,
        help="On: every user follows the company's sync direction, whatever their preferences say.",
    )
    outlook_fixed_categories = fields.Boolean(
        "Users cannot choose the category mode",
        config_parameter=PARAM_FIXED_CATEGORIES,
        help="On: every user follows the company's category setting, whatever their preferences say.",
    )
    outlook_log_days = fields.Integer(
        "Keep the sync log (days)",
        config_parameter=PARAM_LOG_DAYS,
        default=DEFAULT_LOG_DAYS,
        help="Older rows of the Outlook sync log are purged by the daily clean-up.",
    )

    @api.constrains("outlook_log_days")
    def _check_outlook_log_days(self):
        if any(settings.outlook_log_days < 1 for settings in self):
            raise ValidationError(_("The Outlook sync log must be kept at least one day."))
