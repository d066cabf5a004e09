from datetime import datetime, time, timedelta

from markupsafe import Markup

from odoo import _, api, fields, models

from ..engine.mapping import Attendee, EventData

# Fields whose change must reach Outlook (STYLE R12: marked dirty here, pushed by the sync cron).
OUTLOOK_SYNCED_FIELDS = frozenset(
    {
        "name",
        "description",
        "start",
        "stop",
        "allday",
        "start_date",
        "stop_date",
        "location",
        "videocall_location",
        "privacy",
        "show_as",
        "partner_ids",
        "attendee_ids",
        "alarm_ids",
        "categ_ids",
        "user_id",
        "active",
    }
)
# Context of every write the sync makes from Outlook's data: no push back, and no mail from Odoo either.
INBOUND_CONTEXT = {
    "outlook_inbound": True,
    "dont_notify": True,
    "no_mail_to_attendees": True,
    "mail_create_nosubscribe": True,
    "mail_create_nolog": True,
    "mail_notrack": True,
    "mail_auto_subscribe_no_notify": True,
    # Odoo 19 appends the organizer's and first contact's details to a new event's description (Odoo 18 does not):
    # an event imported from Outlook keeps Outlook's body as it is
    "skip_contact_description": True,
}
ALLDAY_START, ALLDAY_STOP = time(8), time(18)  # Odoo's own convention for all-day start/stop


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    outlook_ical_uid = fields.Char(
        "Outlook iCalUId",
        index="btree_not_null",
        copy=False,
        help="Universal identity of the meeting, the same in every attendee's Outlook calendar",
    )
    outlook_organizer_email = fields.Char(
        "Outlook Organizer",
        copy=False,
        help="Organizer's address when the organizer is not an Odoo user",
    )
    outlook_link_ids = fields.One2many("outlook.event.link", "event_id", string="Outlook Copies", copy=False)
    outlook_dirty = fields.Boolean("Outlook Push Pending", copy=False, index=True, readonly=True)
    outlook_create_attempted = fields.Boolean(
        copy=False, readonly=True, help="A POST was sent whose answer may have been lost"
    )
    outlook_sync_state = fields.Selection(
        [("not_synced", "Never"), ("synced", "Active"), ("inactive", "Inactive"), ("error", "Error")],
        string="Outlook Sync",
        default="not_synced",
        copy=False,
        readonly=True,
    )
    outlook_last_error = fields.Text("Outlook Sync Message", copy=False, readonly=True)
    outlook_send_invitations = fields.Boolean(
        "Send Outlook invitations",
        default=lambda self: self._outlook_default_invitations(),
        copy=False,
        help="Off: the event goes to the organizer's Outlook calendar without attendees, so Exchange mails "
        "nobody; the attendees stay in Odoo and are listed in the description.",
    )
    outlook_locked = fields.Boolean(
        "Locked against Outlook changes",
        copy=False,
        help="Outlook's changes to this event are refused and shown as a conflict",
    )
    outlook_imported = fields.Boolean(
        "Created by a data import",
        copy=False,
        readonly=True,
        help="Imported events are not sent to Outlook unless pushed explicitly",
    )
    outlook_internal_note = fields.Html("Internal notes", copy=False, help="Never sent to Outlook")

    # ------------------------------------------------------------
    # CRUD: mark for the push, never call Graph here (STYLE R12)
    # ------------------------------------------------------------

    @api.model
    def _outlook_default_invitations(self):
        return not self.env["ir.config_parameter"].sudo().get_param("outlook_calendar_sync.invitations_off_by_default")

    def _outlook_is_locked(self):
        """Locked by hand, or ended more days ago than the admin's lock rule (ERP.net locked records)."""
        self.ensure_one()
        if self.outlook_locked:
            return True
        days = self.env["outlook.mailbox"]._outlook_lock_after_days()
        return bool(days) and self.stop < fields.Datetime.now() - timedelta(days=days)

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.context.get("outlook_inbound"):
            imported = bool(self.env.context.get("import_file"))
            vals_list = [dict(vals, outlook_dirty=True, outlook_imported=imported) for vals in vals_list]
        events = super().create(vals_list)
        if not self.env.context.get("outlook_inbound"):
            self._outlook_trigger_push(events)
        return events

    def write(self, vals):
        if vals.get("active") is False and not self.env.context.get("outlook_inbound"):
            self._outlook_note_removal()
        if not self.env.context.get("outlook_inbound") and OUTLOOK_SYNCED_FIELDS.intersection(vals):
            vals = dict(vals, outlook_dirty=True)
            result = super().write(vals)
            self._outlook_trigger_push(self)
            return result
        return super().write(vals)

    def unlink(self):
        self._outlook_note_removal()
        linked = self.sudo().outlook_link_ids
        result = super().unlink()
        if linked:  # the links stay as tombstones: the push removes (or keeps) Outlook's copies
            self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync").sudo()._trigger()
        return result

    def action_outlook_push(self):
        """Send these events to Outlook at the next run, data imports included (Practifi)."""
        self.write({"outlook_imported": False})
        self.sudo().write({"outlook_dirty": True})
        self._outlook_trigger_push(self)
        return True

    def _skip_send_mail_status_update(self):
        """Odoo's own invitation and cancellation mails stay quiet for a connected organizer's events:
        Exchange sends them when the event reaches Outlook (no double invitations). The same for a paused
        organizer: the event reaches Outlook when the sync resumes and Exchange sends them then."""
        if self.env.context.get("outlook_inbound"):
            return True  # what the sync writes never mails anybody (and costs no query per event)
        if self.user_id and self.env["outlook.mailbox"].sudo().search_count(
            [("user_id", "=", self.user_id.id), ("state", "in", ("connected", "paused"))], limit=1
        ):
            return True
        return super()._skip_send_mail_status_update()

    def _outlook_note_removal(self):
        """Remember who removes linked events: only their organizer may cancel them in Outlook
        (an attendee deleting a shared meeting in Odoo must not cancel it for everybody)."""
        for event in self:
            links_sudo = event.sudo().outlook_link_ids
            if links_sudo:
                links_sudo.write({"cancel_allowed": self.env.user == event.user_id})

    @api.model
    def _outlook_trigger_push(self, events):
        """Ask the sync cron to run soon when a connected organizer's event changed."""
        organizers = events.user_id
        if organizers and self.env["outlook.mailbox"].sudo().search_count(
            [("user_id", "in", organizers.ids), ("state", "=", "connected")], limit=1
        ):
            self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync").sudo()._trigger()

    # ------------------------------------------------------------
    # Odoo -> engine vocabulary
    # ------------------------------------------------------------

    def _outlook_timezone(self, fallback="UTC"):
        self.ensure_one()
        # event_tz comes from the recurrence (Odoo computes it, with every recurrence field, for each event
        # read); a single event has none
        return (self.recurrency and self.with_prefetch().event_tz) or self.user_id.tz or fallback

    def _outlook_event_data(self):
        """``{event_id: EventData}`` of these events, as the push and the conflict check see them."""
        result = {}
        if not self:
            return result
        # a connected user is known to Outlook by their mailbox address, not their partner's email
        addresses = {
            user.partner_id.id: address
            for address, user in self.env["outlook.mailbox"]._outlook_users_by_address().items()
        }
        # compute the series' time zones in one batch, for the recurring events only (see _outlook_timezone)
        self.filtered("recurrency").with_prefetch().mapped("event_tz")
        for event in self:
            organizer = event.user_id.partner_id
            organizer_email = (
                addresses.get(organizer.id) or organizer.email_normalized or ""
                if organizer
                else event.outlook_organizer_email or ""
            )
            attendees = tuple(
                sorted(
                    (
                        Attendee(
                            addresses.get(att.partner_id.id) or att.partner_id.email_normalized,
                            att.partner_id.name or "",
                            att.state or "needsAction",
                        )
                        for att in event.attendee_ids
                        if addresses.get(att.partner_id.id) or att.partner_id.email_normalized
                    ),
                    key=lambda attendee: attendee.email,
                )
            )
            alarms = event.alarm_ids.filtered(lambda alarm: alarm.alarm_type == "notification")
            timing = (
                {"allday": True, "start_date": event.start_date, "stop_date": event.stop_date}
                if event.allday
                else {"start": event.start, "stop": event.stop}
            )
            result[event.id] = EventData(
                name=event.name or "",
                description=str(event.description or ""),
                location=event.location or "",
                videocall_location=event.videocall_location or "",
                privacy="private" if event.privacy in ("private", "confidential") else "public",
                show_as=event.show_as or "busy",
                organizer_email=organizer_email,
                organizer_name=organizer.name if organizer else "",
                attendees=attendees,
                alarm_minutes=min(alarms.mapped("duration_minutes")) if alarms else None,
                categories=tuple(sorted(event.categ_ids.mapped("name"))),
                timezone=event._outlook_timezone(),
                **timing,
            )
        return result

    @api.model
    def _outlook_time_values(self, data):
        """``start``/``stop``/``allday`` to write for ``data`` (Odoo keeps all-day events at 8:00-18:00)."""
        if data.allday:
            return {
                "allday": True,
                "start": datetime.combine(data.start_date, ALLDAY_START),
                "stop": datetime.combine(data.stop_date, ALLDAY_STOP),
            }
        return {"allday": False, "start": data.start, "stop": data.stop}

    # ------------------------------------------------------------
    # Conflicts (nothing is lost silently)
    # ------------------------------------------------------------

    def _outlook_note_lost_values(self, lost, kept, winner):
        """Write in the chatter the values that lost a conflict (``lost`` vs the ``kept`` EventData)."""
        self.ensure_one()
        rows = [
            Markup("<li>%s: %s</li>") % (label, _outlook_display(getattr(lost, name)))
            for name, label in CONFLICT_LABELS
            if getattr(lost, name) != getattr(kept, name)
        ]
        if not rows:
            return
        body = Markup("<p>%s</p><ul>%s</ul>") % (
            _(
                "Outlook and Odoo both changed this event since the last sync; %(winner)s won. "
                "The other side's values were:",
                winner=winner,
            ),
            Markup("").join(rows),
        )
        self.sudo().with_context(**INBOUND_CONTEXT).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_note"
        )


CONFLICT_LABELS = (
    ("name", "Subject"),
    ("start", "Start"),
    ("stop", "End"),
    ("start_date", "Start date"),
    ("stop_date", "End date"),
    ("location", "Location"),
    ("description", "Description"),
    ("privacy", "Privacy"),
    ("show_as", "Show as"),
    ("alarm_minutes", "Reminder (minutes)"),
    ("categories", "Categories"),
    ("videocall_location", "Meeting URL"),
)


def _outlook_display(value):
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value) or "-"
    if value in (None, "", False):
        return "-"
    return str(value)
