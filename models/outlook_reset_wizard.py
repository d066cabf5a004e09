from odoo import _, api, fields, models


class OutlookResetWizard(models.TransientModel):
    """Reset one mailbox's sync: unlink without deleting anything in Outlook, unless explicitly asked."""

    _name = "outlook.reset.wizard"
    _description = "Reset the Outlook sync of a mailbox"

    mailbox_id = fields.Many2one("outlook.mailbox", "Mailbox Record", required=True, readonly=True, ondelete="cascade")
    address = fields.Char(related="mailbox_id.address")
    user_id = fields.Many2one(related="mailbox_id.user_id")
    linked_count = fields.Integer(related="mailbox_id.linked_count")
    organized_count = fields.Integer("Outlook copies this user organizes", compute="_compute_organized_count")
    remove_remote = fields.Boolean(
        "Also remove these events from Outlook",
        help="Off (default): nothing is deleted anywhere; the links are forgotten and the next run finds the "
        "same events again. On: the Outlook copies of the events this user organizes are removed at the "
        "next run: meetings still to come with attendees are CANCELLED (Exchange mails every attendee), "
        "the others are deleted. The Odoo events stay.",
    )

    @api.depends("mailbox_id")
    def _compute_organized_count(self):
        for wizard in self:  # as the user: their own mailbox's copies only (record rules), any for admins
            wizard.organized_count = self.env["outlook.event.link"].search_count(
                [
                    ("mailbox_id", "=", wizard.mailbox_id.id),
                    ("is_organizer_copy", "=", True),
                    ("event_id", "!=", False),
                    ("state", "!=", "detached"),
                ]
            )

    def action_confirm(self):
        self.ensure_one()
        removed = self.mailbox_id._outlook_reset(remove_remote=self.remove_remote)
        if self.remove_remote:
            message = _(
                "The Outlook sync of %(mailbox)s is reset; %(count)s Outlook copies are removed at the next run.",
                mailbox=self.address,
                count=removed,
            )
        else:
            message = _(
                "The Outlook sync of %(mailbox)s is reset; nothing was deleted in Outlook or in Odoo.",
                mailbox=self.address,
            )
        return self.env["res.users"]._outlook_notification(
            message, "success", next_action={"type": "ir.actions.act_window_close"}
        )
