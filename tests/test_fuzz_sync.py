"""Generated tests through the emulator (Hypothesis, tens of examples): a page mixing good and hostile Outlook
items keeps every good one and records each bad one once, and the next runs keep syncing both ways; any Odoo
event a user can save is pushed or fails alone with a message, never the run.

``HYPOTHESIS_PROFILE=long`` runs more examples. A failure prints its example and a ``@reproduce_failure`` line.
"""

import logging
import os
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.engine.records import remote_item
from odoo.addons.outlook_calendar_sync.tests_engine import graph_strategies as g

from .common import ANNA, OutlookSyncCase

_logger = logging.getLogger(__name__)
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
INBOUND_EXAMPLES = 200 if LONG else 20  # pages of good and hostile items, each synced three times
OUTBOUND_EXAMPLES = 150 if LONG else 15  # generated Odoo events, each synced twice
QUIET = (
    "odoo.addons.outlook_calendar_sync.models.outlook_pull",
    "odoo.addons.outlook_calendar_sync.models.outlook_push",
    "odoo.addons.outlook_calendar_sync.models.outlook_series",
    "odoo.addons.outlook_calendar_sync.models.outlook_mailbox",
    "odoo.sql_db",
)
SETTINGS = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "derandomize": False,
    "suppress_health_check": list(HealthCheck),
}
EXAMPLES = {"inbound": 0, "outbound": 0}
DROPPABLE = ["subject", "start", "end", "body", "attendees", "organizer", "type", "iCalUId", "isAllDay", "recurrence"]


def hostile_properties():
    """What a hostile item is served with over a real one: any generated fields but its id; now and then an
    occurrence without its master (bare, or with its details), pointing at any series id."""
    orphan = st.tuples(
        st.fixed_dictionaries({"type": st.just("occurrence"), "seriesMasterId": g.identifier}),
        st.sampled_from([["subject"], [], ["subject", "start"]]),
    )
    generated = st.tuples(
        g.hostile_event().map(lambda payload: {k: v for k, v in payload.items() if k != "id"}),
        st.lists(st.sampled_from(DROPPABLE), unique=True, max_size=3),
    )
    return st.one_of(generated, generated, generated, orphan)


odd_name = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(g.RTL_AND_EMOJI),
    st.builds(
        lambda a, c, b: a + c + b, st.text(max_size=5), st.sampled_from(g.SPECIAL_CHARACTERS), st.text(max_size=5)
    ),
    st.just("N" * 100000),
)


