from odoo import fields, models


class OutlookEventLink(models.Model):
    """The Outlook copy of an Odoo event in one mailbox (STYLE R4).

    Graph ids are per mailbox: the same meeting has one ``calendar.event`` and one link per connected
    mailbox that holds a copy of it. The meeting's universal identity (iCalUId) lives on the event.
    """

    _name = "outlook.event.link"
    _description = "Outlook copy of an Odoo event, per mailbox"
    _order = "id"

    event_id = fields.Many2one("calendar.event", required=True, index=True, ondelete="cascade")
    mailbox_id = fields.Many2one("outlook.mailbox", required=True, index=True, ondelete="cascade")
    user_id = fields.Many2one(related="mailbox_id.user_id", string="Mailbox Owner")
    graph_id = fields.Char("Outlook Event ID", required=True, copy=False, help="Immutable Graph id in this mailbox")
    change_key = fields.Char(copy=False, help="Graph changeKey when this link was last synced")
    last_modified = fields.Datetime("Outlook Last Modified", copy=False)
    synced_hash = fields.Char(copy=False, help="Hash of the mapped fields at the last sync, to skip no-op writes")
    state = fields.Selection(
        [("synced", "Synced"), ("pending", "Pending"), ("error", "Error")],
        default="pending",
        required=True,
    )
    last_error = fields.Text(copy=False)

    _sql_constraints = [
        ("graph_uniq", "UNIQUE(mailbox_id, graph_id)", "This Outlook event is already linked to an Odoo event."),
        ("event_uniq", "UNIQUE(mailbox_id, event_id)", "This Odoo event already has an Outlook copy in this mailbox."),
    ]
