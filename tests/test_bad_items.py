"""An Outlook item Odoo cannot read or store never stops its mailbox: it is one copy in error, read again with
growing waits, and everything else keeps syncing both ways."""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.models.outlook_pull import RETRY_FIRST_WAIT, RETRY_MAX_WAIT, retry_wait

from .common import ANNA, OutlookSyncCase, graph_time

QUIET = ("odoo.addons.outlook_calendar_sync.models.outlook_pull",)
REFUSAL = "Another module refuses this event."  # what a constraint of another module says
READ_ONE = "GET /v1.0/me/events/{id}"


@tagged("post_install", "-at_install")
class TestUnreadableItem(OutlookSyncCase, TransactionCase):
    def failed_links(self):
        return self.env["outlook.event.link"].search(
            [("mailbox_id", "=", self.mailbox_anna.id), ("state", "=", "error")]
        )

    def links_of(self, graph_id):
        return self.env["outlook.event.link"].search(
            [("mailbox_id", "=", self.mailbox_anna.id), ("graph_id", "=", graph_id)]
        )

    def year_one_item(self):
        """An all-day event in year 1 (as delta lists it when its store says otherwise): the mapping refuses it."""
        item = self.outlook_meeting(ANNA, "Year one")
        return self.emulator.outlook.corrupt_event(
            ANNA,
            item["id"],
            {
                "isAllDay": True,
                "start": {"dateTime": "1-01-01T00:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "1-01-02T00:00:00.0000000", "timeZone": "UTC"},
            },
        )

    def unknown_zone_item(self):
        """A timed event whose time zone name nobody knows (as a third-party client can write it)."""
        item = self.outlook_meeting(ANNA, "Unknown zone")
        start = self.tomorrow_at(14)
        return self.emulator.outlook.corrupt_event(
            ANNA,
            item["id"],
            {"start": graph_time(start, "Mars/Olympus Mons"), "end": graph_time(start, "Mars/Olympus Mons")},
        )

    def wait_is_over(self):
        self.failed_links().write({"next_retry_at": fields.Datetime.now() - timedelta(seconds=1)})

    def reads(self):
        return self.emulator.counters()["requests"].get(READ_ONE, 0)

    def assert_both_ways(self, label):
        """A new Outlook meeting comes in and an Odoo edit goes out, in the same run."""
        incoming = self.outlook_meeting(ANNA, f"Incoming {label}", start=self.tomorrow_at(8))
        outgoing = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create({"name": f"Outgoing {label}", "start": self.tomorrow_at(16), "stop": self.tomorrow_at(17)})
        )
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertNotIn("Unexpected error", self.mailbox_anna.last_error or "")
        self.event_of(incoming["iCalUId"])
        self.assertIn(f"Outgoing {label}", [item.get("subject") for item in self.emulator.outlook.list_events(ANNA)])
        outgoing.write({"name": f"Outgoing {label} renamed"})
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertIn(
            f"Outgoing {label} renamed", [item.get("subject") for item in self.emulator.outlook.list_events(ANNA)]
        )

    @mute_logger(*QUIET)
    def test_bad_items_are_one_failed_copy_each_read_again_with_growing_waits(self):
        good = self.outlook_meeting(ANNA, "Good one")
        bad = [self.year_one_item(), self.unknown_zone_item()]
        self.sync(self.mailbox_anna, expect_error=True)
        self.event_of(good["iCalUId"])
        for item in bad:
            link = self.links_of(item["id"])
            self.assertEqual(len(link), 1)
            self.assertEqual((link.state, link.failed_reads, bool(link.event_id)), ("error", 1, False))
            self.assertIn("could not be read", link.last_error)
            self.assertGreater(link.next_retry_at, fields.Datetime.now())
        self.assertIn("2 Outlook item(s)", self.mailbox_anna.last_error)

        # runs before the wait is over do not read them, and the rest goes on both ways
        self.emulator.reset_counters()
        self.assert_both_ways("first")
        self.assertEqual(self.reads(), 0, "read again only after their wait")
        for failures in (2, 3, 4):
            self.wait_is_over()
            self.emulator.reset_counters()
            before = fields.Datetime.now()
            self.sync(self.mailbox_anna, expect_error=True)
            self.assertEqual(self.reads(), 2)
            for item in bad:
                link = self.links_of(item["id"])
                self.assertEqual(len(link), 1, "still exactly one copy")
                self.assertEqual((link.state, link.failed_reads), ("error", failures))
                self.assertGreaterEqual(link.next_retry_at, before + retry_wait(failures) - timedelta(seconds=1))
        self.assert_both_ways("later")
        # the item the user fixes in Outlook is imported at once (delta lists it), its failed copy makes room
        fixed = self.emulator.outlook.corrupt_event(ANNA, bad[1]["id"], {})
        self.sync(self.mailbox_anna, expect_error=True)
        event = self.event_of(fixed["iCalUId"])
        link = self.links_of(bad[1]["id"])
        self.assertEqual((len(link), link.state, link.event_id, link.failed_reads), (1, "synced", event, 0))
        self.assertFalse(link.next_retry_at)
        self.assertEqual(self.failed_links().mapped("graph_id"), [bad[0]["id"]])
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    @mute_logger(*QUIET)
    def test_one_bad_item_never_stops_the_mailbox(self):
        bad = self.unknown_zone_item()
        for run in range(3):
            self.env["outlook.event.link"].search([("state", "=", "error")]).write({"last_error": "seen"})
            self.assert_both_ways(f"run {run}")
            self.assertEqual(len(self.links_of(bad["id"])), 1, "one copy in error, never a second one")

    @mute_logger(*QUIET)
    def test_an_occurrence_pointing_at_a_malformed_series_id_does_not_stop_the_mailbox(self):
        """Found by the generated tests: a bare occurrence whose seriesMasterId Graph calls malformed (400)."""
        item = self.outlook_meeting(ANNA, "Orphan")
        self.emulator.outlook.corrupt_event(
            ANNA, item["id"], {"type": "occurrence", "seriesMasterId": "AAMk-not-an-id"}, drop=["subject"]
        )
        self.assert_both_ways("orphan")

    @mute_logger(*QUIET)
    def test_a_failed_copy_deleted_in_outlook_is_forgotten(self):
        bad = self.year_one_item()
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertEqual(len(self.links_of(bad["id"])), 1)
        self.emulator.outlook.delete_event(ANNA, bad["id"])
        self.wait_is_over()
        self.sync(self.mailbox_anna)
        self.assertFalse(self.links_of(bad["id"]))
        self.assertFalse(self.mailbox_anna.last_error)

    def test_the_wait_doubles_up_to_a_cap(self):
        self.assertEqual(retry_wait(1), RETRY_FIRST_WAIT)
        self.assertEqual(retry_wait(2), 2 * RETRY_FIRST_WAIT)
        self.assertEqual(retry_wait(4), 8 * RETRY_FIRST_WAIT)
        self.assertEqual(retry_wait(60), RETRY_MAX_WAIT)
        self.assertEqual(retry_wait(10**6), RETRY_MAX_WAIT)


