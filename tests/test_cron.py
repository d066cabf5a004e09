"""The periodic sync cron: claims mailboxes, renews tokens, and tells users when they must reconnect."""

from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import ANNA, CLIENT_SECRET, OutlookEmulatorMixin

TOKEN = "POST /{tenant}/oauth2/v2.0/token"


@tagged("post_install", "-at_install")
class TestSyncCron(OutlookEmulatorMixin, TransactionCase):
    def setUp(self):
        super().setUp()
        self.mailbox_anna = self.connect_mailbox(self.user_anna)
        self.mailbox_bob = self.connect_mailbox(self.user_bob)
        self.cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")
        self.emulator.reset_counters()

    def run_cron_later(self, hours=2):
        """Run the cron as ir.cron would, some hours after the connection (access tokens aged out)."""
        with freeze_time(datetime.now() + timedelta(hours=hours), tick=True):
            self.cron.method_direct_trigger()
        self.env.invalidate_all()

    def test_connected_mailboxes_renew_tokens(self):
        caches_before = (self.mailbox_anna._outlook_token_cache(), self.mailbox_bob._outlook_token_cache())
        self.run_cron_later()
        self.assertEqual(self.emulator.counters()["requests"].get(TOKEN), 2)  # one refresh per mailbox
        for mailbox, before in zip((self.mailbox_anna, self.mailbox_bob), caches_before, strict=False):
            self.assertEqual(mailbox.state, "connected")
            self.assertTrue(mailbox.last_sync_at)
            self.assertFalse(mailbox.last_error)
            self.assertNotEqual(mailbox._outlook_token_cache(), before)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_fresh_tokens_need_no_request(self):
        self.cron.method_direct_trigger()
        counted = self.emulator.counters()["requests"]
        self.assertEqual(counted.get(TOKEN, 0), 0)
        # the authority's discovery document is read once per run, not once per mailbox
        self.assertEqual(sum(n for endpoint, n in counted.items() if "openid-configuration" in endpoint), 1)
        self.assertTrue(self.mailbox_anna.last_sync_at)

    def test_revoked_grant_asks_that_user_to_reconnect(self):
        self.emulator.revoke_refresh_tokens(ANNA)
        self.run_cron_later()
        self.assertEqual(self.mailbox_anna.state, "reconnect")
        self.assertIn("AADSTS700082", self.mailbox_anna.last_error)
        activity = self.mailbox_anna.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.user_anna)
        self.assertIn("Reconnect", activity.summary)
        self.assertEqual(
            self.user_anna.with_user(self.user_anna).check_synchronization_status()["outlook_calendar_sync"],
            "reconnect",
        )
        # one user's failure does not stop the others
        self.assertEqual(self.mailbox_bob.state, "connected")
        self.assertTrue(self.mailbox_bob.last_sync_at)
        # a later run skips the parked mailbox and schedules no second activity
        self.run_cron_later(hours=4)
        self.assertEqual(len(self.mailbox_anna.activity_ids), 1)

        # reconnecting resumes cleanly and closes the activity
        self.connect_mailbox(self.user_anna)
        self.assertEqual(self.mailbox_anna.state, "connected")
        self.assertFalse(self.mailbox_anna.last_error)
        self.assertFalse(self.mailbox_anna.activity_ids)

    @mute_logger("odoo.addons.outlook_calendar_sync.models.outlook_mailbox")
    def test_wrong_secret_stops_the_run_and_tells_the_admin(self):
        self.configure_outlook(**{"outlook_calendar_sync.client_secret": "expired-secret"})
        self.run_cron_later()
        problem = self.env["ir.config_parameter"].sudo().get_param("outlook_calendar_sync.config_error")
        self.assertIn("AADSTS7000215", problem)
        # the first mailbox hit the error; the run stopped instead of failing every user the same way
        attempted = (self.mailbox_anna | self.mailbox_bob).filtered("last_error")
        self.assertEqual(len(attempted), 1)
        self.assertEqual(attempted.state, "connected")  # not the user's fault: no reconnect asked
        self.configure_outlook(**{"outlook_calendar_sync.client_secret": CLIENT_SECRET})

    def test_transient_failure_keeps_connection(self):
        self.emulator.inject_fault("status", path=r"/oauth2/v2\.0/token", status=503, count=50)  # beyond the retries
        self.run_cron_later()
        for mailbox in self.mailbox_anna | self.mailbox_bob:
            self.assertEqual(mailbox.state, "connected")
            self.assertTrue(mailbox.last_error)
        self.emulator.clear_faults()
        self.run_cron_later(hours=3)
        self.assertFalse((self.mailbox_anna | self.mailbox_bob).filtered("last_error"))
