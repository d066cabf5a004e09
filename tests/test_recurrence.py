"""Recurring meetings both ways against the emulator: series, occurrences, exceptions, cancellations,
edits of one / following / all events from Odoo, DST, and the messages each operation sends."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from odoo import Command
from odoo.tests import TransactionCase, tagged

from .common import ANNA, BOB, OutlookSyncCase, graph_time


@tagged("post_install", "-at_install")
class TestRecurrence(OutlookSyncCase, TransactionCase):
    def outlook_series(self, address, subject, pattern, rule_range, start=None, attendees=(), tz="UTC"):
        start = start or self.tomorrow_at(10)
        return self.emulator.outlook.create_event(
            address,
            {
                "subject": subject,
                "start": graph_time(start, tz),
                "end": graph_time(start + timedelta(minutes=30), tz),
                "attendees": [{"type": "required", "emailAddress": {"address": a}} for a in attendees],
                "recurrence": {"pattern": pattern, "range": dict(rule_range, startDate=str(start.date()))},
            },
        )

    def events_named(self, name, active_test=True):
        return (
            self.env["calendar.event"]
            .with_context(active_test=active_test)
            .search([("name", "=", name)], order="start")
        )

    def messages(self):
        return self.emulator.counters()["messages_sent"]

    # ------------------------------------------------------------
    # Inbound
    # ------------------------------------------------------------

    def test_series_becomes_one_recurrence_with_exception_and_cancellation(self):
        start = self.tomorrow_at(10)
        weekday = start.strftime("%A").lower()
        series = self.outlook_series(
            ANNA,
            "Weekly 1:1",
            {"type": "weekly", "interval": 1, "daysOfWeek": [weekday]},
            {"type": "numbered", "numberOfOccurrences": 4},
            start=start,
        )
        self.sync(self.mailbox_anna)
        events = self.events_named("Weekly 1:1")
        self.assertEqual(len(events), 4)
        recurrence = events.recurrence_id
        self.assertEqual(len(recurrence), 1)
        self.assertEqual(recurrence.outlook_ical_uid, series["iCalUId"])
        self.assertEqual((recurrence.rrule_type, recurrence.end_type, recurrence.count), ("weekly", "count", 4))
        self.assertTrue(recurrence[start.strftime("%a").lower()[:3]])
        self.assertTrue(all(events.mapped("follow_recurrence")))
        self.assertEqual(recurrence.base_event_id, events[0])

        instances = self.emulator.outlook.instances(
            ANNA, series["id"], start - timedelta(days=1), start + timedelta(weeks=5)
        )
        moved, cancelled = instances[1], instances[2]
        self.emulator.outlook.update_event(
            ANNA,
            moved["id"],
            {
                "start": graph_time(start + timedelta(weeks=1, hours=2)),
                "end": graph_time(start + timedelta(weeks=1, hours=3)),
            },
        )
        self.emulator.outlook.delete_event(ANNA, cancelled["id"])
        self.sync(self.mailbox_anna)
        events = self.events_named("Weekly 1:1")
        self.assertEqual(len(events), 3)
        exception = events.filtered(lambda e: e.start == start + timedelta(weeks=1, hours=2))
        self.assertEqual(len(exception), 1)
        self.assertFalse(exception.follow_recurrence)
        self.assertEqual(exception.recurrence_id, recurrence)
        self.assertEqual(len(self.events_named("Weekly 1:1", active_test=False)), 4, "cancelled: archived")
        self.assertEqual(self.messages(), 0)

    def test_each_pattern_and_range_type_comes_in(self):
        start = self.tomorrow_at(9)
        cases = [
            (
                "Daily",
                {"type": "daily", "interval": 1},
                {"type": "numbered", "numberOfOccurrences": 3},
                {"rrule_type": "daily", "end_type": "count"},
            ),
            (
                "Monthly",
                {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": start.day},
                {"type": "endDate", "endDate": str((start + timedelta(days=70)).date())},
                {"rrule_type": "monthly", "month_by": "date", "end_type": "end_date"},
            ),
            (
                "Relative",
                {
                    "type": "relativeMonthly",
                    "interval": 1,
                    "daysOfWeek": [start.strftime("%A").lower()],
                    "index": "last",
                },
                {"type": "numbered", "numberOfOccurrences": 2},
                {"rrule_type": "monthly", "month_by": "day", "byday": "-1"},
            ),
            (
                "Yearly",
                {"type": "absoluteYearly", "interval": 1, "dayOfMonth": start.day, "month": start.month},
                {"type": "numbered", "numberOfOccurrences": 2},
                {"rrule_type": "yearly"},
            ),
            (
                "Relative yearly",
                {
                    "type": "relativeYearly",
                    "interval": 1,
                    "daysOfWeek": ["monday"],
                    "index": "first",
                    "month": start.month,
                },
                {"type": "numbered", "numberOfOccurrences": 2},
                {"rrule_type": "monthly", "interval": 12, "month_by": "day", "weekday": "MON", "byday": "1"},
            ),
            (
                "Forever",
                {"type": "weekly", "interval": 1, "daysOfWeek": [start.strftime("%A").lower()]},
                {"type": "noEnd"},
                {"rrule_type": "weekly", "end_type": "forever"},
            ),
        ]
        for subject, pattern, rule_range, _expected in cases:
            self.outlook_series(ANNA, subject, pattern, rule_range, start=start)
        self.sync(self.mailbox_anna)
        for subject, _pattern, _range, expected in cases:
            recurrence = self.events_named(subject).recurrence_id
            self.assertEqual(len(recurrence), 1, subject)
            rule = recurrence._outlook_rule_values()
            for key, value in expected.items():
                self.assertEqual(rule[key], value, (subject, key))

    def test_series_without_end_stays_inside_the_window_and_grows_with_it(self):
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.future_days_in", 30)
        self.addCleanup(self.env["ir.config_parameter"].sudo().set_param, "outlook_calendar_sync.future_days_in", False)
        self.outlook_series(ANNA, "Daily stand-up", {"type": "daily", "interval": 1}, {"type": "noEnd"})
        self.sync(self.mailbox_anna)
        count = len(self.events_named("Daily stand-up"))
        self.assertTrue(25 <= count <= 31, count)  # never 720 occurrences
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.future_days_in", 60)
        self.sync(self.mailbox_anna)  # the window moved: a new listing brings the next days in
        self.assertTrue(55 <= len(self.events_named("Daily stand-up")) <= 61)
        self.assertEqual(len(self.events_named("Daily stand-up").recurrence_id), 1)

    def test_series_keeps_its_local_time_across_dst(self):
        paris = ZoneInfo("Europe/Paris")
        year = datetime.now().year + 1
        first = datetime(year, 3, 16, 9, 0)  # a Monday-ish date before the last Sunday of March
        start_local = first
        self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Paris weekly",
                "start": graph_time(start_local, "Europe/Paris"),
                "end": graph_time(start_local + timedelta(hours=1), "Europe/Paris"),
                "recurrence": {
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [first.strftime("%A").lower()]},
                    "range": {
                        "type": "numbered",
                        "numberOfOccurrences": 4,
                        "startDate": str(first.date()),
                        "recurrenceTimeZone": "Romance Standard Time",
                    },
                },
            },
        )
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.future_days_in", 500)
        self.addCleanup(self.env["ir.config_parameter"].sudo().set_param, "outlook_calendar_sync.future_days_in", False)
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.initial_days", 500)
        self.addCleanup(self.env["ir.config_parameter"].sudo().set_param, "outlook_calendar_sync.initial_days", False)
        self.sync(self.mailbox_anna)
        events = self.events_named("Paris weekly")
        self.assertEqual(len(events), 4)
        local_hours = {e.start.replace(tzinfo=ZoneInfo("UTC")).astimezone(paris).hour for e in events}
        self.assertEqual(local_hours, {9}, "9:00 in Paris before and after the clocks change")
        self.assertEqual(len({e.start.hour for e in events}), 2, "so 8:00 UTC, then 7:00 UTC")
        self.assertEqual(events.recurrence_id.event_tz, "Europe/Paris")

    def test_two_attendees_share_the_series(self):
        self.outlook_series(
            ANNA,
            "Team weekly",
            {"type": "daily", "interval": 1},
            {"type": "numbered", "numberOfOccurrences": 3},
            attendees=[BOB],
        )
        self.sync(self.mailbox_anna, self.mailbox_bob)
        events = self.events_named("Team weekly")
        self.assertEqual(len(events), 3)
        self.assertEqual(len(events.recurrence_id), 1)
        self.assertEqual(len(events.sudo().outlook_link_ids), 6)  # one copy per occurrence and mailbox
        self.assertEqual(events.user_id, self.user_anna)

    # ------------------------------------------------------------
    # Outbound
    # ------------------------------------------------------------

    def odoo_series(self, name, count=4, attendees=("client@example.com",)):
        partners = self.env["res.partner"].create([{"name": a.split("@")[0], "email": a} for a in attendees])
        start = self.tomorrow_at(14)
        event = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create(
                {
                    "name": name,
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "partner_ids": [Command.set((self.user_anna.partner_id | partners).ids)],
                    "recurrency": True,
                    "rrule_type": "weekly",
                    "interval": 1,
                    "end_type": "count",
                    "count": count,
                    start.strftime("%a").lower()[:3]: True,
                    "event_tz": "UTC",
                }
            )
        )
        return event.recurrence_id

    def master_of(self, recurrence):
        link = recurrence.sudo().outlook_series_link_ids
        self.assertEqual(len(link), 1)
        return self.emulator.outlook.get_event(ANNA, link.graph_id)

    def test_odoo_series_is_one_invitation_and_links_its_occurrences(self):
        recurrence = self.odoo_series("Odoo weekly")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get("POST /v1.0/me/events"), 1)
        self.assertEqual(self.messages(), 1, "one invitation for the series, not one per occurrence")
        master = self.master_of(recurrence)
        self.assertEqual(master["recurrence"]["pattern"]["type"], "weekly")
        self.assertEqual(master["recurrence"]["range"]["numberOfOccurrences"], 4)
        events = recurrence.calendar_event_ids
        self.assertEqual(len(events.sudo().outlook_link_ids), 4)
        self.assertTrue(all(events.mapped("outlook_ical_uid")))
        # nothing more to send, nothing imported twice
        self.emulator.reset_counters()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.messages(), 0)
        self.assertEqual(len(self.events_named("Odoo weekly")), 4)

    def test_edit_this_event_is_an_exception(self):
        recurrence = self.odoo_series("One of them")
        self.sync(self.mailbox_anna)
        self.emulator.reset_counters()
        second = recurrence.calendar_event_ids.sorted("start")[1]
        second.with_user(self.user_anna).write({"name": "One of them (moved)", "recurrence_update": "self_only"})
        self.sync(self.mailbox_anna)
        copy = self.emulator.outlook.get_event(ANNA, second.sudo().outlook_link_ids.graph_id)
        self.assertEqual(copy["subject"], "One of them (moved)")
        self.assertEqual(copy["type"], "exception")
        self.assertEqual(self.messages(), 1)  # one update, to the one attendee, for that occurrence only

    def test_edit_all_events_patches_the_master(self):
        recurrence = self.odoo_series("All of them")
        self.sync(self.mailbox_anna)
        self.emulator.reset_counters()
        first = recurrence.calendar_event_ids.sorted("start")[0]
        first.with_user(self.user_anna).write({"name": "All of them (renamed)", "recurrence_update": "all_events"})
        self.sync(self.mailbox_anna)
        counters = self.emulator.counters()
        self.assertEqual(counters["requests"].get("PATCH /v1.0/me/events/{id}"), 1)
        self.assertEqual(counters["requests"].get("POST /v1.0/me/events/{id}/cancel", 0), 0)
        self.assertEqual(self.messages(), 1, "one update of the series, no cancellations")
        events = self.events_named("All of them (renamed)")
        self.assertEqual(len(events), 4)
        self.assertEqual(self.master_of(events.recurrence_id)["subject"], "All of them (renamed)")
        self.assertEqual(len(events.sudo().outlook_link_ids), 4, "the new occurrences are linked again")

    def test_edit_this_and_following_splits_the_series(self):
        recurrence = self.odoo_series("Split me")
        self.sync(self.mailbox_anna)
        self.emulator.reset_counters()
        third = recurrence.calendar_event_ids.sorted("start")[2]
        third.with_user(self.user_anna).write({"name": "Split me (later)", "recurrence_update": "future_events"})
        self.sync(self.mailbox_anna)
        old_master = self.master_of(recurrence)
        self.assertEqual(old_master["recurrence"]["range"]["type"], "endDate")
        new = self.events_named("Split me (later)")
        self.assertEqual(len(new), 2)
        self.assertEqual(self.master_of(new.recurrence_id)["subject"], "Split me (later)")
        self.assertEqual(self.emulator.counters()["requests"].get("POST /v1.0/me/events/{id}/cancel", 0), 0)
        self.assertEqual(self.messages(), 2, "the old series ends (one update), the new one is invited once")

    def test_delete_one_or_all_from_odoo(self):
        recurrence = self.odoo_series("Delete us")
        self.sync(self.mailbox_anna)
        self.emulator.reset_counters()
        second = recurrence.calendar_event_ids.sorted("start")[1]
        second.with_user(self.user_anna).action_mass_archive("self_only")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get("POST /v1.0/me/events/{id}/cancel"), 1)
        self.assertEqual(self.messages(), 1, "that occurrence only")
        self.emulator.reset_counters()
        first = recurrence.calendar_event_ids.filtered("active").sorted("start")[0]
        first.with_user(self.user_anna).action_mass_archive("all_events")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get("POST /v1.0/me/events/{id}/cancel"), 1)
        self.assertEqual(self.messages(), 1, "one cancellation of the whole series")
        self.assertFalse([e for e in self.emulator.outlook.list_events(ANNA) if e["subject"] == "Delete us"])

    def test_attendee_copy_never_rewrites_the_organizers_series(self):
        recurrence = self.odoo_series("Anna's series", attendees=[BOB])
        self.sync(self.mailbox_anna, self.mailbox_bob)
        self.emulator.reset_counters()
        self.assertEqual(len(self.events_named("Anna's series")), 4)
        self.assertEqual(
            self.env["calendar.recurrence"].search_count([("outlook_ical_uid", "=", recurrence.outlook_ical_uid)]), 1
        )
        # Bob's sync pushes nothing of Anna's series and keeps one recurrence
        self.sync(self.mailbox_bob)
        counters = self.emulator.counters()
        self.assertEqual(counters["requests"].get("PATCH /v1.0/me/events/{id}", 0), 0)
        self.assertEqual(self.messages(), 0)
