"""Sync you can see: event status with Retry now / Resync from Outlook, the sync log's failed items and
retries, pause / resume / stop / reset, the admin dashboard, user self-service, import progress."""

import json
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import ANNA, BOB, OutlookSyncCase

POST_EVENTS = r"^/v1\.0/me/events$"


@tagged("post_install", "-at_install")
class TestVisibility(OutlookSyncCase, TransactionCase):
    def setUp(self):
        super().setUp()
        self.admin = self.env.ref("base.user_admin")
        self.cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")
        self.logs = self.env["outlook.sync.log"]

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def odoo_meeting(self, user, name, attendees=(), start=None, **values):
        start = start or self.tomorrow_at(14)
        partners = user.partner_id | self.env["res.partner"].search([("email", "in", list(attendees))])
        return (
            self.env["calendar.event"]
            .with_user(user)
            .create(
                {
                    "name": name,
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "partner_ids": [Command.set(partners.ids)],
                    **values,
                }
            )
        )

    def imported(self, organizer, subject, attendees=(), mailboxes=None):
        item = self.outlook_meeting(organizer, subject, attendees)
        self.sync(*(mailboxes or [self.mailbox_anna]))
        return item, self.event_of(item["iCalUId"])

    def triggers(self):
        return self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)])

    def graph_requests(self):
        return sum(self.emulator.counters()["requests"].values())

    def item_rows(self, **domain):
        return self.logs.search([("kind", "=", "item")] + [(k, "=", v) for k, v in domain.items()])

    def as_user(self, record, user):
        return record.with_user(user).browse(record.ids)

    # ------------------------------------------------------------
    # sync log: one row per run and per failed item
    # ------------------------------------------------------------

    def test_failed_items_are_logged_each_way(self):
        self.outlook_meeting(ANNA, "Fine one")
        self.outlook_meeting(ANNA, "Fine two")
        self.emulator.inject_fault("item_malformed", path=r"calendarView/delta", count=1)
        self.sync(self.mailbox_anna, expect_error=True)
        inbound = self.item_rows(mailbox_id=self.mailbox_anna.id, direction="in")
        self.assertEqual(len(inbound), 1)
        self.assertTrue(inbound.graph_id)
        self.assertEqual(inbound.state, "error")
        self.assertIn("could not be read", inbound.message)
        run = self.logs.search([("kind", "=", "run"), ("mailbox_id", "=", self.mailbox_anna.id)], limit=1)
        self.assertEqual((run.state, run.errors, run.created_in), ("partial", 1, 1))

        event = self.odoo_meeting(self.user_anna, "Refused by Outlook")
        self.emulator.inject_fault("status", method="POST", path=POST_EVENTS, status=400)
        self.sync(self.mailbox_anna, expect_error=True)
        outbound = self.item_rows(event_id=event.id)
        self.assertEqual((outbound.direction, outbound.state), ("out", "error"))
        self.assertIn("Outlook refused this event", outbound.message)
        self.assertEqual(event.outlook_status, "error")
        self.assertIn("Outlook refused this event", event.outlook_status_message)

    def test_users_read_their_own_rows_only(self):
        self.outlook_meeting(ANNA, "Anna's run has a row")
        self.outlook_meeting(BOB, "Bob's too")
        self.sync(self.mailbox_anna, self.mailbox_bob)
        self.assertEqual(len(self.logs.search([("kind", "=", "run")])), 2)
        self.sync(self.mailbox_anna, self.mailbox_bob)  # nothing moved: no row
        self.assertEqual(len(self.logs.search([("kind", "=", "run")])), 2)
        anna_rows = self.logs.with_user(self.user_anna).search([])
        self.assertTrue(anna_rows)
        self.assertEqual(anna_rows.mailbox_id, self.mailbox_anna)
        with self.assertRaises(AccessError):
            self.logs.search([("mailbox_id", "=", self.mailbox_bob.id)]).with_user(self.user_anna).read(["message"])
        with self.assertRaises(AccessError):
            self.env["outlook.dashboard"].with_user(self.user_anna).search([])

    def test_retry_from_the_log_and_retry_recent_errors(self):
        event = self.odoo_meeting(self.user_anna, "Refused once")
        self.emulator.inject_fault("status", method="POST", path=POST_EVENTS, status=400)
        self.sync(self.mailbox_anna, expect_error=True)
        row = self.as_user(self.item_rows(event_id=event.id), self.user_anna)
        before = self.triggers()
        action = row.action_outlook_retry()
        self.assertEqual(action["params"]["type"], "success")
        self.assertTrue(row.retry_requested_at)
        self.assertTrue(event.outlook_dirty)
        self.assertEqual(self.triggers(), before + 1)
        self.sync(self.mailbox_anna)
        self.assertEqual(event.outlook_status, "synced")
        self.assertTrue(any(item["subject"] == "Refused once" for item in self.emulator.outlook.list_events(ANNA)))
        # "Retry errors from last 30 days": rows already retried, and older ones, are left alone
        old = self.logs.sudo().create(
            {
                "mailbox_id": self.mailbox_anna.id,
                "kind": "item",
                "state": "error",
                "started_at": fields.Datetime.now() - timedelta(days=31),
                "message": "old",
            }
        )
        fresh = self.logs.sudo().create(
            {
                "mailbox_id": self.mailbox_anna.id,
                "kind": "run",
                "state": "error",
                "started_at": fields.Datetime.now(),
                "message": "Graph unreachable",
            }
        )
        self.logs.with_user(self.user_anna).action_outlook_retry_recent()
        self.assertTrue(fresh.retry_requested_at)
        self.assertFalse(old.retry_requested_at)
        action = self.logs.with_user(self.user_anna).action_outlook_retry_recent()
        self.assertEqual(action["params"]["type"], "info", "nothing left to retry")

    def test_purge_after_the_configured_age(self):
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.log_days", "10")
        kept, purged = (
            self.logs.sudo().create(
                {
                    "mailbox_id": self.mailbox_anna.id,
                    "state": "success",
                    "started_at": fields.Datetime.now() - timedelta(days=days),
                }
            )
            for days in (9, 11)
        )
        self.logs._gc_outlook_logs()
        self.assertTrue(kept.exists())
        self.assertFalse(purged.exists())

    # ------------------------------------------------------------
    # event status, Retry now, Resync from Outlook
    # ------------------------------------------------------------

    def test_status_badge_values(self):
        admin_event = self.odoo_meeting(self.admin, "Odoo only")
        self.assertEqual(admin_event.outlook_status, "not_synced")
        event = self.odoo_meeting(self.user_anna, "Weekly")
        self.assertEqual(event.outlook_status, "pending", "waits for the next run")
        self.sync(self.mailbox_anna)
        self.assertEqual(event.outlook_status, "synced")
        event.sudo().outlook_sync_state = "inactive"
        self.assertEqual(event.outlook_status, "inactive")

    def test_retry_now_pushes_a_refused_event_again(self):
        event = self.odoo_meeting(self.user_anna, "Board review", attendees=[BOB])
        self.emulator.inject_fault("status", method="POST", path=POST_EVENTS, status=400)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertEqual(event.outlook_status, "error")
        self.assertFalse(event.outlook_dirty, "the push gave up: only Retry sends it again")
        before = self.triggers()
        action = self.as_user(event, self.user_anna).action_outlook_retry()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.triggers(), before + 1, "a sync is requested at once")
        self.assertEqual((event.outlook_status, event.outlook_last_error), ("pending", False))
        self.sync(self.mailbox_anna)
        self.assertEqual(event.outlook_status, "synced")
        self.assertEqual(self.emulator.counters()["messages_sent"], 1, "one invitation, to Bob")

    def test_retry_now_reads_a_failed_outlook_copy_again(self):
        item, event = self.imported(ANNA, "Planning")
        self.emulator.outlook.update_event(ANNA, item["id"], {"subject": "Planning (moved)"})
        self.emulator.inject_fault("item_malformed", path=r"calendarView/delta", count=1)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertEqual(event.outlook_status, "error")
        self.as_user(event, self.user_anna).action_outlook_retry()
        self.assertEqual(event.outlook_status, "pending")
        self.sync(self.mailbox_anna)
        self.assertEqual((event.name, event.outlook_status), ("Planning (moved)", "synced"))

    def test_conflict_until_the_event_is_unlocked(self):
        item, event = self.imported(ANNA, "Audit")
        event.outlook_locked = True
        self.emulator.outlook.update_event(ANNA, item["id"], {"subject": "Audit (changed in Outlook)"})
        self.sync(self.mailbox_anna)
        self.assertEqual(event.outlook_status, "conflict")
        self.assertIn("locked", event.outlook_status_message)
        self.as_user(event, self.user_anna).action_outlook_retry()
        self.sync(self.mailbox_anna)
        self.assertEqual(event.outlook_status, "conflict", "still locked: still refused")
        event.outlook_locked = False
        self.as_user(event, self.user_anna).action_outlook_retry()
        self.sync(self.mailbox_anna)
        self.assertEqual((event.name, event.outlook_status), ("Audit (changed in Outlook)", "synced"))

    def test_resync_from_outlook_applies_outlook_version(self):
        item, event = self.imported(ANNA, "Quarterly")
        # Odoo drifted without Outlook knowing (nothing marks it for the push)
        event.sudo().with_context(outlook_inbound=True).write({"name": "Drifted", "location": "Nowhere"})
        self.sync(self.mailbox_anna)
        self.assertEqual(event.name, "Drifted", "delta does not list an unchanged item")
        self.emulator.reset_counters()
        action = self.as_user(event, self.user_anna).action_outlook_resync()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.graph_requests(), 0, "nothing is read in the user's request")
        self.assertEqual(event.outlook_status, "pending")
        self.sync(self.mailbox_anna)
        self.assertEqual((event.name, event.outlook_status), ("Quarterly", "synced"))
        self.assertFalse(event.location)
        self.assertEqual(self.emulator.counters()["requests"].get("GET /v1.0/me/events/{id}"), 1)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_resync_needs_a_copy_in_the_users_mailbox(self):
        event = self.odoo_meeting(self.admin, "No copy")
        with self.assertRaises(UserError):
            self.as_user(event, self.admin).action_outlook_resync()
        _item, event = self.imported(ANNA, "Anna's only")
        with self.assertRaises(UserError):  # Bob has no copy of it
            self.as_user(event, self.user_bob).action_outlook_resync()
        self.user_anna.outlook_direction = "outbound"
        with self.assertRaises(UserError):
            self.as_user(event, self.user_anna).action_outlook_resync()

    # ------------------------------------------------------------
    # pause, resume, stop, reset
    # ------------------------------------------------------------

    def test_pause_skips_the_mailbox_and_resume_syncs_at_once(self):
        anna_mailbox = self.as_user(self.mailbox_anna, self.user_anna)
        anna_mailbox.action_outlook_pause()
        self.assertEqual((self.mailbox_anna.state, self.mailbox_anna.paused_by_admin), ("paused", False))
        self.assertEqual(self.user_anna.outlook_sync_state, "paused")
        self.outlook_meeting(ANNA, "While paused")
        self.cron.method_direct_trigger()
        self.assertFalse(self.mailbox_anna.last_attempt_at, "the cron skips paused mailboxes")
        self.assertTrue(self.mailbox_bob.last_attempt_at)
        self.assertFalse(self.mailbox_anna._outlook_request_sync(force=True))
        # Odoo stays quiet for a paused organizer too: Exchange invites once the sync resumes
        event = self.odoo_meeting(self.user_anna, "Planned while paused", attendees=[BOB])
        self.assertTrue(event._skip_send_mail_status_update())
        before = self.triggers()
        anna_mailbox.action_outlook_resume()
        self.assertEqual(self.mailbox_anna.state, "connected")
        self.assertEqual(self.triggers(), before + 1)
        self.sync(self.mailbox_anna)
        self.assertTrue(self.env["calendar.event"].search([("name", "=", "While paused")]))
        self.assertEqual(event.outlook_status, "synced")

    def test_who_may_pause_and_resume(self):
        with self.assertRaises(AccessError):
            self.as_user(self.mailbox_anna, self.user_bob).action_outlook_pause()
        self.as_user(self.mailbox_anna, self.admin).action_outlook_pause()
        self.assertTrue(self.mailbox_anna.paused_by_admin)
        with self.assertRaises(AccessError):
            self.as_user(self.mailbox_anna, self.user_anna).action_outlook_resume()
        # the Calendar's button explains instead of resuming
        anna_users = self.env["res.users"].with_user(self.user_anna).browse(self.user_anna.id)
        action = anna_users.action_outlook_connect_or_sync()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertEqual(self.mailbox_anna.state, "paused")
        self.as_user(self.mailbox_anna, self.admin).action_outlook_resume()
        self.assertEqual(self.mailbox_anna.state, "connected")
        # a user's own pause: the button resumes it
        users = self.env["res.users"].with_user(self.user_anna).browse(self.user_anna.id)
        users.action_outlook_pause()
        self.assertEqual(users.action_outlook_connect_or_sync()["params"]["type"], "success")
        self.assertEqual(self.mailbox_anna.state, "connected")

    @mute_logger("odoo.addons.base.models.ir_rule", "odoo.models")
    def test_nobody_resets_someone_elses_mailbox(self):
        self.imported(ANNA, "Anna's own")
        wizards = self.env["outlook.reset.wizard"]
        own = wizards.with_user(self.user_anna).create({"mailbox_id": self.mailbox_anna.id})
        self.assertEqual(
            (own.address, own.user_id, own.linked_count, own.organized_count), (ANNA, self.user_anna, 1, 1)
        )
        # Bob cannot make one for Anna's mailbox, nor see her address, owner or numbers through one
        with self.assertRaises(AccessError):
            wizards.with_user(self.user_bob).create({"mailbox_id": self.mailbox_anna.id})
        for field in ("address", "user_id"):  # (assertRaises clears the cache: the record is made inside)
            with self.assertRaises(AccessError, msg=field):
                wizards.with_user(self.user_bob).new({"mailbox_id": self.mailbox_anna.id})[field]  # noqa: B018
        with self.assertRaises(AccessError):
            wizards.with_user(self.user_bob).with_context(default_mailbox_id=self.mailbox_anna.id).onchange(
                {}, [], {"mailbox_id": {}, "address": {}, "user_id": {}, "linked_count": {}}
            )
        bobs = wizards.with_user(self.user_bob).create({"mailbox_id": self.mailbox_bob.id})
        with self.assertRaises(AccessError):
            bobs.write({"mailbox_id": self.mailbox_anna.id})
        with self.assertRaises(AccessError):
            self.as_user(self.mailbox_anna, self.user_bob).action_outlook_reset()
        # an administrator resets anyone's
        admins = wizards.with_user(self.admin).create({"mailbox_id": self.mailbox_anna.id})
        self.assertEqual((admins.address, admins.linked_count), (ANNA, 1))

    def test_pause_all_and_stop_are_for_admins(self):
        mailboxes = self.env["outlook.mailbox"]
        with self.assertRaises(AccessError):
            mailboxes.with_user(self.user_anna).action_outlook_pause_all()
        mailboxes.with_user(self.admin).action_outlook_pause_all()
        self.assertEqual(set((self.mailbox_anna | self.mailbox_bob).mapped("state")), {"paused"})
        mailboxes.with_user(self.admin).action_outlook_resume_all()
        self.assertEqual(set((self.mailbox_anna | self.mailbox_bob).mapped("state")), {"connected"})
        row = self.env["outlook.dashboard"].with_user(self.admin).browse(self.user_bob.id)
        row.action_outlook_stop()
        self.assertEqual(self.mailbox_bob.state, "disconnected")
        self.assertFalse(self.mailbox_bob._outlook_token_cache())

    def test_reset_unlinks_without_any_graph_call(self):
        _item, event = self.imported(
            ANNA, "Team lunch", attendees=[BOB], mailboxes=[self.mailbox_anna, self.mailbox_bob]
        )
        own = self.odoo_meeting(self.user_anna, "Odoo first")
        self.sync(self.mailbox_anna)
        self.assertEqual(len(self.mailbox_anna.link_ids), 2)
        self.emulator.reset_counters()
        wizard = self.env["outlook.reset.wizard"].with_user(self.user_anna).create({"mailbox_id": self.mailbox_anna.id})
        self.assertEqual((wizard.remove_remote, wizard.organized_count), (False, 2))
        wizard.action_confirm()
        self.assertEqual(self.graph_requests(), 0)
        self.assertFalse(self.mailbox_anna.link_ids)
        self.assertFalse(self.mailbox_anna.sudo().delta_link)
        self.assertTrue(event.outlook_link_ids, "Bob's copy stays linked")
        self.assertEqual(own.outlook_status, "not_synced")
        # the next run lists Anna's calendar again and finds the same events: no duplicate, no mail
        self.sync(self.mailbox_anna)
        self.assertEqual(self.env["calendar.event"].search_count([("name", "in", ("Team lunch", "Odoo first"))]), 2)
        self.assertEqual(len(self.mailbox_anna.link_ids), 2)
        self.assertEqual(own.outlook_status, "synced")
        self.assertEqual(len(self.emulator.outlook.list_events(ANNA)), 2)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_reset_removes_outlook_copies_only_when_asked(self):
        _item, meeting = self.imported(ANNA, "Kick-off", attendees=[BOB])
        alone = self.odoo_meeting(self.user_anna, "Focus time")
        _item, invited = self.imported(BOB, "Bob's review", attendees=[ANNA])
        self.sync(self.mailbox_anna)
        wizard = (
            self.env["outlook.reset.wizard"]
            .with_user(self.user_anna)
            .create({"mailbox_id": self.mailbox_anna.id, "remove_remote": True})
        )
        self.emulator.reset_counters()
        wizard.action_confirm()
        self.assertEqual(self.graph_requests(), 0, "removed by the next run, not in the request")
        self.sync(self.mailbox_anna)
        subjects = {item["subject"] for item in self.emulator.outlook.list_events(ANNA) if not item.get("isCancelled")}
        self.assertEqual(subjects, {"Bob's review"}, "only what Anna organizes goes")
        self.assertEqual(self.emulator.counters()["messages_sent"], 1, "one cancellation, to Bob")
        self.assertTrue(meeting.exists() and alone.exists() and invited.exists(), "Odoo keeps every event")
        self.assertFalse(self.mailbox_anna.link_ids.filtered("outlook_remove_remote"))

    # ------------------------------------------------------------
    # dashboard, preferences, progress
    # ------------------------------------------------------------

    def test_dashboard_shows_every_user(self):
        carol = new_test_user(self.env, login="carol_user", name="Carol", groups="base.group_user")
        self.imported(ANNA, "Stand-up")
        self.emulator.inject_fault("item_malformed", path=r"calendarView/delta", count=1)
        self.outlook_meeting(ANNA, "Broken one")
        self.sync(self.mailbox_anna, expect_error=True)
        self.mailbox_bob._outlook_mark_reconnect("AADSTS700082: the refresh token expired.")
        self.env.flush_all()
        rows = {row.user_id: row for row in self.env["outlook.dashboard"].with_user(self.admin).search([])}
        anna, bob = rows[self.user_anna], rows[self.user_bob]
        self.assertEqual((anna.state, anna.address, anna.linked_count, anna.errors_24h), ("connected", ANNA, 1, 1))
        self.assertTrue(anna.last_sync_at)
        self.assertEqual(bob.state, "reconnect")
        self.assertEqual(rows[carol].state, "never")
        with self.assertRaises(UserError):
            rows[carol].action_outlook_pause()
        rows[self.user_anna].action_outlook_pause()
        self.assertEqual(self.mailbox_anna.state, "paused")
        self.assertEqual(self.mailbox_anna.linked_count, 1)

    def test_preferences_follow_what_the_admin_allows(self):
        self.user_anna.with_user(self.user_anna).write({"outlook_direction": "inbound"})
        self.assertEqual(self.mailbox_anna._outlook_policy().direction, "inbound")
        self.assertTrue(self.user_anna.with_user(self.user_anna).outlook_may_choose_direction)
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.fixed_direction", "True")
        self.user_anna.invalidate_recordset()
        self.assertFalse(self.user_anna.with_user(self.user_anna).outlook_may_choose_direction)
        self.assertEqual(self.mailbox_anna._outlook_policy().direction, "both", "the company's direction")

    def test_progress_of_a_long_import(self):
        self.emulator.configure(delta_max_page_size=2)
        self.addCleanup(self.emulator.configure, delta_max_page_size=1000)
        for number in range(5):
            self.outlook_meeting(ANNA, f"Imported {number}")
        self.sync(self.mailbox_anna)
        # the page commits (savepoints in tests) write what the bus delivers to Anna's browser
        sent = [
            json.loads(row.message)["payload"]
            for row in self.env["bus.bus"]
            .sudo()
            .search([("message", "like", "outlook_calendar_sync/progress")], order="id")
        ]
        self.assertEqual(
            sent,
            [
                {"running": True, "done": 2, "total": 4},
                {"running": True, "done": 4, "total": 6},
                {"running": False, "done": 5, "total": 5},
            ],
            "one notification per page",
        )
        self.assertEqual((self.mailbox_anna.import_done, self.mailbox_anna.import_running), (5, False))
        # the Calendar's button asks once on load; the progress of an import in progress comes with it
        self.mailbox_anna.sudo().write({"import_running": True, "import_done": 120, "import_total": 1000})
        anna_users = self.env["res.users"].with_user(self.user_anna).browse(self.user_anna.id)
        status = anna_users.check_synchronization_status()
        self.assertEqual(status["outlook_calendar_sync_progress"], {"running": True, "done": 120, "total": 1000})
        self.assertIn("120", self.user_anna.with_user(self.user_anna).outlook_import_progress)
