from odoo import fields, models


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    outlook_ical_uid = fields.Char(
        "Outlook iCalUId", index="btree_not_null", copy=False,
        help="Universal identity of the meeting, the same in every attendee's Outlook calendar",
    )
    outlook_link_ids = fields.One2many("outlook.event.link", "event_id", string="Outlook Copies", copy=False)
    outlook_sync_state = fields.Selection(
        [("not_synced", "Not synced"), ("pending", "Pending"), ("synced", "Synced"), ("error", "Error")],
        string="Outlook Sync", default="not_synced", copy=False, readonly=True,
    )
    outlook_last_error = fields.Text("Outlook Sync Error", copy=False, readonly=True)
