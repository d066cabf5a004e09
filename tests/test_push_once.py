"""Odoo -> Microsoft 365: a PATCH is applied once. It carries the change key of the copy as last synced
(``If-Match``), so the same request sent again (its answer was lost, urllib3 or the next run retried it) is
refused by Graph instead of mailing every attendee a second update."""

from collections import Counter
from datetime import timedelta

from odoo import Command
from odoo.tests import TransactionCase, tagged

from .common import ANNA, BOB, OutlookSyncCase

GUEST = "client@example.com"


@tagged("post_install", "-at_install")
class TestPushOnce(OutlookSyncCase, TransactionCase):
    def pushed(self, count):
        start = self.tomorrow_at(8)
        guests = self.env["res.partner"].create([{"name": "Bob", "email": BOB}, {"name": "Client", "email": GUEST}])
        events = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create(
                [
                    {
                        "name": f"Review {index}",
                        "start": start + timedelta(hours=index),
                        "stop": start + timedelta(hours=index, minutes=30),
                        "partner_ids": [Command.set((self.user_anna.partner_id | guests).ids)],
                    }
                    for index in range(count)
                ]
            )
        )
        self.sync(self.mailbox_anna)
        self.emulator.reset_counters()
        return events

    def mailed(self):
        kinds = ("invitation", "update", "cancellation")
        return Counter(m["kind"] for m in self.emulator.counters()["messages"] if m["kind"] in kinds)

    def graph_copy(self, event):
        return self.emulator.outlook.get_event(ANNA, event.sudo().outlook_link_ids.graph_id)

    def test_a_patch_whose_answer_is_lost_mails_once(self):
        """Any push, held or not: the PATCH carries the copy's change key, so the request sent again after
        a dropped answer is refused instead of mailing every attendee a second update."""
        event = self.pushed(1)
        event.with_user(self.user_anna).write({"name": "Sent once"})
        self.emulator.inject_fault("drop", method="POST", path=r"/\$batch$", when="after", count=1)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=2))
        self.assertEqual(self.graph_copy(event)["subject"], "Sent once")
        self.assertFalse(event.outlook_dirty)
        # Outlook's copy changed after the run read it (here: a change key out of date, and no pull that would
        # read the copy first): the PATCH is sent over it, once
        self.user_anna.outlook_direction = "outbound"
        event.sudo().outlook_link_ids.change_key = "stale"
        event.with_user(self.user_anna).write({"name": "Sent over a newer copy"})
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=4))
        self.assertEqual(self.graph_copy(event)["subject"], "Sent over a newer copy")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailed(), Counter(update=4))
