"""The invitation budget: when one sync run of a mailbox would make Exchange mail attendees more messages than
the admin's threshold, the changes that would mail somebody are held in an ``outlook.held.batch`` until a
person confirms them; everything else keeps syncing (doc/invitation-budget.md).

* A held change stays marked for the push (``outlook_dirty``); each run plans it again, so the batch always
  shows what its latest state would send, and an event deleted meanwhile becomes a cancellation (or nothing,
  when Outlook never had it).
* Confirming only marks the batch; the next run (asked for at once) sends its lines, each marked ``sending``
  and committed before the Graph call, and ``sent`` in the transaction that records Outlook's answer. A PATCH
  of a confirmed line carries the copy's change key (``If-Match``): when a crash or a retried request had
  already applied it, Graph answers 412 and nothing is mailed twice.
"""

import logging

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine.budget import NOTHING, mailing, over_budget, series_mailing
from ..engine.errors import MappingError
from ..engine.mapping import fingerprint, from_snapshot
from ..graph.errors import TransientError
from .calendar_event import INBOUND_CONTEXT
from .outlook_mailbox import LOCK_NAMESPACE
from .outlook_push import GRAPH_ACTIONS, PUSH_BATCH
from .outlook_series import SeriesOp

_logger = logging.getLogger(__name__)