@tagged("post_install", "-at_install")
class TestGeneratedSync(OutlookSyncCase, TransactionCase):
    def run_isolated(self, check):
        """Run one example in a savepoint rolled back after it, with empty Outlook calendars after it."""
        savepoint = self.env.cr.savepoint()
        try:
            check()
        finally:
            savepoint.close(rollback=True)
            self.env.invalidate_all()
            for address in (ANNA,):
                for item in self.emulator.outlook.list_events(address):
                    if item.get("type") != "exception":
                        self.emulator.outlook.delete_event(address, item["id"])
            self.emulator.clear_faults()

    def assert_running(self):
        """The mailbox went through its run: connected, no run-level failure."""
        self.mailbox_anna.invalidate_recordset()
        self.assertEqual(self.mailbox_anna.state, "connected")
        error = self.mailbox_anna.last_error or ""
        self.assertFalse(error and not error.split(" ", 1)[0].isdigit(), f"the run failed instead of one item: {error}")

    def assert_both_ways(self, label):
        incoming = self.outlook_meeting(ANNA, f"Incoming {label}", start=self.tomorrow_at(7))
        events = self.env["calendar.event"].with_user(self.user_anna)
        events.create({"name": f"Outgoing {label}", "start": self.tomorrow_at(18), "stop": self.tomorrow_at(19)})
        self.sync(self.mailbox_anna, expect_error=True)
        self.assert_running()
        self.event_of(incoming["iCalUId"])
        subjects = [item.get("subject") for item in self.emulator.outlook.list_events(ANNA)]
        self.assertIn(f"Outgoing {label}", subjects)

    def links_of(self, graph_id):
        return self.env["outlook.event.link"].search(
            [("mailbox_id", "=", self.mailbox_anna.id), ("graph_id", "=", graph_id)]
        )

    @mute_logger(*QUIET)
    def test_pages_of_good_and_hostile_items(self):
        @settings(max_examples=INBOUND_EXAMPLES, **SETTINGS)
        @given(
            good=st.lists(g.plausible_event(around=datetime.now()), min_size=1, max_size=3),
            bad=st.lists(hostile_properties(), min_size=1, max_size=3),
        )
        def example(good, bad):
            EXAMPLES["inbound"] += 1
            self.run_isolated(lambda: self.check_page(good, bad))

        example()
        _logger.info("Odoo-level generated inbound examples: %s", EXAMPLES["inbound"])
        self.assertGreaterEqual(EXAMPLES["inbound"], INBOUND_EXAMPLES, "every generated page was run")

    def check_page(self, good, bad):
        good_items = [self.emulator.outlook.create_event(ANNA, payload) for payload in good]
        bad_items = []
        for n, (properties, drop) in enumerate(bad):
            plain = self.outlook_meeting(ANNA, f"Hostile {n}", start=self.tomorrow_at(10 + n))
            bad_items.append(self.emulator.outlook.corrupt_event(ANNA, plain["id"], properties, drop))
        self.sync(self.mailbox_anna, expect_error=True)
        self.assert_running()
        for item in good_items:
            event = self.event_of(item["iCalUId"])
            self.assertEqual(len(self.links_of(item["id"])), 1)
            self.assertEqual(event.outlook_sync_state, "synced")
        for item in bad_items:
            links = self.links_of(item["id"])
            self.assertLessEqual(len(links), 1, "never two copies of one Outlook item")
            mapped = remote_item(item)
            if mapped.error and mapped.graph_id and mapped.kind not in ("seriesMaster", "occurrence"):
                self.assertEqual((len(links), links.state), (1, "error"), mapped.error)
                self.assertTrue(links.last_error)
        # the next runs go on both ways, and a bad item is still one copy
        self.assert_both_ways("after a hostile page")
        edited = self.event_of(good_items[0]["iCalUId"])
        edited.with_user(self.user_anna).write({"name": "Edited in Odoo"})
        self.sync(self.mailbox_anna, expect_error=True)
        self.assert_running()
        self.assertEqual(self.emulator.outlook.get_event(ANNA, good_items[0]["id"])["subject"], "Edited in Odoo")
        for item in bad_items:
            self.assertLessEqual(len(self.links_of(item["id"])), 1)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    @mute_logger(*QUIET)
    def test_any_event_a_user_can_save_pushes_or_fails_alone(self):
        @settings(max_examples=OUTBOUND_EXAMPLES, **SETTINGS)
        @given(
            name=odd_name,
            description=st.one_of(st.none(), st.text(max_size=50), st.sampled_from(g.RTL_AND_EMOJI)),
            location=st.one_of(st.none(), odd_name),
            start=st.one_of(
                st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
                st.sampled_from(g.EXTREMES[1:-2]),
            ),
            minutes=st.one_of(st.integers(0, 60 * 24 * 3), st.sampled_from([0, 1, 60 * 24 * 400])),
            allday=st.booleans(),
            alarm_minutes=st.one_of(st.none(), st.sampled_from([0, 5, 15, 60 * 24, 60 * 24 * 30])),
            recurrence=st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "rrule_type": st.sampled_from(["daily", "weekly", "monthly", "yearly"]),
                        "interval": st.integers(1, 99),
                        "count": st.integers(1, 5),
                    }
                ),
            ),
            guests=st.lists(g.email_address, max_size=4),
        )
        def example(**values):
            EXAMPLES["outbound"] += 1
            self.run_isolated(lambda: self.check_push(**values))

        example()
        _logger.info("Odoo-level generated outbound examples: %s", EXAMPLES["outbound"])
        self.assertGreaterEqual(EXAMPLES["outbound"], OUTBOUND_EXAMPLES, "every generated event was run")

    def saved_event(self, name, description, location, start, minutes, allday, alarm_minutes, recurrence, guests):
        """The event as the user saves it in Odoo, or ``None`` when Odoo refuses these values."""
        start = start.replace(microsecond=0)
        try:
            stop = start + timedelta(minutes=minutes)
        except OverflowError:
            return None
        partners = self.env["res.partner"]
        for address in guests:
            try:
                with self.env.cr.savepoint():
                    partners |= self.env["res.partner"].create({"name": address[:60] or "guest", "email": address})
            except (ValueError, UserError, ValidationError):
                continue
        values = {
            "name": name,
            "description": description,
            "location": location,
            "allday": allday,
            "partner_ids": [(6, 0, (partners | self.user_anna.partner_id).ids)],
        }
        if allday:
            values.update(start_date=start.date(), stop_date=stop.date())
        else:
            values.update(start=start, stop=stop)
        if alarm_minutes is not None:
            alarm = self.env["calendar.alarm"].create(
                {
                    "name": f"{alarm_minutes} min",
                    "alarm_type": "notification",
                    "duration": alarm_minutes,
                    "interval": "minutes",
                }
            )
            values["alarm_ids"] = [(6, 0, alarm.ids)]
        if recurrence:
            values.update(recurrency=True, end_type="count", **recurrence)
        try:
            with self.env.cr.savepoint():
                event = self.env["calendar.event"].with_user(self.user_anna).create(values)
                self.env.flush_all()
        except (ValueError, OverflowError, UserError, ValidationError):
            return None  # not something a user can save
        return event

    def check_push(self, **values):
        event = self.saved_event(**values)
        control = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create({"name": "Control event", "start": self.tomorrow_at(12), "stop": self.tomorrow_at(13)})
        )
        self.sync(self.mailbox_anna, expect_error=True)
        self.assert_running()
        self.assertIn("Control event", [item.get("subject") for item in self.emulator.outlook.list_events(ANNA)])
        self.assertEqual(control.outlook_sync_state, "synced")
        if event is not None:
            events = (event | event.recurrence_id.calendar_event_ids).exists()
            for one in events:
                pushed = bool(one.outlook_link_ids)
                failed = one.outlook_sync_state == "error" and bool(one.outlook_last_error)
                skipped = one.outlook_sync_state in ("not_synced", "inactive") or not one.outlook_dirty
                self.assertTrue(pushed or failed or skipped, (one.name[:40], one.outlook_sync_state))
        self.assert_both_ways("after a generated push")
        self.assertEqual(self.emulator.counters()["messages_sent"], len(self.emulator.counters()["messages"]))
