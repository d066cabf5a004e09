"""The fault matrix: each fault on the way, then both calendars equal, no duplicate, no unintended mail."""

from datetime import timedelta
from unittest.mock import patch

import psycopg2.errors

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.models.outlook_mailbox import LOCK_NAMESPACE

from .common import ANNA, OutlookSyncCase

DELTA = r"calendarView/delta"
QUIET = ("odoo.addons.outlook_calendar_sync.models.outlook_mailbox", "urllib3.connectionpool")


@tagged("post_install", "-at_install")
class TestFaultMatrix(OutlookSyncCase, TransactionCase):
    def setUp(self):
        super().setUp()
        self.emulator.configure(delta_max_page_size=2)  # several pages for a handful of events
        self.addCleanup(self.emulator.configure, delta_max_page_size=1000)
        self.items = [
            self.outlook_meeting(
                ANNA,
                f"Meeting {n}",
                attendees=[f"guest{n}@example.com"],
                start=self.tomorrow_at(8) + timedelta(hours=n),
            )
            for n in range(5)
        ]

    def assert_converged(self):
        """Outlook and Odoo hold the same meetings, each exactly once, and nobody was mailed."""
        outlook = {item["iCalUId"] for item in self.emulator.outlook.list_events(ANNA)}
        events = self.env["calendar.event"].search([("outlook_ical_uid", "in", list(outlook))])
        self.assertEqual(set(events.mapped("outlook_ical_uid")), outlook)
        self.assertEqual(len(events), len(outlook), "no duplicate")
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    @mute_logger(*QUIET)
    def test_short_throttling_is_waited_out(self):
        self.emulator.inject_fault("status", path=DELTA, status=429, retry_after=1, count=2)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["status"].get("429"), 2)
        self.assert_converged()

    @mute_logger(*QUIET)
    def test_long_throttling_parks_the_mailbox_and_resumes_from_its_checkpoint(self):
        self.emulator.inject_fault("status", path=DELTA, status=429, retry_after=3600, count=1)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertTrue(self.mailbox_anna.throttled_until)
        self.assertIn("asked to wait", self.mailbox_anna.last_error)
        cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")
        self.mailbox_anna.sudo().last_attempt_at = fields.Datetime.now() - timedelta(hours=1)
        attempt = self.mailbox_anna.last_attempt_at
        cron.method_direct_trigger()
        self.assertEqual(self.mailbox_anna.last_attempt_at, attempt, "parked: not claimed")
        self.mailbox_anna.sudo().throttled_until = fields.Datetime.now() - timedelta(seconds=1)
        self.sync(self.mailbox_anna)
        self.assertFalse(self.mailbox_anna.throttled_until)
        self.assert_converged()

    @mute_logger(*QUIET)
    def test_throttled_in_the_middle_keeps_the_pages_already_applied(self):
        # the first page goes through, the second one is refused for an hour
        calls = {"n": 0}
        original = type(self.mailbox_anna)._outlook_apply_page

        def apply_then_throttle(mailbox, payloads, run):
            calls["n"] += 1
            if calls["n"] == 2:
                self.emulator.inject_fault("status", path=DELTA, status=429, retry_after=3600, count=1)
            return original(mailbox, payloads, run)

        with patch.object(type(self.mailbox_anna), "_outlook_apply_page", apply_then_throttle):
            self.sync(self.mailbox_anna, expect_error=True)
        imported = self.env["calendar.event"].search_count([("name", "like", "Meeting ")])
        self.assertTrue(0 < imported < 5, imported)
        self.mailbox_anna.sudo().throttled_until = False
        self.emulator.reset_counters()
        self.sync(self.mailbox_anna)
        self.assertLess(
            self.emulator.counters()["requests"].get("GET /v1.0/me/calendarView/delta", 0),
            4,
            "resumed from the checkpoint, not from the first page",
        )
        self.assert_converged()

    @mute_logger(*QUIET)
    def test_server_errors_latency_and_dropped_connections(self):
        self.emulator.inject_fault("status", path=DELTA, status=503, count=1)
        self.emulator.inject_fault("drop", path=DELTA, count=1)
        self.emulator.inject_fault("latency", path=DELTA, delay=35, count=1)  # beyond the 30 s time-out
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["faults_fired"], 3)
        self.assert_converged()

    @mute_logger(*QUIET)
    def test_malformed_page_is_an_error_then_converges(self):
        self.emulator.inject_fault("malformed", path=DELTA, count=1)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertTrue(self.mailbox_anna.last_error)
        self.sync(self.mailbox_anna)
        self.assert_converged()

    def test_expired_delta_token_resyncs_without_duplicates(self):
        self.sync(self.mailbox_anna)
        self.emulator.expire_delta_tokens(ANNA)
        self.outlook_meeting(ANNA, "After expiry")
        self.sync(self.mailbox_anna)
        self.assert_converged()

    @mute_logger(*QUIET)
    def test_crash_in_the_middle_of_a_page(self):
        calls = {"n": 0}
        original = type(self.mailbox_anna)._outlook_apply_decisions

        def crash_on_second_page(mailbox, decisions, run):
            calls["n"] += 1
            original(mailbox, decisions, run)
            if calls["n"] == 2:
                raise RuntimeError("worker killed")

        with patch.object(type(self.mailbox_anna), "_outlook_apply_decisions", crash_on_second_page):
            self.sync(self.mailbox_anna, expect_error=True)
        self.assertIn("worker killed", self.mailbox_anna.last_error)
        self.sync(self.mailbox_anna)
        self.assert_converged()

    @mute_logger(*QUIET)
    def test_crash_between_graph_create_and_commit(self):
        start = self.tomorrow_at(18)
        event = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create({"name": "Created then crashed", "start": start, "stop": start + timedelta(hours=1)})
        )
        with patch.object(type(self.mailbox_anna), "_outlook_bind", side_effect=RuntimeError("worker killed")):
            self.sync(self.mailbox_anna, expect_error=True)
        self.assertFalse(event.sudo().outlook_link_ids)
        self.sync(self.mailbox_anna)
        copies = [e for e in self.emulator.outlook.list_events(ANNA) if e["subject"] == "Created then crashed"]
        self.assertEqual(len(copies), 1, "found again by its stamp, not created twice")
        self.assertEqual(len(event.sudo().outlook_link_ids), 1)
        self.assert_converged()

    def test_two_workers_never_sync_one_mailbox_at_once(self):
        started_at = fields.Datetime.now() + timedelta(minutes=1)
        with self.env.registry.cursor() as other_worker:
            other_worker.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, self.mailbox_anna.id])
            self.assertTrue(other_worker.fetchone()[0])
            claimed = self.env["outlook.mailbox"]._outlook_claim_next(started_at)
            self.assertNotEqual(claimed, self.mailbox_anna, "held by the other worker")
            claimed._outlook_release()
            other_worker.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, self.mailbox_anna.id])
        claimed = self.env["outlook.mailbox"]._outlook_claim_next(started_at)
        self.assertTrue(claimed)
        claimed._outlook_release()

    def test_page_refused_for_a_concurrent_write_is_read_again(self):
        """Two workers creating the same tag: PostgreSQL refuses the second one's page (unique
        violation, serialization failure). The page is rolled back and applied again, nothing is lost
        or doubled, and the mailbox does not show an error."""
        self.outlook_meeting(ANNA, "Raced meeting")
        original = type(self.mailbox_anna)._outlook_apply_decisions
        calls = []

        def refused_once(mailbox, decisions, run):
            calls.append(len(decisions))
            original(mailbox, decisions, run)
            if len(calls) == 1:
                self.env.flush_all()
                raise psycopg2.errors.UniqueViolation("duplicate key value violates calendar_event_type_name_uniq")

        with patch.object(type(self.mailbox_anna), "_outlook_apply_decisions", refused_once):
            self.sync(self.mailbox_anna)
        self.assertEqual(calls[:2], [calls[0]] * 2, f"the page was applied a second time: {calls}")
        self.assertTrue(calls[0])
        self.assertEqual(self.env["calendar.event"].search_count([("name", "=", "Raced meeting")]), 1)
        self.assertEqual(len(self.mailbox_anna.link_ids.filtered("event_id")), len(self.items) + 1)
        self.assert_converged()

    def test_claim_survives_a_mailbox_updated_by_another_worker(self):
        """Workers claim under REPEATABLE READ: a due mailbox another worker updated after this worker's
        snapshot makes ``FOR UPDATE`` fail to serialize. The claim starts again on a fresh snapshot."""
        admin = self.env.ref("base.user_admin")
        with self.env.registry.cursor() as setup:
            setup.execute("SELECT 1 FROM outlook_mailbox WHERE user_id = %s", [admin.id])
            if setup.fetchone():
                self.skipTest("the administrator has a mailbox in this database")
            setup.execute(
                "INSERT INTO outlook_mailbox (user_id, address, state) VALUES (%s, 'admin@contoso.test', "
                "'connected') RETURNING id",
                [admin.id],
            )
            mailbox_id = setup.fetchone()[0]
        try:
            with self.env.registry.cursor() as worker, self.env.registry.cursor() as other_worker:
                worker_env = api.Environment(worker, SUPERUSER_ID, {})
                worker.execute("SELECT 1")  # the worker's snapshot is taken here
                other_worker.execute(
                    "UPDATE outlook_mailbox SET sync_requested_at = now() at time zone 'UTC' WHERE id = %s",
                    [mailbox_id],
                )
                other_worker.commit()
                started_at = fields.Datetime.now() + timedelta(minutes=1)
                claimed = worker_env["outlook.mailbox"]._outlook_claim_next(started_at)
                self.assertEqual(claimed.id, mailbox_id)
                claimed._outlook_release()
                worker.rollback()
        finally:
            with self.env.registry.cursor() as cleanup:
                cleanup.execute("DELETE FROM outlook_mailbox WHERE id = %s", [mailbox_id])