PARAM_INVITATION_BUDGET = "outlook_calendar_sync.invitation_budget"
DEFAULT_INVITATION_BUDGET = 50  # messages per mailbox and run
HELD_SUMMARY = "Confirm the Outlook messages held"
OPEN_LINE_STATES = ("held", "sending")
BATCH_STATES = [
    ("held", "Waiting for a confirmation"),
    ("confirmed", "Confirmed: sent at the next run"),
    ("sent", "Sent"),
    ("discarded", "Discarded"),
    ("void", "Nothing left to send"),
]
LINE_STATES = [
    ("held", "Held"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Refused by Outlook"),
    ("dropped", "Nothing to send any more"),
    ("discarded", "Discarded"),
]
ACTIONS = [
    ("create", "New meeting"),
    ("patch", "Change"),
    ("truncate", "Series ended earlier"),
    ("cancel", "Cancellation"),
    ("delete", "Deletion"),
]


class OutlookHeldBatch(models.Model):
    _name = "outlook.held.batch"
    _description = "Outlook messages held for a confirmation"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    name = fields.Char(compute="_compute_outlook_counts")
    mailbox_id = fields.Many2one("outlook.mailbox", required=True, readonly=True, index=True, ondelete="cascade")
    user_id = fields.Many2one(related="mailbox_id.user_id", store=True, string="Mailbox Owner", index=True)
    state = fields.Selection(BATCH_STATES, default="held", required=True, readonly=True, tracking=True)
    threshold = fields.Integer("Limit per run", readonly=True, help="The invitation budget when this batch was held")
    line_ids = fields.One2many("outlook.held.line", "batch_id", string="Held Changes", readonly=True)
    event_count = fields.Integer("Meetings", compute="_compute_outlook_counts")
    message_count = fields.Integer(
        "Messages to Send", compute="_compute_outlook_counts", help="What Send would send now"
    )
    invitation_count = fields.Integer("Invitations", compute="_compute_outlook_counts")
    update_count = fields.Integer("Updates", compute="_compute_outlook_counts")
    cancellation_count = fields.Integer("Cancellations", compute="_compute_outlook_counts")
    recipient_count = fields.Integer("Recipients", compute="_compute_outlook_counts")
    sent_count = fields.Integer("Messages sent", compute="_compute_outlook_counts")
    send_label = fields.Char(compute="_compute_outlook_counts")
    confirmed_by = fields.Many2one("res.users", readonly=True)
    confirmed_at = fields.Datetime(readonly=True)
    confirmed_messages = fields.Integer("Messages confirmed", readonly=True)
    decided_note = fields.Char("Decision", readonly=True)

    @api.depends("line_ids.state", "line_ids.message_count", "state")
    def _compute_outlook_counts(self):
        for batch in self:
            lines = batch.line_ids.filtered(lambda line: line.state in OPEN_LINE_STATES)
            batch.event_count = len(lines)
            batch.message_count = sum(lines.mapped("message_count"))
            batch.invitation_count = sum(lines.mapped("invitations"))
            batch.update_count = sum(lines.mapped("updates"))
            batch.cancellation_count = sum(lines.mapped("cancellations"))
            batch.recipient_count = len({a for line in lines for a in (line.addresses or ())})
            batch.sent_count = sum(batch.line_ids.filtered(lambda line: line.state == "sent").mapped("message_count"))
            batch.send_label = _("Send %(count)s messages", count=batch.message_count)
            batch.name = _(
                "%(messages)s messages for %(events)s meetings (%(mailbox)s)",
                messages=batch.message_count if batch.state in ("held", "confirmed") else batch.sent_count,
                events=batch.event_count if batch.state in ("held", "confirmed") else len(batch.line_ids),
                mailbox=batch.mailbox_id.address or batch.user_id.name or "",
            )

    # ------------------------------------------------------------
    # A PERSON DECIDES: the mailbox's user, or an administrator
    # ------------------------------------------------------------

    def _outlook_check_decide(self):
        """:raises AccessError: unless the user owns these batches' mailboxes or is an administrator"""
        self.check_access("read")  # record rules: users see their own mailbox's batches only
        if not self.env.user.has_group("base.group_system") and any(batch.user_id != self.env.user for batch in self):
            raise AccessError(_("Only the mailbox's user or an administrator can decide on held Outlook messages."))

    def _outlook_lock_held(self):
        """The batches still held, row-locked: two people confirming at once decide once (the second one's
        transaction waits, then is retried by Odoo and finds the batch decided)."""
        self.flush_recordset(["state"])
        self.env.cr.execute(
            "SELECT id FROM outlook_held_batch WHERE id IN %s AND state = 'held' ORDER BY id FOR UPDATE",
            [tuple(self.ids)],
        )
        return self.sudo().browse([row[0] for row in self.env.cr.fetchall()])

    def action_outlook_send_held(self):
        """ "Send N messages": the next run of the mailbox sends these changes, asked for at once."""
        self._outlook_check_decide()
        batches_sudo = self._outlook_lock_held()
        for batch in batches_sudo:
            batch.write(
                {
                    "state": "confirmed",
                    "confirmed_by": self.env.uid,
                    "confirmed_at": fields.Datetime.now(),
                    "confirmed_messages": batch.message_count,
                    "decided_note": _("Confirmed by %(user)s", user=self.env.user.name),
                }
            )
        batches_sudo._outlook_close_activities(_("Confirmed: the messages are sent at the next sync."))
        batches_sudo.mailbox_id._outlook_request_sync(force=True)
        _logger.info("outlook: user %s confirmed held batches %s", self.env.uid, batches_sudo.ids)
        if not batches_sudo:
            return self.env["res.users"]._outlook_notification(
                _("These messages were already confirmed or discarded: nothing more is sent."), "info"
            )
        return self.env["res.users"]._outlook_notification(
            _(
                "%(count)s messages go out at the next sync, which starts now.",
                count=sum(batches_sudo.mapped("confirmed_messages")),
            ),
            "success",
        )

    def action_outlook_discard_held(self):
        """ "Discard": nothing is sent, and Odoo takes Outlook's version back where it can (Graph cannot change
        an organizer's meeting without mailing its attendees): changed meetings are read again from Outlook
        at the next run and replace Odoo's values; new meetings stay in Odoo only; meetings removed in Odoo
        stay in Outlook, detached (as the deletion policy *Keep it in Outlook* does)."""
        self._outlook_check_decide()
        for mailbox in self.sudo().mailbox_id:
            # the run holds this lock for its whole length: never change what it is sending
            self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, mailbox.id])
            if not self.env.cr.fetchone()[0]:
                raise UserError(
                    _(
                        "A sync of %(mailbox)s is running; try again in a minute.",
                        mailbox=mailbox.address or mailbox.user_id.name,
                    )
                )
        self.flush_recordset(["state"])
        self.env.cr.execute(
            "SELECT id FROM outlook_held_batch WHERE id IN %s AND state IN ('held', 'confirmed') "
            "ORDER BY id FOR UPDATE",
            [tuple(self.ids)],
        )
        batches_sudo = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        lines = batches_sudo.line_ids.filtered(lambda line: line.state in OPEN_LINE_STATES)
        lines._outlook_discard()
        batches_sudo.write({"state": "discarded", "decided_note": _("Discarded by %(user)s", user=self.env.user.name)})
        batches_sudo._outlook_close_activities(_("Discarded: nothing was sent."))
        _logger.info("outlook: user %s discarded held batches %s", self.env.uid, batches_sudo.ids)
        return self.env["res.users"]._outlook_notification(
            _("Nothing was sent; Outlook's version is kept (changed meetings are read back from Outlook)."), "info"
        )

    def _outlook_close_activities(self, feedback):
        self.activity_ids.filtered(lambda activity: activity.summary == HELD_SUMMARY).action_feedback(feedback=feedback)

    def _outlook_notify_held(self):
        """Tell the mailbox's user (an activity on the batch, which admins see on the dashboard too)."""
        for batch in self:
            batch.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=HELD_SUMMARY,
                note=_(
                    "One sync would have mailed %(messages)s messages (invitations, updates, cancellations) to the "
                    "attendees of %(events)s meetings, more than the limit of %(limit)s per run. Nothing was sent: "
                    "open this batch to see who would get what, then Send or Discard.",
                    messages=batch.message_count,
                    events=batch.event_count,
                    limit=batch.threshold,
                ),
                user_id=batch.user_id.id,
            )

    def _outlook_settle(self):
        """Batches whose lines are all done: sent (confirmed ones) or with nothing left to send."""
        for batch in self.filtered(lambda b: b.state in ("held", "confirmed")):
            if batch.line_ids.filtered(lambda line: line.state in OPEN_LINE_STATES):
                continue
            batch.write({"state": "sent" if batch.state == "confirmed" else "void"})
            batch._outlook_close_activities(_("Nothing is waiting any more."))


