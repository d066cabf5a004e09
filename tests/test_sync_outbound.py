"""Odoo -> Microsoft 365: the organizer's events and the attendees' answers, with invitation safety."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from odoo import Command
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import ANNA, BOB, OutlookSyncCase

POST_EVENTS = "POST /v1.0/me/events"
PATCH_EVENT = "PATCH /v1.0/me/events/{id}"


@tagged("post_install", "-at_install")
class TestOutboundSync(OutlookSyncCase, TransactionCase):
    def odoo_meeting(self, user, name, attendees=(), start=None, **values):
        start = start or self.tomorrow_at(14)
        partners = self.env["res.partner"].browse([self.partner(email).id for email in attendees])
        return (
            self.env["calendar.event"]
            .with_user(user)
            .create(
                {
                    "name": name,
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "partner_ids": [Command.set((user.partner_id | partners).ids)],
                    **values,
                }
            )
        )

    def partner(self, email):
        return self.env["res.partner"].search([("email", "=", email)], limit=1) or self.env["res.partner"].create(
            {"name": email.split("@")[0].title(), "email": email}
        )

    def graph_copy(self, address, event):
        link = event.outlook_link_ids.filtered(lambda link: link.mailbox_id.address == address)
        self.assertEqual(len(link), 1)
        return self.emulator.outlook.get_event(address, link.graph_id)

    def requests(self, endpoint):
        return self.emulator.counters()["requests"].get(endpoint, 0)

    def test_create_edit_cancel_from_odoo(self):
        event = self.odoo_meeting(self.user_anna, "Kick-off", attendees=[BOB, "client@example.com"], location="HQ")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.requests(POST_EVENTS), 1)
        copy = self.graph_copy(ANNA, event)
        self.assertEqual((copy["subject"], copy["location"]["displayName"]), ("Kick-off", "HQ"))
        self.assertEqual(sorted(a["emailAddress"]["address"] for a in copy["attendees"]), [BOB, "client@example.com"])
        self.assertTrue(copy["transactionId"].endswith(f"-{event.id}"))
        self.assertEqual(event.outlook_ical_uid, copy["iCalUId"])
        self.assertEqual(event.outlook_sync_state, "synced")
        self.assertFalse(event.outlook_dirty)
        self.assertEqual(self.emulator.counters()["messages_sent"], 2)  # one invitation per attendee

        # Bob's own sync joins the same Odoo event instead of importing a copy
        self.sync(self.mailbox_bob)
        self.assertEqual(
            self.env["calendar.event"].search_count([("outlook_ical_uid", "=", event.outlook_ical_uid)]), 1
        )
        self.assertEqual(len(event.sudo().outlook_link_ids), 2)  # one copy per mailbox (Anna sees only hers)

        event.with_user(self.user_anna).write({"name": "Kick-off (agenda attached)"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.requests(PATCH_EVENT), 1)
        self.assertEqual(self.graph_copy(ANNA, event)["subject"], "Kick-off (agenda attached)")
        self.assertEqual(self.emulator.counters()["messages_sent"], 4)  # one update per attendee

        event.with_user(self.user_anna).unlink()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get("POST /v1.0/me/events/{id}/cancel"), 1)
        self.assertEqual(self.emulator.counters()["messages_sent"], 6)  # one cancellation per attendee
        self.assertFalse(self.env["outlook.event.link"].search([("mailbox_id", "=", self.mailbox_anna.id)]))

    def test_attendee_deleting_a_shared_meeting_cancels_nothing(self):
        event = self.odoo_meeting(self.user_anna, "All hands", attendees=[BOB, "client@example.com"])
        self.sync(self.mailbox_anna, self.mailbox_bob)
        self.emulator.reset_counters()
        event.with_user(self.user_bob).unlink()
        self.sync(self.mailbox_anna, self.mailbox_bob)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)
        self.assertEqual([e["subject"] for e in self.emulator.outlook.list_events(ANNA)], ["All hands"])
        # and Outlook's copies do not come back into Odoo at the next full listing
        self.emulator.expire_delta_tokens()
        self.sync(self.mailbox_anna, self.mailbox_bob)
        self.assertFalse(
            self.env["calendar.event"].with_context(active_test=False).search([("name", "=", "All hands")])
        )

    def test_organizer_archiving_cancels_the_meeting(self):
        event = self.odoo_meeting(self.user_anna, "Launch", attendees=["client@example.com"])
        self.sync(self.mailbox_anna)
        event.with_user(self.user_anna).action_archive()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.requests("POST /v1.0/me/events/{id}/cancel"), 1)
        self.assertEqual(self.emulator.counters()["messages_sent"], 2)  # invitation, then cancellation

    def test_no_op_write_sends_nothing(self):
        event = self.odoo_meeting(self.user_anna, "Retro", attendees=["client@example.com"])
        self.sync(self.mailbox_anna)
        self.emulator.reset_counters()
        event.with_user(self.user_anna).write({"name": "Retro", "location": False})
        self.assertTrue(event.outlook_dirty)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.requests(PATCH_EVENT), 0)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)
        self.assertFalse(event.outlook_dirty)

    def test_past_and_pre_existing_events_stay_in_odoo(self):
        past = self.odoo_meeting(
            self.user_anna,
            "Last week",
            attendees=["client@example.com"],
            start=datetime.now().replace(microsecond=0) - timedelta(days=7),
        )
        before = self.odoo_meeting(self.user_anna, "Old plan", attendees=["client@example.com"])
        self.env.cr.execute(
            "UPDATE calendar_event SET create_date = %s WHERE id = %s",
            [self.mailbox_anna.first_connected_at - timedelta(days=1), before.id],
        )
        before.invalidate_recordset()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.requests(POST_EVENTS), 0)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)
        self.assertIn("already over", past.outlook_last_error)
        self.assertIn("before Outlook was connected", before.outlook_last_error)
        # the admin opts in: pre-existing future events go, past ones never
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.push_existing_events", "1")
        (past | before).with_user(self.user_anna).write({"description": "<p>please sync</p>"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.requests(POST_EVENTS), 1)
        self.assertTrue(before.outlook_link_ids)
        self.assertFalse(past.outlook_link_ids)
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.push_existing_events", False)

    def test_retry_after_lost_answer_creates_one_event(self):
        event = self.odoo_meeting(self.user_anna, "Board meeting", attendees=["client@example.com"])
        # Exchange creates the event, then the answer is lost (its batch item comes back as a failure)
        self.emulator.inject_fault("drop", method="POST", path=r"^/v1\.0/me/events$", when="after")
        self.sync(self.mailbox_anna)
        self.assertIn("tried again at the next run", event.outlook_last_error)
        self.assertTrue(event.outlook_dirty)
        self.assertFalse(event.outlook_link_ids)
        self.assertTrue(event.outlook_create_attempted)
        self.sync(self.mailbox_anna)
        stored = [e for e in self.emulator.outlook.list_events(ANNA) if e["subject"] == "Board meeting"]
        self.assertEqual(len(stored), 1)
        self.assertEqual(self.requests(POST_EVENTS), 1, "the second run found the first event by its stamp")
        self.assertEqual(len(event.outlook_link_ids), 1)
        self.assertEqual(self.emulator.counters()["messages_sent"], 1)  # invited once

    def test_attendee_answer_from_odoo(self):
        event = self.odoo_meeting(self.user_anna, "Budget", attendees=[BOB])
        self.sync(self.mailbox_anna, self.mailbox_bob)
        self.emulator.reset_counters()
        bob_attendee = event.attendee_ids.filtered(lambda a: a.partner_id == self.user_bob.partner_id)
        bob_attendee.with_user(self.user_bob).do_accept()
        self.sync(self.mailbox_bob)
        self.assertEqual(self.requests("POST /v1.0/me/events/{id}/accept"), 1)
        self.assertEqual(self.requests(POST_EVENTS) + self.requests(PATCH_EVENT), 0)  # Bob never pushes Anna's meeting
        organizer_copy = self.graph_copy(ANNA, event)
        bob_status = next(a for a in organizer_copy["attendees"] if a["emailAddress"]["address"] == BOB)
        self.assertEqual(bob_status["status"]["response"], "accepted")
        self.assertEqual(self.emulator.counters()["messages_sent"], 1)  # the answer to the organizer
        self.sync(self.mailbox_bob)
        self.assertEqual(self.requests("POST /v1.0/me/events/{id}/accept"), 1)  # answered once

    def test_conflict_microsoft_wins_and_odoo_values_are_kept_in_chatter(self):
        event = self.odoo_meeting(self.user_anna, "Offsite prep")
        self.sync(self.mailbox_anna)
        link = event.outlook_link_ids
        self.emulator.outlook.update_event(ANNA, link.graph_id, {"subject": "Offsite prep (Outlook)"})
        event.with_user(self.user_anna).write({"name": "Offsite prep (Odoo)"})
        self.sync(self.mailbox_anna)
        self.assertEqual(event.name, "Offsite prep (Outlook)")
        self.assertEqual(self.graph_copy(ANNA, event)["subject"], "Offsite prep (Outlook)")
        note = event.message_ids.filtered(lambda m: "Offsite prep (Odoo)" in str(m.body))
        self.assertTrue(note, "the losing Odoo value is written in the chatter")

    def test_time_zones_of_the_organizer(self):
        day = (datetime.now() + timedelta(days=10)).date()
        for tz in ("Pacific/Honolulu", "UTC", "Pacific/Tongatapu"):  # UTC-10, UTC, UTC+13
            self.user_anna.tz = tz
            local_nine = datetime.combine(day, datetime.min.time()).replace(hour=9, tzinfo=ZoneInfo(tz))
            start = local_nine.astimezone(timezone.utc).replace(tzinfo=None)
            event = self.odoo_meeting(self.user_anna, f"Nine o'clock in {tz}", start=start)
            self.sync(self.mailbox_anna)
            copy = self.graph_copy(ANNA, event)
            self.assertEqual(copy["originalStartTimeZone"], tz)
            self.assertEqual(datetime.fromisoformat(copy["start"]["dateTime"][:19]), start)  # Graph answers in UTC
            # and it comes back unchanged: no echo write, no second request
            self.sync(self.mailbox_anna)
            self.assertEqual(event.start, start)
        self.assertEqual(self.requests(PATCH_EVENT), 0)

    def test_all_day_event_goes_out_with_exclusive_end(self):
        day = (datetime.now() + timedelta(days=5)).date()
        event = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create(
                {
                    "name": "Holiday",
                    "allday": True,
                    "start": datetime.combine(day, datetime.min.time()),
                    "stop": datetime.combine(day + timedelta(days=1), datetime.min.time()),
                }
            )
        )
        self.sync(self.mailbox_anna)
        copy = self.graph_copy(ANNA, event)
        self.assertTrue(copy["isAllDay"])
        self.assertEqual(copy["start"]["dateTime"][:10], str(day))
        self.assertEqual(copy["end"]["dateTime"][:10], str(day + timedelta(days=2)))

    def test_user_known_by_another_address_than_the_mailbox(self):
        """A user whose Odoo email is not their mailbox address is neither duplicated nor self-invited."""
        self.emulator.add_mailbox("dave@contoso.test", display_name="Dave")
        dave = new_test_user(self.env, login="dave_user", name="Dave", email="dave.home@example.org")
        mailbox = self.connect_mailbox(dave, account="dave@contoso.test")
        self.assertEqual(mailbox.address, "dave@contoso.test")
        imported = self.outlook_meeting("dave@contoso.test", "Dave's import", attendees=["client@example.com"])
        event = self.odoo_meeting(dave, "Dave's push", attendees=["client@example.com"])
        self.sync(mailbox)
        self.assertFalse(self.env["res.partner"].search([("email", "=ilike", "dave@contoso.test")]))
        self.assertIn(dave.partner_id, self.event_of(imported["iCalUId"]).partner_ids)
        pushed = self.graph_copy("dave@contoso.test", event)
        self.assertEqual([a["emailAddress"]["address"] for a in pushed["attendees"]], ["client@example.com"])
        self.assertEqual(self.emulator.counters()["messages_sent"], 1)
        # the next run finds nothing to change on either side
        self.emulator.reset_counters()
        self.sync(mailbox)
        self.assertEqual(self.requests(PATCH_EVENT), 0)

    def test_silent_answers_setting(self):
        event = self.odoo_meeting(self.user_anna, "Silent", attendees=[BOB])
        self.sync(self.mailbox_anna, self.mailbox_bob)
        self.emulator.reset_counters()
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.silent_responses", "True")
        event.attendee_ids.filtered(lambda a: a.partner_id == self.user_bob.partner_id).with_user(
            self.user_bob
        ).do_decline()
        self.sync(self.mailbox_bob)
        self.assertEqual(self.requests("POST /v1.0/me/events/{id}/decline"), 1)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)
        self.env["ir.config_parameter"].sudo().set_param("outlook_calendar_sync.silent_responses", False)

    def test_a_hundred_changes_go_out_in_a_few_batches(self):
        start = self.tomorrow_at(7)
        events = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create(
                [
                    {
                        "name": f"Batch {n}",
                        "start": start + timedelta(minutes=10 * n),
                        "stop": start + timedelta(minutes=10 * n + 5),
                    }
                    for n in range(100)
                ]
            )
        )
        self.sync(self.mailbox_anna)
        self.assertEqual(len(events.sudo().outlook_link_ids), 100)
        self.assertEqual(self.requests("POST /v1.0/$batch"), 5)
        self.emulator.reset_counters()
        for event in events:
            event.with_user(self.user_anna).write({"name": event.name + " (renamed)"})
        self.sync(self.mailbox_anna)
        counters = self.emulator.counters()
        self.assertEqual(counters["requests"].get("POST /v1.0/$batch"), 5)
        self.assertEqual(counters["requests"].get(PATCH_EVENT), 100)  # the batch items, not separate requests
        requests_sent = counters["requests_total"] - counters.get("batch_items", 0)
        self.assertLessEqual(requests_sent, 12, counters["requests"])
        self.assertEqual(
            self.emulator.outlook.get_event(ANNA, events[0].sudo().outlook_link_ids.graph_id)["subject"],
            "Batch 0 (renamed)",
        )
