"""Each sync policy's effect both ways against the emulator, and never an unintended message."""

from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import ANNA, BOB, CAROL, OutlookSyncCase, graph_time

P = "outlook_calendar_sync."


@tagged("post_install", "-at_install")
class TestPolicies(OutlookSyncCase, TransactionCase):
    def setUp(self):
        super().setUp()
        self.params = self.env["ir.config_parameter"].sudo()
        self.client = self.env["res.partner"].create({"name": "Client", "email": "client@example.com"})

    def set_policy(self, **values):
        for key, value in values.items():
            self.params.set_param(P + key, value)
            self.addCleanup(self.params.set_param, P + key, False)

    def odoo_meeting(self, user, name, partners=(), start=None, **values):
        start = start or self.tomorrow_at(15)
        return (
            self.env["calendar.event"]
            .with_user(user)
            .create(
                {
                    "name": name,
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "partner_ids": [Command.set((user.partner_id | self.env["res.partner"].concat(*partners)).ids)],
                    **values,
                }
            )
        )

    def count(self, name):
        return self.env["calendar.event"].with_context(active_test=False).search_count([("name", "=", name)])

    def outlook_subjects(self, address):
        return sorted(item["subject"] for item in self.emulator.outlook.list_events(address))

    def messages(self):
        return self.emulator.counters()["messages_sent"]

    def test_direction_inbound_only_and_user_override(self):
        self.set_policy(direction="inbound")
        self.outlook_meeting(ANNA, "From Outlook")
        self.odoo_meeting(self.user_anna, "From Odoo", [self.client])
        self.sync(self.mailbox_anna)
        self.assertEqual(self.count("From Outlook"), 1)
        self.assertEqual(self.outlook_subjects(ANNA), ["From Outlook"])
        # Bob chooses Odoo -> Outlook only in his preferences
        self.user_bob.with_user(self.user_bob).write({"outlook_direction": "outbound"})
        self.outlook_meeting(BOB, "Bob's Outlook item")
        self.odoo_meeting(self.user_bob, "Bob's Odoo item")
        self.sync(self.mailbox_bob)
        self.assertEqual(self.count("Bob's Outlook item"), 0)
        self.assertIn("Bob's Odoo item", self.outlook_subjects(BOB))
        self.assertEqual(self.messages(), 0)

    def test_deleted_in_outlook_delete_or_keep(self):
        deleted, kept = self.outlook_meeting(ANNA, "Deleted"), self.outlook_meeting(ANNA, "Kept")
        self.sync(self.mailbox_anna)
        self.set_policy(delete_from_outlook="delete")
        self.emulator.outlook.delete_event(ANNA, deleted["id"])
        self.sync(self.mailbox_anna)
        self.assertEqual(self.count("Deleted"), 0)
        self.set_policy(delete_from_outlook="keep")
        self.emulator.outlook.delete_event(ANNA, kept["id"])
        self.sync(self.mailbox_anna)
        event = self.event_of(kept["iCalUId"])
        self.assertTrue(event.active)
        self.assertFalse(event.outlook_link_ids)

    def test_deleted_in_odoo_keep_or_delete(self):
        kept = self.odoo_meeting(self.user_anna, "Keep me", [self.client])
        gone = self.odoo_meeting(self.user_anna, "Delete me", [self.client])
        self.sync(self.mailbox_anna)
        self.emulator.reset_counters()
        self.set_policy(delete_from_odoo="keep")
        kept.with_user(self.user_anna).unlink()
        self.sync(self.mailbox_anna)
        self.assertIn("Keep me", self.outlook_subjects(ANNA))
        self.assertEqual(self.messages(), 0)
        self.set_policy(delete_from_odoo="delete")
        gone.with_user(self.user_anna).unlink()
        self.sync(self.mailbox_anna)
        self.assertNotIn("Delete me", self.outlook_subjects(ANNA))
        self.assertEqual(self.messages(), 1)  # the organizer's cancellation of a future meeting

    def test_private_event_with_attendees_both_ways(self):
        created = self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Medical",
                "sensitivity": "private",
                "body": {"contentType": "text", "content": "results"},
                "start": graph_time(self.tomorrow_at(8)),
                "end": graph_time(self.tomorrow_at(9)),
                "attendees": [{"type": "required", "emailAddress": {"address": "doctor@clinic.example"}}],
            },
        )
        private = self.odoo_meeting(
            self.user_anna, "Private lunch", [self.client], privacy="private", description="<p>secret</p>"
        )
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        self.assertEqual((event.privacy, event.partner_ids), ("private", self.user_anna.partner_id))
        self.assertFalse(event.description)
        copy = next(i for i in self.emulator.outlook.list_events(ANNA) if i["subject"] == "Private lunch")
        self.assertFalse(copy["attendees"])
        self.assertNotIn("secret", (copy.get("body") or {}).get("content", ""))
        self.assertEqual(self.messages(), 0)
        self.assertTrue(private.outlook_link_ids)

    def test_private_events_not_synced(self):
        self.set_policy(private_events="skip")
        self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Hidden",
                "sensitivity": "private",
                "start": graph_time(self.tomorrow_at(8)),
                "end": graph_time(self.tomorrow_at(9)),
            },
        )
        private = self.odoo_meeting(self.user_anna, "Odoo hidden", privacy="private")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.count("Hidden"), 0)
        self.assertNotIn("Odoo hidden", self.outlook_subjects(ANNA))
        self.assertIn("private", private.outlook_last_error)

    def test_internal_and_unmatched_events(self):
        self.set_policy(internal_events="skip", unmatched_events="skip")
        self.outlook_meeting(ANNA, "Team only", attendees=[BOB])
        self.outlook_meeting(ANNA, "Stranger", attendees=["nobody@unknown.example"])
        self.outlook_meeting(ANNA, "Customer call", attendees=["client@example.com"])
        internal = self.odoo_meeting(self.user_anna, "Odoo team only", [self.user_bob.partner_id])
        self.sync(self.mailbox_anna)
        self.assertEqual((self.count("Team only"), self.count("Stranger"), self.count("Customer call")), (0, 0, 1))
        self.assertNotIn("Odoo team only", self.outlook_subjects(ANNA))
        self.assertIn("internal", internal.outlook_last_error)

    def test_initial_range_and_window(self):
        self.emulator.add_mailbox("erin@contoso.test")
        erin = new_test_user(self.env, login="erin_user", name="Erin", email="erin@contoso.test")
        soon = self.outlook_meeting("erin@contoso.test", "Next week", start=self.tomorrow_at(9) + timedelta(days=6))
        later = self.outlook_meeting(
            "erin@contoso.test", "In two months", start=self.tomorrow_at(9) + timedelta(days=60)
        )
        self.env.cr.execute("SELECT now() at time zone 'UTC' + interval '1 minute'")
        mailbox = self.connect_mailbox(erin)
        # the items existed before the connection: only the initial range (a month) comes in
        mailbox.sudo().first_connected_at = datetime.now() + timedelta(minutes=1)
        self.sync(mailbox)
        self.assertEqual((self.count("Next week"), self.count("In two months")), (1, 0))
        # once changed in Outlook, the later one comes in too
        self.emulator.outlook.update_event("erin@contoso.test", later["id"], {"location": {"displayName": "Room"}})
        mailbox.sudo().first_connected_at = datetime.now() - timedelta(minutes=5)
        self.sync(mailbox)
        self.assertEqual(self.count("In two months"), 1)
        # moved beyond the inbound range: updated in Odoo, not deleted
        self.set_policy(future_days_in=30)
        self.emulator.outlook.update_event(
            "erin@contoso.test",
            soon["id"],
            {
                "start": graph_time(self.tomorrow_at(9) + timedelta(days=90)),
                "end": graph_time(self.tomorrow_at(10) + timedelta(days=90)),
            },
        )
        self.sync(mailbox)
        moved = self.event_of(soon["iCalUId"])
        self.assertTrue(moved.active)
        self.assertEqual(moved.start, self.tomorrow_at(9) + timedelta(days=90))

    def test_conflict_odoo_wins(self):
        self.set_policy(conflict_winner="odoo")
        event = self.odoo_meeting(self.user_anna, "Roadmap")
        self.sync(self.mailbox_anna)
        link = event.sudo().outlook_link_ids
        self.emulator.outlook.update_event(ANNA, link.graph_id, {"subject": "Roadmap (Outlook)"})
        event.with_user(self.user_anna).write({"name": "Roadmap (Odoo)"})
        self.sync(self.mailbox_anna)
        self.assertEqual(event.name, "Roadmap (Odoo)")
        self.assertEqual(self.emulator.outlook.get_event(ANNA, link.graph_id)["subject"], "Roadmap (Odoo)")
        self.assertTrue(event.message_ids.filtered(lambda m: "Roadmap (Outlook)" in str(m.body)))

    def test_attendee_cap_never_sends_a_truncated_list(self):
        self.set_policy(attendee_cap=2)
        guests = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
        created = self.outlook_meeting(ANNA, "Big meeting", attendees=guests)
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        self.assertEqual(
            sorted(event.partner_ids.mapped("email_normalized")), sorted([ANNA, "a@example.com", "b@example.com"])
        )
        self.assertIn("c@example.com", str(event.description))
        event.with_user(self.user_anna).write(
            {
                "name": "Big meeting (moved)",
                "partner_ids": [Command.unlink(event.partner_ids.filtered(lambda p: p.email == "b@example.com").id)],
            }
        )
        self.sync(self.mailbox_anna)
        copy = self.emulator.outlook.get_event(ANNA, created["id"])
        self.assertEqual(len(copy["attendees"]), 4, "Outlook keeps everybody")
        self.assertEqual(self.emulator.counters()["messages"][0]["kind"], "update")
        self.assertEqual(self.messages(), 4)  # the subject update, nobody cancelled

    def test_safe_description(self):
        event = self.odoo_meeting(self.user_anna, "Pitch", [self.client], description="<p>first</p>")
        self.sync(self.mailbox_anna)
        link = event.sudo().outlook_link_ids
        self.emulator.reset_counters()
        event.with_user(self.user_anna).write(
            {"description": "<p>internal thoughts</p>", "outlook_internal_note": "<p>never sent</p>"}
        )
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get("PATCH /v1.0/me/events/{id}", 0), 0)
        self.assertIn("first", self.emulator.outlook.get_event(ANNA, link.graph_id)["body"]["content"])
        event.with_user(self.user_anna).write({"name": "Pitch (new time)"})
        self.sync(self.mailbox_anna)
        body = self.emulator.outlook.get_event(ANNA, link.graph_id)["body"]["content"]
        self.assertIn("internal thoughts", body)  # the subject changed too: the description goes along
        self.assertNotIn("never sent", body)

    def test_declined_and_unanswered_meetings(self):
        declined = self.outlook_meeting(CAROL, "Declined", attendees=[ANNA])
        self.outlook_meeting(CAROL, "Unanswered", attendees=[ANNA])
        self.emulator.outlook.respond(ANNA, self.copy_in(ANNA, declined["iCalUId"])["id"], "declined")
        self.sync(self.mailbox_anna)
        self.assertEqual((self.count("Declined"), self.count("Unanswered")), (0, 1))
        self.outlook_meeting(CAROL, "Unanswered too", attendees=[BOB])
        self.set_policy(skip_unanswered="True")
        self.sync(self.mailbox_bob)
        self.assertEqual(self.count("Unanswered too"), 0)
        self.assertEqual(self.messages(), 0)

    def test_outlook_copies_of_synced_events_are_ignored(self):
        event = self.odoo_meeting(self.user_anna, "Original")
        self.sync(self.mailbox_anna)
        prefix = self.mailbox_anna._outlook_transaction_prefix()
        stamp = event.sudo().outlook_link_ids.graph_id and f"{prefix}{event.id}"
        self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Original (copy)",
                "start": graph_time(self.tomorrow_at(16)),
                "end": graph_time(self.tomorrow_at(17)),
                "singleValueExtendedProperties": [
                    {"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name OdooEventId", "value": stamp}
                ],
            },
        )
        self.sync(self.mailbox_anna)
        self.assertEqual(self.count("Original (copy)"), 0)

    def test_category_opt_in(self):
        self.set_policy(category_mode="True")
        tagged_item = self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Tracked",
                "categories": ["Odoo"],
                "start": graph_time(self.tomorrow_at(8)),
                "end": graph_time(self.tomorrow_at(9)),
            },
        )
        self.outlook_meeting(ANNA, "Untracked")
        self.sync(self.mailbox_anna)
        self.assertEqual((self.count("Tracked"), self.count("Untracked")), (1, 0))
        # the status category is written back, without a mail, and the next run sees nothing new
        self.assertIn("Odoo: synced", self.emulator.outlook.get_event(ANNA, tagged_item["id"])["categories"])
        self.assertEqual(self.event_of(tagged_item["iCalUId"]).categ_ids.mapped("name"), ["Odoo"])
        write_date = self.event_of(tagged_item["iCalUId"]).write_date
        self.sync(self.mailbox_anna)
        self.assertEqual(self.event_of(tagged_item["iCalUId"]).write_date, write_date)
        self.assertEqual(self.messages(), 0)
        self.emulator.outlook.update_event(ANNA, tagged_item["id"], {"categories": ["Odoo", "Odoo: unsync"]})
        self.sync(self.mailbox_anna)
        self.assertFalse(self.event_of(tagged_item["iCalUId"]).active)  # removed per the deletion policy

    def master_category_requests(self):
        return {key: n for key, n in self.emulator.counters()["requests"].items() if "masterCategories" in key}

    def tracked_item(self, address, subject, hour=8):
        return self.emulator.outlook.create_event(
            address,
            {
                "subject": subject,
                "categories": ["Odoo"],
                "start": graph_time(self.tomorrow_at(hour)),
                "end": graph_time(self.tomorrow_at(hour + 1)),
            },
        )

    def test_status_category_colors(self):
        self.set_policy(category_mode="True", color_categories="True")
        flow = self.env["outlook.mailbox"].with_user(self.user_anna)._outlook_start_connect()
        self.assertIn("MailboxSettings.ReadWrite", flow["auth_uri"])
        self.connect_mailbox(self.user_anna)  # Anna connects again and grants the extra permission
        self.emulator.reset_counters()
        first = self.tracked_item(ANNA, "Tracked 1")
        self.sync(self.mailbox_anna)
        self.assertIn("Odoo: synced", self.emulator.outlook.get_event(ANNA, first["id"])["categories"])
        master = self.emulator.store.mailbox(ANNA).master_categories
        self.assertEqual(
            sorted((c["displayName"], c["color"]) for c in master),
            [("Odoo sync error", "preset0"), ("Odoo: synced", "preset4")],
        )
        self.assertEqual(self.mailbox_anna.category_colors, "set")
        self.assertEqual(sum(self.master_category_requests().values()), 3)  # 1 GET, 2 POST
        # once per mailbox: the next status categories cost no request on the master list
        self.tracked_item(ANNA, "Tracked 2", hour=10)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.count("Tracked 2"), 1)
        self.assertEqual(sum(self.master_category_requests().values()), 3)
        # Bob connected before the setting: his categories are written, uncolored, and his sync goes on
        second = self.tracked_item(BOB, "Tracked by Bob")
        self.sync(self.mailbox_bob)
        self.assertIn("Odoo: synced", self.emulator.outlook.get_event(BOB, second["id"])["categories"])
        self.assertEqual(self.emulator.store.mailbox(BOB).master_categories, [])
        self.assertEqual((self.mailbox_bob.state, self.mailbox_bob.category_colors), ("connected", "not_granted"))
        self.assertEqual(sum(self.master_category_requests().values()), 3)
        # hours later (tokens refreshed): Microsoft refuses the missing permission (AADSTS65001), MSAL keeps
        # the refresh token, and Bob's calendar still syncs
        self.mailbox_bob.sudo().category_colors = "pending"
        later = self.tracked_item(BOB, "Tracked by Bob later", hour=12)
        self.emulator.reset_counters()
        with freeze_time(datetime.now() + timedelta(hours=2), tick=True):
            self.sync(self.mailbox_bob)
            self.assertEqual(self.mailbox_bob.category_colors, "not_granted")
            # one refresh for the calendar, one refused for the master list
            self.assertEqual(self.emulator.counters()["requests"].get("POST /{tenant}/oauth2/v2.0/token"), 2)
            self.assertIn("Odoo: synced", self.emulator.outlook.get_event(BOB, later["id"])["categories"])
            self.emulator.outlook.update_event(BOB, later["id"], {"subject": "Renamed by Bob"})
            self.sync(self.mailbox_bob)
        self.assertEqual(self.mailbox_bob.state, "connected")
        self.assertEqual(self.count("Renamed by Bob"), 1)
        self.assertEqual(self.messages(), 0)
        self.emulator.store.mailbox(ANNA).master_categories.clear()

    def test_no_extra_permission_without_colors(self):
        flow = self.env["outlook.mailbox"].with_user(self.user_anna)._outlook_start_connect()
        self.assertNotIn("MailboxSettings", flow["auth_uri"])

    def test_sync_filter_physical_and_logical(self):
        self.set_policy(sync_filter="[('location', '=', 'HQ')]")
        inside = self.odoo_meeting(self.user_anna, "At HQ", [self.client], location="HQ")
        outside = self.odoo_meeting(self.user_anna, "Elsewhere", [self.client], location="Home")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.outlook_subjects(ANNA), ["At HQ"])
        self.assertIn("filter", outside.outlook_last_error)
        inside.with_user(self.user_anna).write({"location": "Home"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.outlook_subjects(ANNA), [])  # physical: deleted (cancelled) in Outlook
        self.set_policy(sync_filter="[('location', '=', 'HQ')]", filter_removal="keep")
        outside.with_user(self.user_anna).write({"location": "HQ"})
        self.sync(self.mailbox_anna)
        outside.with_user(self.user_anna).write({"location": "Home"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.outlook_subjects(ANNA), ["Elsewhere"])  # logical: only unlinked

    def test_locked_event_refuses_outlook_edits(self):
        created = self.outlook_meeting(ANNA, "Signed contract", attendees=["client@example.com"])
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        event.outlook_locked = True
        self.emulator.outlook.update_event(ANNA, created["id"], {"subject": "Changed in Outlook"})
        self.sync(self.mailbox_anna)
        self.assertEqual(event.name, "Signed contract")
        self.assertEqual(event.sudo().outlook_link_ids.state, "conflict")
        self.assertIn("Odoo sync error", self.emulator.outlook.get_event(ANNA, created["id"])["categories"])
        self.assertEqual(self.messages(), 0)

    def test_invitations_checkbox_and_imports(self):
        quiet = self.odoo_meeting(self.user_anna, "No invitations", [self.client], outlook_send_invitations=False)
        imported = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .with_context(import_file=True)
            .create({"name": "Imported", "start": self.tomorrow_at(17), "stop": self.tomorrow_at(18)})
        )
        self.sync(self.mailbox_anna)
        copy = next(i for i in self.emulator.outlook.list_events(ANNA) if i["subject"] == "No invitations")
        self.assertFalse(copy["attendees"])
        self.assertNotIn("Imported", self.outlook_subjects(ANNA))
        self.assertEqual(self.messages(), 0)
        self.assertIn(self.client, quiet.partner_ids)  # the attendees stay in Odoo
        imported.with_user(self.user_anna).action_outlook_push()
        self.sync(self.mailbox_anna)
        self.assertIn("Imported", self.outlook_subjects(ANNA))

    def test_past_events_go_inactive(self):
        start = datetime.now().replace(microsecond=0) - timedelta(days=40)
        created = self.outlook_meeting(ANNA, "Old review", start=start)
        self.set_policy(past_days=90)
        self.mailbox_anna.sudo().write({"delta_link": False})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.count("Old review"), 0, "ended more than 30 days ago: not imported")
        self.set_policy(past_days=90, inactive_after_days=60)
        self.mailbox_anna.sudo().write({"delta_link": False})
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        self.set_policy(past_days=90, inactive_after_days=30)
        self.emulator.outlook.update_event(ANNA, created["id"], {"subject": "Old review (edited)"})
        self.sync(self.mailbox_anna)
        self.assertEqual((event.name, event.outlook_sync_state), ("Old review", "inactive"))

    def test_deleted_series_under_each_policy(self):
        for policy, expected_active in (("archive", False), ("keep", True), ("delete", None)):
            self.set_policy(delete_from_outlook=policy)
            start = self.tomorrow_at(7)
            series = self.emulator.outlook.create_event(
                ANNA,
                {
                    "subject": f"Series {policy}",
                    "start": graph_time(start),
                    "end": graph_time(start + timedelta(minutes=30)),
                    "recurrence": {
                        "pattern": {"type": "daily", "interval": 1},
                        "range": {"type": "numbered", "startDate": str(start.date()), "numberOfOccurrences": 3},
                    },
                },
            )
            self.sync(self.mailbox_anna)
            self.assertEqual(self.count(f"Series {policy}"), 3)
            self.emulator.outlook.delete_event(ANNA, series["id"])
            self.sync(self.mailbox_anna)
            events = (
                self.env["calendar.event"].with_context(active_test=False).search([("name", "=", f"Series {policy}")])
            )
            if expected_active is None:
                self.assertFalse(events)
            else:
                self.assertEqual(len(events), 3)
                self.assertEqual(set(events.mapped("active")), {expected_active})
        self.assertEqual(self.messages(), 0)