class OutlookHeldLine(models.Model):
    _name = "outlook.held.line"
    _description = "One meeting's messages held for a confirmation"
    _order = "batch_id desc, start, id"

    batch_id = fields.Many2one("outlook.held.batch", required=True, readonly=True, index=True, ondelete="cascade")
    mailbox_id = fields.Many2one(related="batch_id.mailbox_id", store=True, index=True)
    event_id = fields.Many2one("calendar.event", string="Meeting", readonly=True, index=True, ondelete="set null")
    link_id = fields.Many2one(
        "outlook.event.link", string="Outlook Copy", readonly=True, index=True, ondelete="set null"
    )
    recurrence_id = fields.Many2one(
        "calendar.recurrence", string="New Series", readonly=True, index="btree_not_null", ondelete="set null"
    )
    series_link_id = fields.Many2one(
        "outlook.series.link", string="Outlook Series", readonly=True, index="btree_not_null", ondelete="set null"
    )
    is_series = fields.Boolean("Whole series", readonly=True)
    name = fields.Char("Subject", readonly=True)
    start = fields.Datetime(readonly=True)
    action = fields.Selection(ACTIONS, readonly=True)
    invitations = fields.Integer(readonly=True)
    updates = fields.Integer(readonly=True)
    cancellations = fields.Integer(readonly=True)
    message_count = fields.Integer("Messages", readonly=True)
    addresses = fields.Json(readonly=True, help="Every address this change mails")
    recipients = fields.Text(readonly=True, help="Who gets which message")
    state = fields.Selection(LINE_STATES, default="held", required=True, readonly=True)
    note = fields.Char(readonly=True)

    @api.model
    def _outlook_values(self, op, mail):
        """What a line shows of one planned push (:class:`PushOp`) and the messages it would make Exchange send."""
        data = op.local.data or (op.link._outlook_synced_data() if op.link else None)
        values = {"event_id": op.event.id if op.event else False, "link_id": op.link.id if op.link else False}
        return dict(values, **self._outlook_mail_values(data, op.decision.action, mail))

    @api.model
    def _outlook_series_values(self, op, data, mail):
        """The same for a series operation (:class:`SeriesOp`); ``data``: its first occurrence."""
        create = op.kind == "create"
        values = {
            "recurrence_id": op.record.id if create else False,
            "series_link_id": False if create else op.record.id,
            "is_series": True,
        }
        return dict(values, **self._outlook_mail_values(data, op.kind, mail))

    @api.model
    def _outlook_mail_values(self, data, action, mail):
        start = False
        if data is not None:
            start = fields.Datetime.to_datetime(data.start_date) if data.allday else data.start
        labels = {"invitation": _("Invitation"), "update": _("Update"), "cancellation": _("Cancellation")}
        return {
            "name": data.name if data is not None else False,
            "start": start,
            "action": action,
            "invitations": len(mail.invitations),
            "updates": len(mail.updates) * mail.per_update,
            "cancellations": len(mail.cancellations),
            "message_count": mail.count,
            "addresses": list(mail.recipients),
            "recipients": "\n".join(f"{labels[kind]}: {', '.join(addresses)}" for kind, addresses in mail.by_kind()),
        }

    def _outlook_refresh(self, values):
        """Merge the latest state of the held change (written only where it changed)."""
        for line in self:
            changed = {}
            for key, value in values.items():
                current = line[key]
                if isinstance(current, models.BaseModel):
                    current = current.id
                if current != value:
                    changed[key] = value
            if changed:
                line.write(changed)

    def _outlook_drop_stale(self):
        """Held lines no push planned this run: their meeting was deleted before Outlook ever had it, is no
        longer marked for the push (read back from Outlook), or their series operation is gone: nothing to
        send. Events only left for a later run (more changes than one run pushes) stay held."""
        for line in self:
            event, link = line.event_id, line.link_id
            waiting_event = not line.is_series and event and event.outlook_dirty
            waiting_tombstone = link and not link.event_id and link.state not in ("error", "detached")
            if not waiting_event and not waiting_tombstone:
                line.write({"state": "dropped", "note": _("Nothing to send any more.")})

    def _outlook_discard(self):
        """Nothing of these lines is sent (see :meth:`OutlookHeldBatch.action_outlook_discard_held`)."""
        who = self.env.user.name
        for line in self:
            event, link = line.event_id.sudo().with_context(active_test=False), line.link_id.sudo()
            if line.is_series:
                line._outlook_discard_series(who)
            elif line.action == "create" or not link:
                if event:
                    event.with_context(**INBOUND_CONTEXT).write(
                        {
                            "outlook_dirty": False,
                            "outlook_sync_state": "not_synced",
                            "outlook_last_error": _(
                                "Not sent to Outlook: %(user)s discarded its invitations. Send to Outlook (action "
                                "menu) sends it.",
                                user=who,
                            ),
                        }
                    )
            elif line.action in ("cancel", "delete"):
                link.write(
                    {
                        "state": "detached",
                        "last_error": _("Kept in Outlook: %(user)s discarded the cancellation.", user=who),
                    }
                )
                if event:
                    event.with_context(**INBOUND_CONTEXT).write({"outlook_dirty": False, "outlook_last_error": False})
            else:
                line._outlook_take_outlook_version(event, link)
        self.write({"state": "discarded"})

    def _outlook_discard_series(self, who):
        """A new series stays in Odoo only; a change of a series stays in Odoo, and Outlook keeps its series
        (Odoo cannot read a series back on request)."""
        if self.recurrence_id:
            self.recurrence_id.sudo().calendar_event_ids.with_context(**INBOUND_CONTEXT).write(
                {
                    "outlook_dirty": False,
                    "outlook_sync_state": "not_synced",
                    "outlook_last_error": _(
                        "Not sent to Outlook: %(user)s discarded the invitations of this series.", user=who
                    ),
                }
            )
        if self.series_link_id:
            self.series_link_id.sudo().write(
                {
                    "pending": "none",
                    "last_error": _(
                        "Not sent to Outlook: %(user)s discarded this change of the series; Outlook keeps its "
                        "series until it changes again.",
                        user=who,
                    ),
                }
            )

    def _outlook_take_outlook_version(self, event, link):
        """A discarded change: as *Resync from Outlook*, the next run reads Outlook's copy and applies it over
        Odoo's values; a note in the event's chatter says who discarded it. A mailbox that only sends to
        Outlook never reads it: Odoo keeps its values, which go out with the event's next change."""
        if not event:
            return
        pulls = link.mailbox_id._outlook_policy().pulls
        if pulls:
            local = event._outlook_event_data()[event.id]
            link.write(
                {
                    "state": "pending",
                    "change_key": False,
                    "remote_hash": False,
                    "synced_hash": fingerprint(local),
                    "last_error": False,
                }
            )
        event.with_context(**INBOUND_CONTEXT).write({"outlook_dirty": False, "outlook_last_error": False})
        body = Markup("<p>%s</p>") % (
            _(
                "%(user)s discarded this change instead of mailing the attendees; Outlook's version is read back.",
                user=self.env.user.name,
            )
            if pulls
            else _(
                "%(user)s discarded the messages of this change: Outlook keeps its version until the next change.",
                user=self.env.user.name,
            )
        )
        event.with_context(**INBOUND_CONTEXT).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_note"
        )


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    held_batch_ids = fields.One2many("outlook.held.batch", "mailbox_id", string="Held Messages", readonly=True)
    held_message_count = fields.Integer("Messages held", compute="_compute_outlook_held")

    def _compute_outlook_held(self):
        counts = (
            self.env["outlook.held.line"]
            .sudo()
            ._read_group(
                [("mailbox_id", "in", self.ids), ("state", "=", "held"), ("batch_id.state", "=", "held")],
                ["mailbox_id"],
                ["message_count:sum"],
            )
        )
        held = {mailbox.id: total for mailbox, total in counts}
        for mailbox in self:
            mailbox.held_message_count = held.get(mailbox.id, 0)

    def action_outlook_held(self):
        """The held batches of these mailboxes (only of those the user may read: not a colleague's)."""
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("outlook_calendar_sync.outlook_held_batch_action")
        action["domain"] = [("mailbox_id", "in", self.ids)]
        return action

    @api.model
    def _outlook_invitation_budget(self):
        """Messages one run may send before asking a person (setting; 0: no limit)."""
        raw = self.env["ir.config_parameter"].sudo().get_param(PARAM_INVITATION_BUDGET)
        try:
            return max(int(raw), 0) if raw not in (None, False, "") else DEFAULT_INVITATION_BUDGET
        except ValueError:
            return DEFAULT_INVITATION_BUDGET

    def _outlook_open_held_lines(self):
        return (
            self.env["outlook.held.line"]
            .sudo()
            .search(
                [
                    ("mailbox_id", "=", self.id),
                    ("state", "in", OPEN_LINE_STATES),
                    ("batch_id.state", "in", ("held", "confirmed")),
                ]
            )
        )

    def _outlook_dirty_events(self, events_sudo, domain=()):
        """Confirmed changes first, then the others, and the changes still waiting for a person last: a
        big held batch never keeps the other events from syncing."""
        lines = self._outlook_open_held_lines().filtered("event_id")
        if not lines:
            return super()._outlook_dirty_events(events_sudo, domain)
        confirmed = lines.filtered(lambda line: line.batch_id.state == "confirmed").event_id
        parts = (
            [("id", "in", confirmed.ids)],
            [("id", "not in", lines.event_id.ids)],
            [("id", "in", (lines.event_id - confirmed).ids)],
        )
        events = events_sudo.browse()
        for part in parts:
            if len(events) < PUSH_BATCH:
                events |= super()._outlook_dirty_events(events_sudo, [*domain, *part])
        return events[:PUSH_BATCH]

    @staticmethod
    def _outlook_push_key(op):
        """What identifies one push from run to run (held lines are found again by it)."""
        if isinstance(op, SeriesOp):
            return ("recurrence", op.record.id) if op.kind == "create" else ("series", op.record.id)
        return ("event", op.event.id) if op.event else ("link", op.link.id)

    def _outlook_is_held(self, op, held):
        """Whether this push waits for a person (``held``: keys from :meth:`_outlook_hold_mailings`). The
        events of a held new series wait with it: they make Outlook's series when it goes."""
        if self._outlook_push_key(op) in held:
            return True
        event = getattr(op, "event", None)
        return bool(event and event.recurrence_id and ("recurrence", event.recurrence_id.id) in held)

    @staticmethod
    def _outlook_line_keys(line):
        keys = []
        if line.is_series:
            keys.append(
                ("recurrence", line.recurrence_id.id) if line.recurrence_id else ("series", line.series_link_id.id)
            )
        else:
            keys += [("event", line.event_id.id)] if line.event_id else []
            keys += [("link", line.link_id.id)] if line.link_id else []
        return keys

    def _outlook_mailing(self, op):
        """The messages Exchange would send for one planned push."""
        if op.decision.action not in GRAPH_ACTIONS:
            return NOTHING
        link = op.link
        return mailing(
            op.decision.action,
            op.decision.body,
            link._outlook_synced_data() if link else None,
            self.sudo().address,
            organizer_copy=link.is_organizer_copy if link else True,
            occurrence=bool(link and op.event and op.event.recurrency),
        )

    def _outlook_series_mailing(self, op, policy):
        """``(first occurrence data, mailing)`` of one series operation."""
        own, record = self.sudo().address, op.record
        synced = from_snapshot(record.synced_data) if op.kind != "create" and record.synced_data else None
        if op.kind not in ("create", "patch"):
            return synced, series_mailing(op.kind, None, synced, own)
        try:
            recurrence = record if op.kind == "create" else record.recurrence_id
            _base, data, body = self._outlook_series_body(recurrence, policy)
        except MappingError:
            return synced, NOTHING  # refused when it is sent: it fails that series alone
        return data, series_mailing(op.kind, body, synced, own)

    def _outlook_hold_mailings(self, run, planned, series):
        """The invitation budget for this run's pushes (``planned``: :class:`PushOp`, ``series``: :class:`SeriesOp`).

        Changes already held are merged into their line (their latest state) and keep waiting, or go out when
        their batch was confirmed; the new changes that mail somebody go out when they make at most the
        threshold, else they are held in a new batch together.

        :return: the keys of the pushes that wait for a person (see :meth:`_outlook_is_held`)
        """
        threshold = self._outlook_invitation_budget()
        open_lines = self._outlook_open_held_lines()
        if not open_lines and not threshold:
            return set()
        lines_model = self.env["outlook.held.line"].sudo()
        by_key = {key: line for line in open_lines for key in self._outlook_line_keys(line)}
        items = [(op, *self._outlook_series_mailing(op, run.policy)) for op in series]
        items += [(op, None, self._outlook_mailing(op)) for op in planned]
        held, fresh, matched = set(), [], lines_model
        for op, data, mail in items:
            key = self._outlook_push_key(op)
            # an event deleted while held: its line is found again by the Outlook copy it changed
            keys = [key] if isinstance(op, SeriesOp) or not op.link else [key, ("link", op.link.id)]
            line = next((by_key[k] for k in keys if k in by_key), lines_model)
            values = self._outlook_line_values(op, data, mail) if mail.count else {}
            if not line:
                if mail.count:
                    fresh.append((key, values, mail))
                continue
            matched |= line
            if not mail.count:
                # mails nobody any more (reverted, or already in Outlook after an interrupted run): pushed now
                line.write({"state": "sent" if line.state == "sending" else "dropped"})
            elif line.batch_id.state == "confirmed":
                line._outlook_refresh(dict(values, state="sending"))
                run.held[key] = line
            else:
                line._outlook_refresh(values)
                held.add(key)
        total = sum(mail.count for _key, _values, mail in fresh)
        if over_budget(total, threshold):
            self._outlook_hold_batch(fresh, threshold, total)
            held |= {key for key, _values, _mail in fresh}
        (open_lines - matched)._outlook_drop_stale()
        open_lines.batch_id._outlook_settle()
        run.commit()  # what is about to be sent is marked before Graph is called
        return held

    def _outlook_line_values(self, op, data, mail):
        lines_model = self.env["outlook.held.line"].sudo()
        if isinstance(op, SeriesOp):
            return lines_model._outlook_series_values(op, data, mail)
        return lines_model._outlook_values(op, mail)

    def _outlook_hold_batch(self, fresh, threshold, total):
        batch = (
            self.env["outlook.held.batch"]
            .sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create(
                {
                    "mailbox_id": self.id,
                    "threshold": threshold,
                    "line_ids": [Command.create(values) for _key, values, _mail in fresh],
                }
            )
        )
        events = batch.line_ids.event_id | batch.line_ids.recurrence_id.calendar_event_ids
        events.sudo().with_context(**INBOUND_CONTEXT).write(
            {
                "outlook_last_error": _(
                    "Held: one sync would have mailed %(count)s messages to attendees, more than the limit of "
                    "%(limit)s. It is sent once a person confirms it (Outlook messages held).",
                    count=total,
                    limit=threshold,
                )
            }
        )
        batch._outlook_notify_held()
        _logger.info("outlook: mailbox %s: %s messages held in batch %s", self.id, total, batch.id)
        return batch

    def _outlook_send_batched(self, run, calls):
        result = super()._outlook_send_batched(run, calls)
        self._outlook_settle_sent(run)
        return result

    def _outlook_settle_sent(self, run):
        if run.held:
            lines = self.env["outlook.held.line"].sudo().browse([line.id for line in run.held.values()])
            lines.batch_id._outlook_settle()
            run.commit()

    def _outlook_apply_outcome(self, run, op, answer):
        """Confirmed lines follow their push: sent, refused, or sent at the next run."""
        super()._outlook_apply_outcome(run, op, answer)
        line = run.held.get(self._outlook_push_key(op)) if run.held else None
        if not line:
            return
        gone = op.decision.action in ("cancel", "delete") and answer is not None and answer.status in (404, 410)
        if answer is None or answer.ok or gone:
            line.write({"state": "sent", "note": False})
        elif isinstance(answer.error(), TransientError):
            line.write({"state": "held"})  # still confirmed: sent at the next run
        else:
            line.write({"state": "failed", "note": str(answer.error())})

    def _outlook_series_guarded(self, run, record, operation):
        """A confirmed series operation: sent, or refused (the series shows the error)."""
        key = ("recurrence", record.id) if record._name == "calendar.recurrence" else ("series", record.id)
        line = run.held.get(key) if run.held else None
        errors = run.stats["push_error"]
        result = super()._outlook_series_guarded(run, record, operation)
        if line:
            failed = run.stats["push_error"] > errors
            note = record.last_error if failed and record._name == "outlook.series.link" else False
            line.write({"state": "failed" if failed else "sent", "note": note})
            line.batch_id._outlook_settle()
            run.commit()
        return result