@tagged("post_install", "-at_install")
class TestUnstorableValues(OutlookSyncCase, TransactionCase):
    def hostile(self, subject, properties, start_hour=9):
        item = self.outlook_meeting(ANNA, subject, start=self.tomorrow_at(start_hour))
        return self.emulator.outlook.corrupt_event(ANNA, item["id"], properties)

    def last_log(self):
        return self.env["outlook.sync.log"].search(
            [("mailbox_id", "=", self.mailbox_anna.id), ("kind", "=", "run")], limit=1, order="id desc"
        )

    @mute_logger(*QUIET)
    def test_page_keeps_what_odoo_can_store_and_counts_what_it_wrote(self):
        good = [self.outlook_meeting(ANNA, f"Good {n}", start=self.tomorrow_at(8 + n)) for n in range(3)]
        nul = self.hostile(
            "NUL",
            {"subject": "Budget\u0000 review", "body": {"contentType": "text", "content": "line\u0000one"}},
        )
        reminders = [
            self.hostile("Huge reminder", {"isReminderOn": True, "reminderMinutesBeforeStart": 10**30}),
            self.hostile("Negative reminder", {"isReminderOn": True, "reminderMinutesBeforeStart": -5}),
        ]
        overflows = [
            self.hostile(
                "Ends at the end of time in Honolulu",
                {
                    "start": {"dateTime": "9999-12-31T22:00:00.0000000", "timeZone": "Hawaiian Standard Time"},
                    "end": {"dateTime": "9999-12-31T23:00:00.0000000", "timeZone": "Hawaiian Standard Time"},
                },
            ),
            self.hostile(
                "Starts at the beginning of time in Tokyo",
                {
                    "start": {"dateTime": "0001-01-01T00:00:00.0000000", "timeZone": "Tokyo Standard Time"},
                    "end": {"dateTime": "0001-01-01T01:00:00.0000000", "timeZone": "Tokyo Standard Time"},
                },
            ),
        ]
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertNotIn("Unexpected error", self.mailbox_anna.last_error)
        for item in good + reminders:
            self.event_of(item["iCalUId"])
        self.assertEqual(self.event_of(nul["iCalUId"]).name, "Budget review")
        self.assertIn("lineone", str(self.event_of(nul["iCalUId"]).description))
        self.assertFalse(self.event_of(reminders[0]["iCalUId"]).alarm_ids, "an impossible reminder is none")
        self.assertFalse(self.event_of(reminders[1]["iCalUId"]).alarm_ids)
        for item in overflows:
            link = self.env["outlook.event.link"].search(
                [("mailbox_id", "=", self.mailbox_anna.id), ("graph_id", "=", item["id"])]
            )
            self.assertEqual((len(link), link.state), (1, "error"))
            self.assertIn("outside the dates Outlook supports", link.last_error)
            self.assertFalse(self.env["calendar.event"].search([("name", "=", item["subject"])]))
        log = self.last_log()
        created = self.env["calendar.event"].search_count([("outlook_ical_uid", "!=", False)])
        self.assertEqual((log.created_in, log.errors, created), (6, 2, 6))

    @mute_logger(*QUIET, "odoo.sql_db")
    def test_an_item_odoo_refuses_fails_alone_and_the_page_is_kept(self):
        """Whatever the mapping lets through and Odoo still refuses (here a constraint of another module, for
        one subject) fails that item only: the page is applied again in halves."""
        good = [self.outlook_meeting(ANNA, f"Kept {n}", start=self.tomorrow_at(8 + n)) for n in range(5)]
        refused = self.outlook_meeting(ANNA, "Refused by a constraint", start=self.tomorrow_at(15))
        events_class = type(self.env["calendar.event"])
        original_create = events_class.create

        def create(records, vals_list):
            vals_list = vals_list if isinstance(vals_list, list) else [vals_list]
            if any(vals.get("name") == "Refused by a constraint" for vals in vals_list):
                raise ValidationError(REFUSAL)
            return original_create(records, vals_list)

        with patch.object(events_class, "create", create):
            self.sync(self.mailbox_anna, expect_error=True)
        for item in good:
            self.event_of(item["iCalUId"])
        link = self.env["outlook.event.link"].search(
            [("mailbox_id", "=", self.mailbox_anna.id), ("graph_id", "=", refused["id"])]
        )
        self.assertEqual((len(link), link.state), (1, "error"))
        self.assertIn("could not be saved in Odoo: Another module refuses this event.", link.last_error)
        log = self.last_log()
        self.assertEqual((log.created_in, log.errors), (5, 1))
        # once the constraint is gone and the wait is over, the item comes in
        link.next_retry_at = fields.Datetime.now() - timedelta(seconds=1)
        self.sync(self.mailbox_anna)
        self.event_of(refused["iCalUId"])
