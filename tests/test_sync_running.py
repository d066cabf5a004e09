"""How the sync runs: cron cadence, on-demand requests, and Odoo's own mails for synced organizers."""

from datetime import timedelta

from odoo import Command, fields
from odoo.tests import TransactionCase, tagged

from .common import OutlookSyncCase


@tagged("post_install", "-at_install")
class TestSyncRunning(OutlookSyncCase, TransactionCase):
    def setUp(self):
        super().setUp()
        self.cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")
        self.client = self.env["res.partner"].create({"name": "Client", "email": "client@example.com"})

    def triggers(self):
        return self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)])

    def test_no_double_invitations_for_connected_organizers(self):
        start = self.tomorrow_at(11)
        mails = self.env["mail.mail"].search_count([])
        self.env["calendar.event"].with_user(self.user_anna).create(
            {
                "name": "Pricing call",
                "start": start,
                "stop": start + timedelta(hours=1),
                "partner_ids": [Command.set([self.user_anna.partner_id.id, self.client.id])],
            }
        )
        self.assertEqual(self.env["mail.mail"].search_count([]), mails, "Exchange invites, not Odoo")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["messages_sent"], 1)
        # an organizer without Outlook keeps Odoo's own invitation
        admin = self.env.ref("base.user_admin")
        self.env["calendar.event"].with_user(admin).create(
            {
                "name": "Odoo-only call",
                "start": start,
                "stop": start + timedelta(hours=1),
                "partner_ids": [Command.set([admin.partner_id.id, self.client.id])],
            }
        )
        self.assertGreater(self.env["mail.mail"].search_count([]), mails)

    def test_opening_the_calendar_requests_a_sync_at_most_every_two_minutes(self):
        anna_users = self.env["res.users"].with_user(self.user_anna).browse(self.user_anna.id)
        # connecting asked for a first sync; some minutes later the Calendar is opened again
        self.mailbox_anna.sudo().write({"sync_requested_at": fields.Datetime.now() - timedelta(minutes=5)})
        before = self.triggers()
        self.assertEqual(anna_users.check_synchronization_status()["outlook_calendar_sync"], "connected")
        self.assertEqual(self.triggers(), before + 1)
        self.assertTrue(self.mailbox_anna.sync_requested_at)
        anna_users.check_synchronization_status()
        self.assertEqual(self.triggers(), before + 1, "rate-limited")
        anna_users.action_outlook_connect_or_sync()  # the button always asks
        self.assertEqual(self.triggers(), before + 2)

    def test_cron_runs_stale_or_requested_mailboxes_only(self):
        self.cron.method_direct_trigger()
        attempts = (self.mailbox_anna.last_attempt_at, self.mailbox_bob.last_attempt_at)
        self.assertTrue(all(attempts))
        # a minute later nothing is due: the cron runs every 10 minutes
        (self.mailbox_anna | self.mailbox_bob).sudo().write(
            {
                "last_attempt_at": fields.Datetime.now() - timedelta(minutes=1),
                "sync_requested_at": fields.Datetime.now() - timedelta(minutes=2),
            }
        )
        self.env["outlook.mailbox"].browse(self.mailbox_anna.id)._outlook_request_sync(force=True)
        bob_attempt = self.mailbox_bob.last_attempt_at
        self.emulator.reset_counters()
        self.cron.method_direct_trigger()
        self.assertGreater(self.mailbox_anna.last_attempt_at, bob_attempt)
        self.assertEqual(self.mailbox_bob.last_attempt_at, bob_attempt, "Bob was synced a minute ago")
        self.assertEqual(self.emulator.counters()["by_mailbox"].keys() - {"anna@contoso.test"}, set())

    def test_interval_setting_moves_the_cron(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.outlook_sync_interval, 10)
        settings.outlook_sync_interval = 5
        settings.execute()
        self.assertEqual((self.cron.interval_number, self.cron.interval_type), (5, "minutes"))

    def test_each_run_is_logged_with_its_counts(self):
        self.outlook_meeting("anna@contoso.test", "Logged in")
        self.env["calendar.event"].with_user(self.user_anna).create(
            {"name": "Logged out", "start": self.tomorrow_at(16), "stop": self.tomorrow_at(17)}
        )
        self.sync(self.mailbox_anna)
        log = self.env["outlook.sync.log"].search([("mailbox_id", "=", self.mailbox_anna.id)], limit=1)
        self.assertEqual((log.state, log.created_in, log.created_out, log.errors), ("success", 1, 1, 0))
        self.assertEqual(log.graph_requests, self.emulator.counters()["by_mailbox"]["anna@contoso.test"])
        self.emulator.expire_access_tokens("anna@contoso.test")  # Graph answers 401 to the cached token ...
        self.emulator.revoke_refresh_tokens("anna@contoso.test")  # ... and Entra refuses the refresh
        self.sync(self.mailbox_anna, expect_error=True)
        log = self.env["outlook.sync.log"].search([("mailbox_id", "=", self.mailbox_anna.id)], limit=1)
        self.assertEqual(log.state, "error")
        self.assertTrue(log.message)
        # users read their own runs only
        self.assertFalse(
            self.env["outlook.sync.log"].with_user(self.user_bob).search([("mailbox_id", "=", self.mailbox_anna.id)])
        )