class OutlookDashboard(models.Model):
    _inherit = "outlook.dashboard"

    held_messages = fields.Integer("Messages held", compute="_compute_outlook_held")

    def _compute_outlook_held(self):
        counts = (
            self.env["outlook.held.line"]
            .sudo()
            ._read_group(
                [("mailbox_id", "in", self.mailbox_id.ids), ("state", "=", "held"), ("batch_id.state", "=", "held")],
                ["mailbox_id"],
                ["message_count:sum"],
            )
        )
        held = {mailbox.id: total for mailbox, total in counts}
        for row in self:
            row.held_messages = held.get(row.mailbox_id.id, 0)

    def action_outlook_held(self):
        self.ensure_one()
        return self.mailbox_id.action_outlook_held()


class ResUsers(models.Model):
    _inherit = "res.users"

    outlook_held_messages = fields.Integer("Outlook messages held", compute="_compute_outlook_held_messages")

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["outlook_held_messages"]

    def _compute_outlook_held_messages(self):
        visible = self if self.env.user.has_group("base.group_system") else self & self.env.user
        mailboxes = self.env["outlook.mailbox"].sudo().search([("user_id", "in", visible.ids)])
        by_user = {mailbox.user_id.id: mailbox.held_message_count for mailbox in mailboxes}
        for user in self:
            user.outlook_held_messages = by_user.get(user.id, 0)

    def action_outlook_held(self):
        """Preferences: the user's own held batches."""
        action = self.env["ir.actions.act_window"]._for_xml_id("outlook_calendar_sync.outlook_held_batch_action")
        action["domain"] = [("user_id", "=", self.env.uid)]
        return action


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    outlook_invitation_budget = fields.Integer(
        "Messages per run before asking",
        default=DEFAULT_INVITATION_BUDGET,
        config_parameter=PARAM_INVITATION_BUDGET,
        help="When one sync of a mailbox would make Outlook mail its attendees more invitations, updates and "
        "cancellations than this, those changes wait until the user or an administrator confirms them; "
        "everything else keeps syncing. 0: no limit.",
    )

    @api.constrains("outlook_invitation_budget")
    def _check_outlook_invitation_budget(self):
        if any(settings.outlook_invitation_budget < 0 for settings in self):
            raise ValidationError(_("The number of Outlook messages per run cannot be negative."))
