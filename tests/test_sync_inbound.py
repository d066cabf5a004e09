"""Microsoft 365 -> Odoo: delta import against the emulator, one Odoo event per meeting, no mail."""

from datetime import datetime, timedelta

from odoo.tests import TransactionCase, tagged

from .common import ANNA, BOB, CAROL, OutlookSyncCase, graph_time


@tagged("post_install", "-at_install")
class TestInboundSync(OutlookSyncCase, TransactionCase):
    def test_single_event_maps_every_field(self):
        start = self.tomorrow_at(9)
        created = self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Quarterly review",
                "body": {"contentType": "html", "content": "<p>Agenda: <b>numbers</b></p>"},
                "start": graph_time(start, "UTC"),
                "end": graph_time(start + timedelta(hours=1), "UTC"),
                "location": {"displayName": "Room 4"},
                "attendees": [
                    {"type": "required", "emailAddress": {"address": "Customer@Example.COM", "name": "Cust Omer"}},
                    {"type": "optional", "emailAddress": {"address": BOB, "name": "Bob"}},
                ],
                "categories": ["Customers", "Odoo"],
                "isReminderOn": True,
                "reminderMinutesBeforeStart": 30,
                "sensitivity": "normal",
                "showAs": "oof",
                "isOnlineMeeting": True,
                "onlineMeetingProvider": "teamsForBusiness",
            },
        )
        mails_before = self.env["mail.mail"].search_count([])
        self.sync(self.mailbox_anna)

        event = self.event_of(created["iCalUId"])
        self.assertEqual(event.name, "Quarterly review")
        self.assertIn("<b>numbers</b>", str(event.description))
        self.assertEqual((event.start, event.stop), (start, start + timedelta(hours=1)))
        self.assertFalse(event.allday)
        self.assertEqual(event.location, "Room 4")
        self.assertEqual(event.privacy, "public")
        self.assertEqual(event.show_as, "busy")
        self.assertTrue(event.videocall_location.startswith("https://"))
        self.assertEqual(sorted(event.categ_ids.mapped("name")), ["Customers", "Odoo"])
        self.assertEqual(event.alarm_ids.duration_minutes, 30)
        self.assertEqual(event.user_id, self.user_anna)  # the organizer is a connected user
        emails = sorted(event.partner_ids.mapped("email_normalized"))
        self.assertEqual(emails, sorted([ANNA, BOB, "customer@example.com"]))
        # the contact created for the customer: no "Contact created" note, not followed by the mailbox's owner
        customer = event.partner_ids.filtered(lambda partner: partner.email_normalized == "customer@example.com")
        self.assertFalse(customer.sudo().message_ids)
        self.assertNotIn(self.user_anna.partner_id, customer.sudo().message_partner_ids)
        self.assertEqual(event.outlook_sync_state, "synced")
        self.assertEqual(len(event.outlook_link_ids), 1)
        self.assertTrue(event.outlook_link_ids.is_organizer_copy)
        # importing mails nobody: neither Exchange (counted by the emulator) nor Odoo
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)
        self.assertEqual(self.env["mail.mail"].search_count([]), mails_before)

    def test_all_day_event_keeps_its_dates_for_every_time_zone(self):
        day = (datetime.now() + timedelta(days=3)).date()
        created = self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Offsite",
                "isAllDay": True,
                "start": {"dateTime": f"{day}T00:00:00", "timeZone": "Pacific/Tongatapu"},
                "end": {"dateTime": f"{day + timedelta(days=2)}T00:00:00", "timeZone": "Pacific/Tongatapu"},
            },
        )
        self.user_anna.tz = "Pacific/Honolulu"
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        self.assertTrue(event.allday)
        self.assertEqual((event.start_date, event.stop_date), (day, day + timedelta(days=1)))

    def test_outlook_update_and_delete(self):
        created = self.outlook_meeting(ANNA, "Planning")
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        self.emulator.outlook.update_event(
            ANNA, created["id"], {"subject": "Planning (moved)", "location": {"displayName": "Lab"}}
        )
        self.sync(self.mailbox_anna)
        self.assertEqual((event.name, event.location), ("Planning (moved)", "Lab"))
        self.emulator.outlook.delete_event(ANNA, created["id"])
        self.sync(self.mailbox_anna)
        self.assertFalse(event.active)  # default deletion policy: archive (ERP.net "void")
        self.assertFalse(event.outlook_link_ids)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_unchanged_items_are_not_written_again(self):
        created = self.outlook_meeting(ANNA, "Stand-up")
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        write_date = event.write_date
        self.emulator.expire_delta_tokens(ANNA)  # the next round lists everything again
        self.sync(self.mailbox_anna)
        self.assertEqual(event.write_date, write_date)
        self.assertEqual(self.env["calendar.event"].search_count([("outlook_ical_uid", "=", created["iCalUId"])]), 1)

    def test_two_connected_attendees_share_one_event(self):
        created = self.outlook_meeting(ANNA, "Design review", attendees=[BOB, "guest@example.com"])
        self.sync(self.mailbox_bob, self.mailbox_anna, self.mailbox_bob)
        events = self.env["calendar.event"].search([("outlook_ical_uid", "=", created["iCalUId"])])
        self.assertEqual(len(events), 1)
        self.assertEqual(len(events.outlook_link_ids), 2)
        self.assertEqual(events.outlook_link_ids.mailbox_id, self.mailbox_anna | self.mailbox_bob)
        self.assertEqual(events.user_id, self.user_anna)
        # Bob answers in Outlook: his answer reaches Odoo, the meeting itself is untouched
        bob_copy = self.copy_in(BOB, created["iCalUId"])
        self.emulator.outlook.respond(BOB, bob_copy["id"], "accepted")
        self.sync(self.mailbox_bob, self.mailbox_anna)
        bob_attendee = events.attendee_ids.filtered(lambda a: a.partner_id == self.user_bob.partner_id)
        self.assertEqual(bob_attendee.state, "accepted")
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_external_organizer_cancellation_archives(self):
        created = self.outlook_meeting(CAROL, "Vendor call", attendees=[ANNA])
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        self.assertFalse(event.user_id)
        self.assertEqual(event.outlook_organizer_email, CAROL)
        self.assertIn(CAROL, event.partner_ids.mapped("email_normalized"))
        self.emulator.outlook.cancel_event(CAROL, created["id"])
        self.sync(self.mailbox_anna)
        self.assertFalse(event.active)

    def test_delta_expiry_resyncs_without_duplicates(self):
        kept = self.outlook_meeting(ANNA, "Kept")
        gone = self.outlook_meeting(ANNA, "Gone")
        self.sync(self.mailbox_anna)
        self.emulator.outlook.delete_event(ANNA, gone["id"])
        added = self.outlook_meeting(ANNA, "Added")
        self.emulator.expire_delta_tokens(ANNA)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["status"].get("410"), 1)
        for item, active in ((kept, True), (gone, False), (added, True)):
            events = (
                self.env["calendar.event"]
                .with_context(active_test=False)
                .search([("outlook_ical_uid", "=", item["iCalUId"])])
            )
            self.assertEqual(len(events), 1, item["subject"])
            self.assertEqual(events.active, active, item["subject"])

    def test_recurring_series_imports_each_occurrence_once(self):
        start = self.tomorrow_at(10)
        series = self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Weekly sync",
                "start": graph_time(start, "UTC"),
                "end": graph_time(start + timedelta(minutes=30), "UTC"),
                "recurrence": {
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [start.strftime("%A").lower()]},
                    "range": {"type": "numbered", "startDate": str(start.date()), "numberOfOccurrences": 4},
                },
            },
        )
        self.sync(self.mailbox_anna)
        events = self.env["calendar.event"].search([("name", "=", "Weekly sync")])
        self.assertEqual(len(events), 4)
        self.assertEqual(sorted(events.mapped("start")), [start + timedelta(weeks=n) for n in range(4)])
        self.assertEqual(len(set(events.mapped("outlook_ical_uid"))), 4)
        self.emulator.expire_delta_tokens(ANNA)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.env["calendar.event"].search_count([("name", "=", "Weekly sync")]), 4)
        self.assertTrue(series["id"])

    def test_page_mixing_series_and_single_events_links_each_to_its_own_item(self):
        """Odoo's ``calendar.event.create`` returns single events before recurring ones: each Odoo
        event must still be linked to its own Outlook item, so an edit lands on the right one."""
        start = self.tomorrow_at(10)
        self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Series first",
                "start": graph_time(start, "UTC"),
                "end": graph_time(start + timedelta(minutes=30), "UTC"),
                "recurrence": {
                    "pattern": {"type": "daily", "interval": 1},
                    "range": {"type": "numbered", "startDate": str(start.date()), "numberOfOccurrences": 3},
                },
            },
        )
        master_id = next(i["id"] for i in self.emulator.outlook.list_events(ANNA) if i["type"] == "seriesMaster")
        third = self.emulator.outlook.instances(ANNA, master_id, start.date(), start + timedelta(days=5))[2]
        moved_start = start + timedelta(days=2, hours=1)
        self.emulator.outlook.update_event(
            ANNA,
            third["id"],
            {"start": graph_time(moved_start), "end": graph_time(moved_start + timedelta(minutes=30))},
        )
        singles = [self.outlook_meeting(ANNA, f"Single {n}", start=self.tomorrow_at(13 + n)) for n in range(3)]
        self.sync(self.mailbox_anna)
        stored = self.emulator.outlook.list_events(ANNA)
        master = next(item for item in stored if item["type"] == "seriesMaster")
        occurrences = self.emulator.outlook.instances(ANNA, master["id"], start.date(), start + timedelta(days=5))
        outlook_by_id = {item["id"]: item for item in stored + occurrences if item["type"] != "seriesMaster"}
        links = self.mailbox_anna.link_ids.filtered("event_id")
        self.assertEqual(len(links), 6)
        for link in links:
            item = outlook_by_id.get(link.graph_id)
            self.assertTrue(item, link.event_id.name)
            self.assertEqual(item["subject"], link.event_id.name)
            self.assertEqual(item["start"]["dateTime"][:16], link.event_id.start.isoformat()[:16])
        # an Odoo edit of a single event is one PATCH of that event, no occurrence touched
        event = self.env["calendar.event"].search([("name", "=", "Single 1")])
        event.name = "Single 1 moved"
        self.sync(self.mailbox_anna)
        subjects = sorted(item["subject"] for item in self.emulator.outlook.list_events(ANNA))
        # the series master and its exception carry the series' subject
        self.assertEqual(subjects, ["Series first"] * 2 + ["Single 0", "Single 1 moved", "Single 2"])
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)
        self.assertEqual(len(singles), 3)
        series_events = self.env["calendar.event"].search([("name", "=", "Series first")])
        self.assertEqual(len(series_events), 3)
        self.assertEqual(len(series_events.recurrence_id), 1)
        exception = series_events.filtered(lambda e: e.start == moved_start)
        self.assertEqual(len(exception), 1)
        self.assertFalse(exception.follow_recurrence, "an exception does not follow the rule")
        self.assertTrue(all((series_events - exception).mapped("follow_recurrence")))

    def test_broken_item_is_marked_and_the_rest_goes_on(self):
        self.outlook_meeting(ANNA, "Fine one")
        self.outlook_meeting(ANNA, "Fine two")
        self.emulator.inject_fault("item_malformed", path=r"calendarView/delta", count=1)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertEqual(self.env["calendar.event"].search_count([("name", "like", "Fine ")]), 1)
        self.assertIn("could not be read", self.mailbox_anna.last_error)
        failed = self.mailbox_anna.link_ids.filtered(lambda link: link.state == "error")
        self.assertEqual(len(failed), 1)
        # once its wait is over, a run reads the failed copy again (delta would not list it until it changes)
        failed.next_retry_at = failed.next_retry_at - timedelta(hours=1)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.env["calendar.event"].search_count([("name", "like", "Fine ")]), 2)
        self.assertFalse(self.mailbox_anna.link_ids.filtered(lambda link: link.state == "error"))
