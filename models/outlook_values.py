"""Engine values -> ``calendar.event`` values, with every lookup of a page done in a few batched queries."""

from odoo import Command
from odoo.tools import mute_logger

from ..engine.mapping import RESPONSE_TO_STATE


class OdooValues:
    """Partners, alarms, tags and organizers for the :class:`EventData` of one page (STYLE R3).

    Lookups run with ``sudo`` (partners of other companies, alarm and tag creation are admin rights) and
    create what is missing in one ``create`` per model; the events themselves are written as the
    mailbox owner by the caller.
    """

    def __init__(self, env, datas):
        self.env = env
        self.series = {}  # {series master graph id: calendar.recurrence id} of the page
        datas = [data for data in datas if data is not None]
        emails = {a.email for data in datas for a in data.attendees} | {
            d.organizer_email for d in datas if d.organizer_email
        }
        # connected users are known by their mailbox address, which may differ from their partner's email
        self.mailbox_users = {
            address: user
            for address, user in env["outlook.mailbox"]._outlook_users_by_address().items()
            if address in emails
        }
        self.partners = self._partners(emails, datas)
        self.organizers = {email: user.id for email, user in self.mailbox_users.items()}
        self.alarms = self._alarms({d.alarm_minutes for d in datas if d.alarm_minutes is not None})
        self.tags = self._tags({name for data in datas for name in data.categories})

    def _partners(self, emails, datas):
        if not emails:
            return {}
        # contacts created for unknown attendees: no "Contact created" note, the mailbox's owner does not follow them
        partners_sudo = (
            self.env["res.partner"]
            .sudo()
            .with_context(
                active_test=False, mail_create_nolog=True, mail_create_nosubscribe=True, tracking_disable=True
            )
        )
        found = {address: user.partner_id.id for address, user in self.mailbox_users.items()}
        for partner in partners_sudo.search([("email_normalized", "in", list(emails - found.keys()))], order="id"):
            found.setdefault(partner.email_normalized, partner.id)
        names = {a.email: a.name for data in datas for a in data.attendees}
        names.update({d.organizer_email: d.organizer_name for d in datas if d.organizer_email and d.organizer_name})
        missing = sorted(emails - found.keys())
        if missing:
            created = partners_sudo.create([{"name": names.get(email) or email, "email": email} for email in missing])
            found.update(zip(missing, created.ids, strict=False))
        return found

    def _alarms(self, minutes):
        if not minutes:
            return {}
        alarms_sudo = self.env["calendar.alarm"].sudo()
        found = {}
        for alarm in alarms_sudo.search([("alarm_type", "=", "notification")], order="id"):
            if alarm.duration_minutes in minutes:
                found.setdefault(alarm.duration_minutes, alarm.id)
        missing = sorted(minutes - found.keys())
        if missing:
            created = alarms_sudo.create(
                [
                    {
                        "name": f"{int(value)} minutes",
                        "alarm_type": "notification",
                        "duration": value,
                        "interval": "minutes",
                    }
                    for value in missing
                ]
            )
            found.update(zip(missing, created.ids, strict=False))
        return found

    def _tags(self, names):
        if not names:
            return {}
        tags_sudo = self.env["calendar.event.type"].sudo()
        found = {tag.name: tag.id for tag in tags_sudo.search([("name", "in", list(names))])}
        missing = sorted(names - found.keys())
        if missing:
            # another worker may create the same tag meanwhile: PostgreSQL refuses this page (unique name), which
            # the sync applies again in a new transaction that sees it (outlook_mailbox.CONCURRENT_WRITE_ERRORS);
            # the refusal is expected there, not an error for the server log
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                created = tags_sudo.create([{"name": name} for name in missing])
            found.update(zip(missing, created.ids, strict=True))
        return found

    def event_values(self, data, ical_uid, owner):
        """``calendar.event`` values of a meeting whose copy is authoritative."""
        organizer_user = self.organizers.get(data.organizer_email)
        partner_ids = {self.partners[a.email] for a in data.attendees if a.email in self.partners}
        if data.organizer_email in self.partners:
            partner_ids.add(self.partners[data.organizer_email])
        partner_ids.add(owner.partner_id.id)
        values = {
            "name": data.name,
            "description": data.description or False,
            "location": data.location or False,
            "videocall_location": data.videocall_location or False,
            "privacy": data.privacy,
            "show_as": data.show_as,
            "user_id": organizer_user or False,
            "outlook_organizer_email": False if organizer_user else (data.organizer_email or False),
            "partner_ids": [Command.set(sorted(partner_ids))],
            "alarm_ids": [Command.set([self.alarms[data.alarm_minutes]] if data.alarm_minutes in self.alarms else [])],
            "categ_ids": [Command.set(sorted(self.tags[name] for name in data.categories))],
            "active": True,
            "outlook_sync_state": "synced",
            "outlook_last_error": False,
            **self.env["calendar.event"]._outlook_time_values(data),
        }
        if ical_uid:
            values["outlook_ical_uid"] = ical_uid
        return values

    def attendee_states(self, data, item, owner, authoritative):
        """``{partner_id: state}`` this copy tells: everybody's answers from an authoritative copy, else
        only the mailbox owner's own answer."""
        own_state = "accepted" if item.is_organizer else RESPONSE_TO_STATE.get(item.response, "needsAction")
        states = {owner.partner_id.id: own_state}
        if authoritative and data is not None:
            for attendee in data.attendees:
                partner_id = self.partners.get(attendee.email)
                if partner_id and partner_id != owner.partner_id.id:
                    states[partner_id] = attendee.state
            organizer_partner = self.partners.get(data.organizer_email)
            if organizer_partner and organizer_partner != owner.partner_id.id:
                states[organizer_partner] = "accepted"
        return states
