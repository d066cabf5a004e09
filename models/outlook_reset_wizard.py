from odoo import _, api, fields, models


class OutlookResetWizard(models.TransientModel):
    """Reset one mailbox's sync: unlink without deleting anything in Outlook, unless explicitly asked."""

    _name = "outlook.reset.wizard"
    _description = "Reset the Outlook sync of a mailbox"

    mailbox_id = fields.Many2one("outlook.mailbox", "Mailbox Record", required=True, readonly=True, ondelete="cascade")
    # computed with the user's rights (a related field would be read as superuser): the wizard never shows a
    # mailbox its user may not read
    address = fields.Char("Mailbox", compute="_compute_mailbox_view")
    user_id = fields.Many2one("res.users", compute="_compute_mailbox_view")
    linked_count = fields.Integer("Events Linked", compute="_compute_mailbox_view")
    organized_count = fields.Integer("Outlook copies this user organizes", compute="_compute_mailbox_view")
    remove_remote = fields.Boolean(
        "Also remove these events from Outlook",
        help="Off (default): nothing is deleted anywhere; the links are forgotten and the next run finds the "
        "same events again. On: the Outlook copies of the events this user organizes are removed at the "
        "next run: meetings still to come with attendees are CANCELLED (Exchange mails every attendee), "
        "the others are deleted. The Odoo events stay.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        self._outlook_check_mailboxes([vals.get("mailbox_id") for vals in vals_list])
        return super().create(vals_list)

    def write(self, vals):
        if "mailbox_id" in vals:
            self._outlook_check_mailboxes([vals["mailbox_id"]])
        return super().write(vals)

    @api.model
    def _outlook_check_mailboxes(self, mailbox_ids):
        """Users reset their own mailbox, admins any. :raises AccessError: for a mailbox the user may not manage"""
        self.env["outlook.mailbox"].browse(
            [mailbox_id for mailbox_id in mailbox_ids if mailbox_id]
        )._outlook_check_manage()

    @api.depends("mailbox_id")
    def _compute_mailbox_view(self):
        """:raises AccessError: for a mailbox the user may not read (checked in the database, not the cache)"""
        links = self.env["outlook.event.link"]  # as the user: their own mailbox's copies only (record rules)
        for wizard in self:
            wizard.mailbox_id.check_access("read")
            wizard.address = wizard.mailbox_id.address
            wizard.user_id = wizard.mailbox_id.user_id
            domain = [("mailbox_id", "=", wizard.mailbox_id.id), ("event_id", "!=", False)]
            wizard.linked_count = links.search_count(domain)
            wizard.organized_count = links.search_count(
                domain + [("is_organizer_copy", "=", True), ("state", "!=", "detached")]
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
