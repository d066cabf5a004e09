"""Recurring meetings both ways: Graph series masters <-> ``calendar.recurrence`` (graph-reference G).

* Inbound: a series master becomes (or updates the rule of) one ``calendar.recurrence`` per meeting (its
  iCalUId), each mailbox's master is an ``outlook.series.link``; occurrences and exceptions are Odoo
  events of that recurrence (the pull creates them from Graph's instances, inside the sync window only,
  so a series without end is never expanded beyond it).
* Outbound: a recurrence created in Odoo becomes one Graph series (one invitation per attendee, not one
  per occurrence); "all events" edits PATCH the master, "this and following" truncate the master and
  create a new series, deleting all or the following events cancels or truncates the master. The
  occurrences those operations replace in Odoo are detached, never cancelled one by one. "This event"
  edits and single deletions go through the occurrence's own link (an exception PATCH, a cancel).
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from odoo import fields, models

from ..engine import recurrence as rules
from ..engine.errors import MappingError
from ..engine.mapping import fingerprint, snapshot, to_graph
from ..engine.records import occurrence_uid
from ..graph.errors import GraphError, Throttled
from . import compat
from .calendar_event import INBOUND_CONTEXT

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesOp:
    """One series operation of a run: ``kind`` create (``record``: the ``calendar.recurrence``), or patch,
    truncate, cancel (``record``: the ``outlook.series.link`` holding the pending operation)."""

    kind: str
    record: object


class OutlookSeriesLink(models.Model):
    _name = "outlook.series.link"
    _description = "Outlook series master of an Odoo recurrence, per mailbox"
    _order = "id"

    mailbox_id = fields.Many2one("outlook.mailbox", required=True, index=True, ondelete="cascade")
    recurrence_id = fields.Many2one("calendar.recurrence", index=True, ondelete="set null")
    graph_id = fields.Char("Outlook Series ID", required=True, copy=False)
    ical_uid = fields.Char("Series iCalUId", copy=False)
    change_key = fields.Char(copy=False)
    is_organizer_copy = fields.Boolean(copy=False)
    synced_rule = fields.Json(copy=False, help="The Odoo rule values as last synced")
    synced_data = fields.Json(copy=False, help="The first occurrence's values as last synced")
    pending = fields.Selection(
        [
            ("none", "Nothing"),
            ("patch", "Update the series"),
            ("truncate", "End the series earlier"),
            ("cancel", "Cancel the series"),
        ],
        default="none",
        required=True,
        copy=False,
        help="A series operation made in Odoo, sent to Outlook at the next run",
    )
    truncate_before = fields.Datetime(copy=False, help="Start of the first occurrence to remove (truncate)")
    state = fields.Selection([("synced", "Synced"), ("error", "Error")], default="synced", required=True)
    last_error = fields.Text(copy=False)

    _graph_uniq = compat.Constraint("UNIQUE(mailbox_id, graph_id)", "This Outlook series is already linked.")


class CalendarRecurrence(models.Model):
    _inherit = "calendar.recurrence"

    outlook_ical_uid = fields.Char("Outlook iCalUId", index="btree_not_null", copy=False)
    outlook_series_link_ids = fields.One2many("outlook.series.link", "recurrence_id", copy=False)

    def _outlook_rule_values(self):
        """The rule as the engine reads it (Odoo's "forever" sentinel count read back as forever)."""
        self.ensure_one()
        return rules.normalized({field: self[field] for field in rules.RULE_FIELDS})


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    # ------------------------------------------------------------
    # Series operations made in Odoo: one Graph operation, no cascade of cancellations
    # ------------------------------------------------------------

    def _outlook_series_links(self):
        return self.recurrence_id.sudo().outlook_series_link_ids.filtered("is_organizer_copy")

    def _outlook_absorb(self, events):
        """These occurrences are replaced by a series operation: detach their copies silently."""
        events.sudo().with_context(active_test=False).outlook_link_ids.filtered(
            lambda link: link.is_organizer_copy and link.state != "detached"
        ).write({"state": "detached", "last_error": "replaced by a change of the whole series"})

    def _rewrite_recurrence(self, values, time_values, recurrence_values):
        """ "All events": Odoo rebuilds the recurrence around its base event; Outlook gets one PATCH of
        the series master."""
        series = self._outlook_series_links()
        base_event = self.recurrence_id.base_event_id or self.recurrence_id._get_first_event(include_outliers=False)
        if series:
            self._outlook_absorb(self.recurrence_id.calendar_event_ids)
        result = super()._rewrite_recurrence(values, time_values, recurrence_values)
        if series and base_event.recurrence_id:
            series.write({"recurrence_id": base_event.recurrence_id.id, "pending": "patch"})
            self._outlook_trigger_push(self)
        return result

    def _update_future_events(self, values, time_values, recurrence_values):
        """ "This and following": the series ends before this event, a new series starts with it."""
        series = self._outlook_series_links()
        if series:
            self._outlook_absorb(self.recurrence_id._get_events_from(self.start))
            series.write({"pending": "truncate", "truncate_before": self.start})
        result = super()._update_future_events(values, time_values, recurrence_values)
        if series:
            self._outlook_trigger_push(self)
        return result

    def action_mass_archive(self, recurrence_update_setting):
        """Deleting "all events" cancels the series; "following events" ends it before this one."""
        series = self._outlook_series_links() if recurrence_update_setting != "self_only" else None
        if series:
            if recurrence_update_setting == "all_events":
                self._outlook_absorb(self.recurrence_id.calendar_event_ids)
                series.write({"pending": "cancel"})
            else:
                self._outlook_absorb(self.recurrence_id._get_events_from(self.start))
                series.write({"pending": "truncate", "truncate_before": self.start})
        result = super().action_mass_archive(recurrence_update_setting)
        if series:
            self._outlook_trigger_push(self)
        return result

    def action_mass_deletion(self, recurrence_update_setting):
        series = self._outlook_series_links()
        if series:
            if recurrence_update_setting == "all_events":
                self._outlook_absorb(self.recurrence_id.calendar_event_ids)
                series.write({"pending": "cancel"})
            elif recurrence_update_setting == "future_events":
                self._outlook_absorb(self.recurrence_id._get_events_from(self.start))
                series.write({"pending": "truncate", "truncate_before": self.start})
        return super().action_mass_deletion(recurrence_update_setting)


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    # ------------------------------------------------------------
    # Inbound: series masters
    # ------------------------------------------------------------

    def _outlook_apply_series(self, items, run):
        """Create or update the recurrence of each series master of the page.

        :return: ``{master graph id: calendar.recurrence id}`` for every series the page's occurrences
            belong to (known before or created now)
        """
        links_sudo = self.env["outlook.series.link"].sudo()
        master_ids = {item.graph_id for item in items if item.kind == "seriesMaster"}
        master_ids |= {item.series_master_id for item in items if item.series_master_id}
        known = {
            link.graph_id: link
            for link in links_sudo.search([("mailbox_id", "=", self.id), ("graph_id", "in", list(master_ids))])
        }
        for item in items:
            if item.kind != "seriesMaster":
                continue
            if item.removed:
                known.pop(item.graph_id, links_sudo).unlink()
            elif not item.error:
                known[item.graph_id] = self._outlook_apply_master(item, known.get(item.graph_id), run)
        return {graph_id: link.recurrence_id.id for graph_id, link in known.items() if link.recurrence_id}

    def _outlook_apply_master(self, item, link, run):
        try:
            rule = rules.to_odoo(item.payload.get("recurrence"))
        except MappingError as exc:
            _logger.warning("outlook: mailbox %s: series %s: %s", self.id, item.graph_id, exc)
            run.stats["pull_error"] += 1
            return link or self.env["outlook.series.link"].sudo()
        recurrences_sudo = self.env["calendar.recurrence"].sudo()
        recurrence = (
            link.recurrence_id
            if link
            else recurrences_sudo.search([("outlook_ical_uid", "=", item.ical_uid)], limit=1)
            if item.ical_uid
            else recurrences_sudo
        )
        rule["event_tz"] = rule["event_tz"] or (item.data.timezone if item.data else False)
        others_organize = recurrence and recurrence.outlook_series_link_ids.filtered(
            lambda other: other.is_organizer_copy and other != link
        )
        if not recurrence:
            recurrence = recurrences_sudo.create(dict(rule, outlook_ical_uid=item.ical_uid or False))
        elif (item.is_organizer or not others_organize) and not rules.same_rule(
            recurrence._outlook_rule_values(), rule
        ):
            recurrence.with_context(**INBOUND_CONTEXT).write(rule)
        values = {
            "recurrence_id": recurrence.id,
            "change_key": item.change_key,
            "ical_uid": item.ical_uid,
            "is_organizer_copy": item.is_organizer,
            "synced_rule": _plain_rule(rule),
            "state": "synced",
            "last_error": False,
        }
        if item.data:
            values["synced_data"] = snapshot(item.data)
        if link:
            link.write(values)
            return link
        return self.env["outlook.series.link"].sudo().create(dict(values, mailbox_id=self.id, graph_id=item.graph_id))

    # ------------------------------------------------------------
    # Outbound: series created or changed in Odoo
    # ------------------------------------------------------------

    def _outlook_plan_series(self, now, policy):
        """This run's series operations: the pending ones (patch, truncate, cancel on an ``outlook.series.link``),
        then the new recurrences of the owner to create (on a ``calendar.recurrence``)."""
        links_sudo = self.env["outlook.series.link"].sudo()
        pending = links_sudo.search([("mailbox_id", "=", self.id), ("pending", "!=", "none")])
        ops = [
            SeriesOp("cancel" if link.pending == "cancel" or not link.recurrence_id else link.pending, link)
            for link in pending
        ]
        return ops + [SeriesOp("create", recurrence) for recurrence in self._outlook_new_recurrences(now, policy)]

    def _outlook_push_series(self, run, ops):
        """New recurrences of the owner become Graph series; pending series operations are sent."""
        for op in ops:
            record = op.record
            if op.kind == "create":
                self._outlook_series_guarded(run, record, lambda r=record: self._outlook_create_series(run, r))
            else:
                self._outlook_series_guarded(run, record, lambda r=record: self._outlook_series_operation(run, r))

    def _outlook_series_guarded(self, run, record, operation):
        try:
            with self.env.cr.savepoint():
                operation()
        except Throttled:
            raise
        except (GraphError, MappingError) as exc:
            _logger.warning("outlook: mailbox %s series %s: %s", self.id, record, exc)
            run.stats["push_error"] += 1
            if record._name == "outlook.series.link":
                record.write({"state": "error", "last_error": str(exc), "pending": "none"})
        run.commit()

    def _outlook_new_recurrences(self, now, policy):
        """The owner's Odoo recurrences with no series in this mailbox, still to come, created since the
        connection (or the admin opted in)."""
        events = (
            self.env["calendar.event"]
            .sudo()
            .search(
                [
                    ("recurrency", "=", True),
                    ("recurrence_id", "!=", False),
                    ("user_id", "=", self.user_id.id),
                    ("outlook_dirty", "=", True),
                    ("stop", ">", now),
                ]
            )
        )
        recurrences = events.recurrence_id.filtered(
            lambda r: not r.outlook_series_link_ids.filtered(lambda link: link.mailbox_id == self)
        )
        if not policy.push_existing and self.first_connected_at:
            recurrences = recurrences.filtered(lambda r: r.create_date >= self.first_connected_at)
        return recurrences

    def _outlook_series_body(self, recurrence, policy):
        """The Graph body of a series: the first occurrence's values (as the policy shows them) and the rule."""
        base = recurrence.base_event_id or recurrence._get_first_event()
        data = policy.outbound_view(base._outlook_event_data()[base.id], base.outlook_send_invitations)
        tz_name = recurrence.event_tz or data.timezone
        first_day = base.start_date if base.allday else base.start.date()
        body = to_graph(data)
        body["recurrence"] = rules.to_graph(recurrence._outlook_rule_values(), first_day, tz_name)
        return base, data, body

    def _outlook_create_series(self, run, recurrence):
        base, data, body = self._outlook_series_body(recurrence, run.policy)
        stamp = f"{self._outlook_transaction_prefix()}r{recurrence.id}"
        created = run.client.create_event(body, stamp, stamp)
        run.stats["push_create"] += 1
        recurrence.write({"outlook_ical_uid": created.get("iCalUId") or False})
        link = (
            self.env["outlook.series.link"]
            .sudo()
            .create(
                {
                    "mailbox_id": self.id,
                    "recurrence_id": recurrence.id,
                    "graph_id": created["id"],
                    "ical_uid": created.get("iCalUId"),
                    "change_key": created.get("changeKey"),
                    "is_organizer_copy": True,
                    "synced_rule": _plain_rule(recurrence._outlook_rule_values()),
                    "synced_data": snapshot(data),
                }
            )
        )
        self._outlook_link_instances(run, link)

    def _outlook_series_operation(self, run, link):
        client = run.client
        if link.pending == "cancel" or not link.recurrence_id:
            data = link.synced_data
            (client.cancel_event if data and data.get("attendees") else client.delete_event)(link.graph_id)
            run.stats["push_cancel"] += 1
            link.unlink()
            return
        if link.pending == "truncate":
            self._outlook_truncate_series(run, link)
            return
        base, data, body = self._outlook_series_body(link.recurrence_id, run.policy)
        updated = client.update_event(link.graph_id, body)
        run.stats["push_patch"] += 1
        link.write(
            {
                "change_key": updated.get("changeKey"),
                "pending": "none",
                "synced_data": snapshot(data),
                "synced_rule": _plain_rule(link.recurrence_id._outlook_rule_values()),
            }
        )
        self._outlook_link_instances(run, link)

    def _outlook_truncate_series(self, run, link):
        """End the Graph series on the day before ``truncate_before`` (the occurrences after it go)."""
        recurrence = link.recurrence_id
        last = recurrence.calendar_event_ids.filtered(lambda e: e.start < link.truncate_before).sorted("start")[-1:]
        if not last:
            link.write({"pending": "cancel"})
            self._outlook_series_operation(run, link)
            return
        rule = dict(
            recurrence._outlook_rule_values(),
            end_type="end_date",
            until=(last.start_date if last.allday else last.start.date()),
        )
        base = recurrence.base_event_id or recurrence._get_first_event()
        first_day = base.start_date if base.allday else base.start.date()
        updated = run.client.update_event(
            link.graph_id,
            {"recurrence": rules.to_graph(rule, first_day, recurrence.event_tz or base._outlook_timezone())},
        )
        run.stats["push_patch"] += 1
        link.write({"change_key": updated.get("changeKey"), "pending": "none", "synced_rule": _plain_rule(rule)})

    def _outlook_link_instances(self, run, link):
        """Link the recurrence's Odoo events to the series' Graph occurrences (same start), inside the
        sync window; the events they replace were detached by the series operation."""
        recurrence = link.recurrence_id
        start, end = self._outlook_window(run.policy)
        instances = run.client.instances(link.graph_id, start, end)
        events = recurrence.calendar_event_ids.filtered("active")
        by_start = {(e.start_date if e.allday else e.start): e for e in events}
        links_sudo = self.env["outlook.event.link"].sudo()
        existing = links_sudo.search([("mailbox_id", "=", self.id), ("event_id", "in", events.ids)])
        detached = existing.filtered(lambda link: link.state == "detached")
        linked = set((existing - detached).event_id.ids)
        detached.unlink()
        data = events._outlook_event_data()
        values = []
        for instance in instances:
            key = _instance_start(instance)
            event = by_start.get(key)
            if not event or event.id in linked:
                continue
            linked.add(event.id)
            values.append(
                {
                    "event_id": event.id,
                    "mailbox_id": self.id,
                    "graph_id": instance["id"],
                    "change_key": instance.get("changeKey"),
                    "is_organizer_copy": True,
                    "synced_hash": fingerprint(data[event.id]),
                    "synced_data": snapshot(data[event.id]),
                    "remote_hash": "",
                    "state": "synced",
                }
            )
            event.write(
                {
                    "outlook_ical_uid": occurrence_uid(link.ical_uid, _instance_utc(instance))
                    if link.ical_uid
                    else event.outlook_ical_uid,
                    "outlook_dirty": False,
                    "outlook_sync_state": "synced",
                }
            )
        links_sudo.create(values)
        (events - events.filtered(lambda e: e.id in linked)).write({"outlook_dirty": False})


def _instance_start(instance):
    start = instance.get("start") or {}
    text = str(start.get("dateTime") or "")[:19]
    if instance.get("isAllDay"):
        return date.fromisoformat(text[:10])
    return datetime.fromisoformat(text)


def _instance_utc(instance):
    """The occurrence's original start in UTC (the identity :func:`occurrence_uid` is built on)."""
    start = instance.get("originalStart") or (instance.get("start") or {}).get("dateTime")
    if isinstance(start, dict):
        start = start.get("dateTime")
    return datetime.fromisoformat(str(start).replace("Z", "+00:00")[:26]).replace(tzinfo=None)


def _plain_rule(rule):
    return {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in rule.items()}
