"""The invitation budget: one run mailing attendees more than the threshold holds those changes until a person
confirms them; everything else keeps syncing. Message counts are the emulator's (what Exchange would send)."""

from collections import Counter
from datetime import timedelta

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.models.outlook_held import PARAM_INVITATION_BUDGET
from odoo.addons.outlook_calendar_sync.models.outlook_mailbox import LOCK_NAMESPACE

from .common import ANNA, BOB, CAROL, OutlookSyncCase

GUEST = "client@example.com"
MAILING_KINDS = ("invitation", "update", "cancellation")


@tagged("post_install", "-at_install")
class TestInvitationBudget(OutlookSyncCase, TransactionCase):
    def setUp(self):
        super().setUp()
        self.set_budget(50)
        self.guests = self.partner(BOB) | self.partner(GUEST)

    def set_budget(self, value):
        self.env["ir.config_parameter"].sudo().set_param(PARAM_INVITATION_BUDGET, str(value))

    def partner(self, email):
        return self.env["res.partner"].search([("email", "=", email)], limit=1) or self.env["res.partner"].create(
            {"name": email.split("@")[0].title(), "email": email}
        )

    def meetings(self, count, name="Review", guests=None, start=None, **values):
        """``count`` meetings Anna organizes with the guests, created at once."""
        start = start or self.tomorrow_at(8)
        guests = self.guests if guests is None else guests
        return (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create(
                [
                    {
                        "name": f"{name} {index}",
                        "start": start + timedelta(minutes=30 * index),
                        "stop": start + timedelta(minutes=30 * index + 30),
                        "partner_ids": [Command.set((self.user_anna.partner_id | guests).ids)],
                        **values,
                    }
                    for index in range(count)
                ]
            )
        )

    def pushed(self, count, **values):
        """Meetings already in Outlook (pushed without any budget), counters reset."""
        self.set_budget(0)
        events = self.meetings(count, **values)
        self.sync(self.mailbox_anna)
        self.set_budget(50)
        self.emulator.reset_counters()
        return events

    def mailed(self):
        """``Counter`` of the messages to attendees the emulator counted, by kind."""
        return Counter(m["kind"] for m in self.emulator.counters()["messages"] if m["kind"] in MAILING_KINDS)

    def batches(self, mailbox=None):
        return self.env["outlook.held.batch"].search([("mailbox_id", "=", (mailbox or self.mailbox_anna).id)])

    def graph_copy(self, event, address=ANNA):
        link = event.sudo().outlook_link_ids.filtered(lambda link: link.mailbox_id.address == address)
        self.assertEqual(len(link), 1, event.name)
        return self.emulator.outlook.get_event(address, link.graph_id)

    def assert_same_times(self, events):
        """Both calendars equal: each Outlook copy starts and ends when its Odoo event does."""
        for event in events:
            copy = self.graph_copy(event)
            self.assertEqual(copy["start"]["dateTime"][:19], event.start.isoformat(), event.name)
            self.assertEqual(copy["end"]["dateTime"][:19], event.stop.isoformat(), event.name)

    # ------------------------------------------------------------
    # The mass edit of the issue
    # ------------------------------------------------------------

    def test_mass_edit_of_200_meetings_waits_for_a_confirmation(self):
        events = self.pushed(200)
        bystander = self.pushed(1, name="Bystander")
        carol = self.outlook_meeting(CAROL, "Carol's review", attendees=[ANNA])
        self.sync(self.mailbox_anna)
        invited = self.event_of(carol["iCalUId"])
        self.emulator.reset_counters()

        # one write moves the 200 meetings; meanwhile changes that mail nobody, and Outlook's own changes
        moved = self.tomorrow_at(15)
        events.with_user(self.user_anna).write({"start": moved, "stop": moved + timedelta(hours=1)})
        tag = self.env["calendar.event.type"].create({"name": "Blue"})
        bystander.with_user(self.user_anna).write({"categ_ids": [Command.set(tag.ids)]})  # a local field
        alone = self.meetings(1, name="Focus time", guests=self.env["res.partner"])  # an appointment
        invited.attendee_ids.filtered(lambda a: a.partner_id == self.user_anna.partner_id).with_user(
            self.user_anna
        ).do_accept()
        from_outlook = self.outlook_meeting(ANNA, "Planned in Outlook", attendees=[GUEST])
        self.emulator.reset_counters()
        self.sync(self.mailbox_anna)

        self.assertEqual(self.mailed(), Counter(), "nothing mails an attendee before a person confirms")
        batch = self.batches()
        self.assertEqual(len(batch), 1)
        self.assertEqual((batch.state, batch.event_count, batch.message_count), ("held", 200, 400))
        self.assertEqual((batch.update_count, batch.invitation_count, batch.cancellation_count), (400, 0, 0))
        line = batch.line_ids.filtered(lambda line: line.event_id == events[0])
        self.assertEqual((line.action, line.message_count), ("patch", 2))
        self.assertEqual(sorted(line.addresses), sorted([BOB, GUEST]))
        self.assertIn(GUEST, line.recipients)
        self.assertTrue(all(events.mapped("outlook_dirty")))
        self.assertIn("Held", events[0].outlook_last_error)
        self.assertNotEqual(self.graph_copy(events[0])["start"]["dateTime"][:19], moved.isoformat())
        # ... while everything else synced
        self.assertEqual(self.graph_copy(bystander)["categories"], ["Blue"])
        self.assertTrue(alone.outlook_link_ids)
        self.assertTrue(self.event_of(from_outlook["iCalUId"]))
        self.assertEqual([m["kind"] for m in self.emulator.counters()["messages"]], ["response"])
        # the user is told, and the admin sees it
        activity = batch.activity_ids
        self.assertEqual((len(activity), activity.user_id), (1, self.user_anna))
        self.assertEqual(self.mailbox_anna.held_message_count, 400)
        row = self.env["outlook.dashboard"].search([("user_id", "=", self.user_anna.id)])
        self.assertEqual(row.held_messages, 400)
        self.assertEqual(self.user_anna.with_user(self.user_anna).outlook_held_messages, 400)

        # a later run keeps it held and mails nobody
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter())

        batch.with_user(self.user_anna).action_outlook_send_held()
        self.assertEqual(batch.state, "confirmed")
        self.assertFalse(batch.activity_ids)
        self.assertEqual(batch.confirmed_messages, 400)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=400), "one update per attendee per meeting")
        self.assertEqual((batch.state, batch.sent_count), ("sent", 400))
        self.assertFalse(any(events.mapped("outlook_dirty")))
        self.assert_same_times(events | bystander)
        self.assertEqual(self.graph_copy(events[-1])["start"]["dateTime"][:19], moved.isoformat())

        # confirming again, and more runs, send nothing more
        batch.with_user(self.user_anna).action_outlook_send_held()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=400))

    def test_below_the_threshold_nothing_is_held(self):
        events = self.pushed(25)  # 25 meetings x 2 guests = 50 messages: the limit itself
        quiet = self.pushed(30, name="Quiet", outlook_send_invitations=False)
        moved = self.tomorrow_at(16)
        (events | quiet).with_user(self.user_anna).write({"start": moved, "stop": moved + timedelta(hours=1)})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=50))
        self.assertFalse(self.batches())
        self.assert_same_times(events | quiet)
        # one more attendee on one meeting: a single save goes out as before
        events[0].with_user(self.user_anna).write({"partner_ids": [Command.link(self.partner("dana@example.com").id)]})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=50, invitation=1))
        self.assertFalse(self.batches())

    def test_a_single_save_goes_out_while_a_batch_is_held(self):
        self.set_budget(3)
        held = self.pushed(2)
        other = self.pushed(1, name="Other")
        self.set_budget(3)
        held.with_user(self.user_anna).write({"location": "Room 4"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.batches().message_count, 4)
        other.with_user(self.user_anna).write({"location": "Room 5"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=2))
        self.assertEqual(self.graph_copy(other)["location"]["displayName"], "Room 5")
        self.assertEqual(self.batches().message_count, 4)

    # ------------------------------------------------------------
    # Held changes follow the events; confirmation is sent once
    # ------------------------------------------------------------

    def test_edits_merge_and_a_deleted_meeting_becomes_a_cancellation(self):
        self.set_budget(5)
        pushed = self.pushed(3)
        self.set_budget(5)
        renamed, deleted, kept = pushed
        pushed.with_user(self.user_anna).write({"location": "Room 1"})
        brand_new = self.meetings(1, name="Never sent")
        self.sync(self.mailbox_anna)
        batch = self.batches()
        self.assertEqual((batch.event_count, batch.message_count, batch.invitation_count), (4, 8, 2))

        renamed.with_user(self.user_anna).write({"name": "Renamed while held"})
        deleted.with_user(self.user_anna).unlink()
        brand_new.with_user(self.user_anna).unlink()  # Outlook never had it: nothing to send
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter())
        self.assertEqual(batch.event_count, 3)
        cancellation = batch.line_ids.filtered(lambda line: line.action == "cancel")
        self.assertEqual((len(cancellation), cancellation.message_count, cancellation.state), (1, 2, "held"))
        self.assertEqual(batch.line_ids.filtered(lambda line: not line.event_id and not line.link_id).state, "dropped")
        self.assertIn("Renamed while held", batch.line_ids.mapped("name"))

        batch.with_user(self.user_anna).action_outlook_send_held()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=4, cancellation=2))
        self.assertEqual(self.graph_copy(renamed)["subject"], "Renamed while held")
        self.assertEqual(self.graph_copy(kept)["location"]["displayName"], "Room 1")
        self.assertEqual(len(self.emulator.outlook.list_events(ANNA)), 2)
        self.assertEqual(batch.state, "sent")

    def test_confirmed_batch_is_sent_once_when_its_answer_is_lost(self):
        self.set_budget(3)
        events = self.pushed(4)
        self.set_budget(3)
        moved = self.tomorrow_at(17)
        events.with_user(self.user_anna).write({"start": moved, "stop": moved + timedelta(hours=1)})
        self.sync(self.mailbox_anna)
        batch = self.batches()
        batch.with_user(self.user_anna).action_outlook_send_held()
        batch.with_user(self.user_anna).action_outlook_send_held()  # twice
        # Graph applies the $batch, then the connection drops: the request is sent again
        self.emulator.inject_fault("drop", method="POST", path=r"/\$batch$", when="after", count=1)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get("POST /v1.0/$batch"), 2)
        self.assertEqual(self.mailed(), Counter(update=8), "a retried PATCH mails nobody twice")
        self.assertEqual(batch.state, "sent")
        self.assert_same_times(events)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=8))

    def series(self, name, count=4):
        start = self.tomorrow_at(14)
        event = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create(
                {
                    "name": name,
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "partner_ids": [Command.set((self.user_anna.partner_id | self.guests).ids)],
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

    def test_series_operations_are_held_too(self):
        self.set_budget(3)
        first, second = self.series("Weekly A"), self.series("Weekly B")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter())
        batch = self.batches()
        self.assertEqual(batch.line_ids.mapped("is_series"), [True, True])
        self.assertEqual((batch.message_count, batch.invitation_count), (4, 4))
        self.assertFalse((first | second).sudo().outlook_series_link_ids)
        self.assertTrue(all((first | second).calendar_event_ids.mapped("outlook_dirty")))
        self.sync(self.mailbox_anna)  # the occurrences wait with their series
        self.assertFalse((first | second).calendar_event_ids.sudo().outlook_link_ids)

        batch.with_user(self.user_anna).action_outlook_send_held()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(invitation=4), "one invitation per attendee per series")
        self.assertEqual(batch.state, "sent")
        for recurrence in first | second:
            self.assertEqual(len(recurrence.sudo().outlook_series_link_ids), 1)
            self.assertEqual(len(recurrence.calendar_event_ids.sudo().outlook_link_ids), 4)

        # "all events" edits of both series: one update per attendee and series, held, then sent
        for recurrence in first | second:
            base = recurrence.calendar_event_ids.sorted("start")[0]
            base.with_user(self.user_anna).write({"name": f"{base.name} (renamed)", "recurrence_update": "all_events"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(invitation=4))
        renamed = self.batches() - batch
        self.assertEqual((renamed.message_count, renamed.update_count), (4, 4))
        renamed.with_user(self.user_anna).action_outlook_send_held()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(invitation=4, update=4))
        subjects = sorted(item["subject"] for item in self.emulator.outlook.list_events(ANNA) if item.get("recurrence"))
        self.assertEqual(subjects, ["Weekly A (renamed)", "Weekly B (renamed)"])

    def test_discarded_series_stays_in_odoo(self):
        self.set_budget(1)
        recurrence = self.series("Weekly C")
        self.sync(self.mailbox_anna)
        batch = self.batches()
        self.assertEqual(batch.message_count, 2)
        batch.with_user(self.user_anna).action_outlook_discard_held()
        self.sync(self.mailbox_anna)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter())
        self.assertFalse(self.emulator.outlook.list_events(ANNA))
        events = recurrence.calendar_event_ids
        self.assertFalse(any(events.mapped("outlook_dirty")))
        self.assertEqual(set(events.mapped("outlook_sync_state")), {"not_synced"})

    def test_a_run_that_dies_while_sending_is_not_sent_twice(self):
        self.set_budget(3)
        events = self.pushed(4)
        self.set_budget(3)
        events.with_user(self.user_anna).write({"location": "Room 9"})
        self.sync(self.mailbox_anna)
        batch = self.batches()
        batch.with_user(self.user_anna).action_outlook_send_held()
        # Graph applies the first $batch, then every answer is lost: the run fails after the changes went out
        self.emulator.inject_fault("drop", method="POST", path=r"/\$batch$", when="after", count=20)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assertTrue(self.mailbox_anna.last_error)
        self.assertEqual(self.mailed(), Counter(update=8))
        self.assertEqual(set(batch.line_ids.mapped("state")), {"sending"})
        self.emulator.clear_faults()
        self.sync(self.mailbox_anna)  # the next run finds the changes in Outlook: nothing is sent again
        self.assertEqual(self.mailed(), Counter(update=8))
        self.assertEqual((batch.state, batch.sent_count), ("sent", 8))
        self.assertEqual({self.graph_copy(event)["location"]["displayName"] for event in events}, {"Room 9"})
        self.assertFalse(any(events.mapped("outlook_dirty")))

    # ------------------------------------------------------------
    # Discard
    # ------------------------------------------------------------

    def test_discard_sends_nothing_and_keeps_outlooks_version(self):
        self.set_budget(3)
        events = self.pushed(3)
        self.set_budget(3)
        before = {event.id: (event.start, event.stop) for event in events}
        changed, removed, _kept = events
        moved = self.tomorrow_at(18)
        (changed | _kept).with_user(self.user_anna).write({"start": moved, "stop": moved + timedelta(hours=1)})
        removed.with_user(self.user_anna).unlink()
        created = self.meetings(1, name="New")
        self.sync(self.mailbox_anna)
        batch = self.batches()
        self.assertEqual(batch.message_count, 8)
        batch.with_user(self.user_anna).action_outlook_discard_held()
        self.assertEqual(batch.state, "discarded")
        self.sync(self.mailbox_anna)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter())
        # changed meetings took Outlook's version back: both calendars equal again
        for event in changed | _kept:
            self.assertEqual((event.start, event.stop), before[event.id])
            self.assertFalse(event.outlook_dirty)
        self.assert_same_times(changed | _kept)
        self.assertEqual(len(self.emulator.outlook.list_events(ANNA)), 3)  # the removed meeting stays
        self.assertFalse(created.outlook_link_ids)
        self.assertEqual(created.outlook_sync_state, "not_synced")
        self.assertIn("discarded", created.outlook_last_error)
        # a person sending the new meeting later sends it
        created.with_user(self.user_anna).action_outlook_push()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(invitation=2))

    # ------------------------------------------------------------
    # Who may decide
    # ------------------------------------------------------------

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule")
    def test_only_the_owner_or_an_admin_decides(self):
        self.set_budget(1)
        events = self.pushed(1)
        self.set_budget(1)
        events.with_user(self.user_anna).write({"name": "Moved"})
        self.sync(self.mailbox_anna)
        batch = self.batches()
        self.assertEqual(batch.state, "held")
        self.assertFalse(self.env["outlook.held.batch"].with_user(self.user_bob).search([]))
        self.assertFalse(self.env["outlook.held.line"].with_user(self.user_bob).search([]))
        for action in ("action_outlook_send_held", "action_outlook_discard_held"):
            with self.assertRaises(AccessError):
                getattr(batch.with_user(self.user_bob), action)()
        portal = new_test_user(self.env, login="portal_budget", groups="base.group_portal")
        with self.assertRaises(AccessError):
            batch.with_user(portal).action_outlook_send_held()
        self.assertEqual(batch.state, "held")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter())
        admin = new_test_user(self.env, login="admin_budget", groups="base.group_user,base.group_system")
        batch.with_user(admin).action_outlook_send_held()
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=2))

    def test_discard_waits_for_a_running_sync(self):
        self.set_budget(1)
        events = self.pushed(1)
        self.set_budget(1)
        events.with_user(self.user_anna).write({"name": "Moved"})
        self.sync(self.mailbox_anna)
        batch = self.batches()
        with self.registry.cursor() as other:  # another worker syncing this mailbox holds its lock
            other.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, self.mailbox_anna.id])
            with self.assertRaises(UserError):
                batch.with_user(self.user_anna).action_outlook_discard_held()
            other.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, self.mailbox_anna.id])
        self.assertEqual(batch.state, "held")
        batch.with_user(self.user_anna).action_outlook_discard_held()
        self.assertEqual(batch.state, "discarded")

    def test_the_threshold_is_a_setting(self):
        self.env["ir.config_parameter"].sudo().set_param(PARAM_INVITATION_BUDGET, False)
        self.assertEqual(self.env["outlook.mailbox"]._outlook_invitation_budget(), 50)
        settings = self.env["res.config.settings"].create({"outlook_invitation_budget": 7})
        settings.execute()
        self.assertEqual(self.env["outlook.mailbox"]._outlook_invitation_budget(), 7)
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create({"outlook_invitation_budget": -1})
