from odoo import fields, models

from ..engine.mapping import from_snapshot
from ..engine.records import LinkState
from . import compat


class OutlookEventLink(models.Model):
    """The Outlook copy of an Odoo event in one mailbox (STYLE R4).

    Graph ids are per mailbox: the same meeting has one ``calendar.event`` and one link per connected
    mailbox that holds a copy of it. The meeting's universal identity (iCalUId) lives on the event.
    A link whose event was deleted in Odoo stays (``event_id`` empty) until the push has removed the
    Outlook copy: it is the tombstone that remembers which Graph id to delete.
    """

    _name = "outlook.event.link"
    _description = "Outlook copy of an Odoo event, per mailbox"
    _order = "id"

    event_id = fields.Many2one("calendar.event", index=True, ondelete="set null")
    mailbox_id = fields.Many2one("outlook.mailbox", required=True, index=True, ondelete="cascade")
    user_id = fields.Many2one(related="mailbox_id.user_id", string="Mailbox Owner")
    graph_id = fields.Char("Outlook Event ID", required=True, copy=False, help="Immutable Graph id in this mailbox")
    change_key = fields.Char(copy=False, help="Graph changeKey when this link was last synced")
    last_modified = fields.Char("Outlook Last Modified", copy=False)
    is_organizer_copy = fields.Boolean(
        "Organizer's Copy", copy=False, help="This mailbox organizes the meeting: its copy may change it"
    )
    remote_hash = fields.Char(copy=False, help="Fingerprint of the Outlook copy at the last sync")
    synced_hash = fields.Char(copy=False, help="Fingerprint of the Odoo event at the last sync")
    synced_data = fields.Json(copy=False, help="The Odoo event as last synced: the base of the next PATCH")
    response_state = fields.Char(copy=False, help="The mailbox owner's answer as last synced")
    attendees_capped = fields.Boolean(
        copy=False, help="Outlook lists more attendees than the cap Odoo keeps: the attendee list is never sent back"
    )
    seen_round = fields.Integer(copy=False, help="Last full delta round that returned this copy")
    state = fields.Selection(
        [
            ("synced", "Synced"),
            ("pending", "Pending"),
            ("error", "Error"),
            ("conflict", "Conflict"),
            ("detached", "Detached"),
        ],
        default="synced",
        required=True,
        help="Detached: removed in Odoo without touching Outlook; Outlook's copy is no longer imported",
    )
    cancel_allowed = fields.Boolean(
        copy=False, help="The organizer removed the event in Odoo: Outlook's copy may be cancelled"
    )
    last_error = fields.Text(copy=False)
    failed_reads = fields.Integer(
        copy=False, help="How many times in a row this Outlook copy could not be read or saved"
    )
    next_retry_at = fields.Datetime(
        "Next Retry", copy=False, help="A copy in error is read again from then on (the wait doubles at each failure)"
    )

    _graph_uniq = compat.Constraint(
        "UNIQUE(mailbox_id, graph_id)", "This Outlook event is already linked to an Odoo event."
    )
    _event_uniq = compat.Constraint(
        "UNIQUE(mailbox_id, event_id)", "This Odoo event already has an Outlook copy in this mailbox."
    )

    def _outlook_state(self, local_hashes):
        """This link as the engine sees it; ``local_hashes`` maps event ids to their fingerprint now."""
        self.ensure_one()
        return LinkState(
            link_id=self.id,
            graph_id=self.graph_id,
            event_id=self.event_id.id or None,
            change_key=self.change_key or "",
            remote_hash=self.remote_hash or "",
            synced_hash=self.synced_hash or "",
            local_hash=local_hashes.get(self.event_id.id, ""),
            is_organizer_copy=self.is_organizer_copy,
            failed=self.state == "error",
            detached=self.state == "detached",
        )

    def _outlook_synced_data(self):
        """The :class:`~..engine.mapping.EventData` of the last sync, or ``None``."""
        self.ensure_one()
        return from_snapshot(self.synced_data) if self.synced_data else None
