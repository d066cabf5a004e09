"""A 401 from Graph on a token MSAL still holds as valid does not disconnect the user: one refresh, one more try."""

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import ANNA, OutlookSyncCase

TOKEN_ROUTE = "POST /{tenant}/oauth2/v2.0/token"
DELTA = r"calendarView/delta"
QUIET = ("odoo.addons.outlook_calendar_sync.models.outlook_mailbox",)


@tagged("post_install", "-at_install")
class TestUnauthorizedToken(OutlookSyncCase, TransactionCase):
    def token_requests(self):
        return self.emulator.counters()["requests"].get(TOKEN_ROUTE, 0)

    def assert_connected_and_synced(self, subject):
        self.assertEqual(self.mailbox_anna.state, "connected")
        self.assertFalse(self.mailbox_anna.last_error)
        self.assertTrue(self.env["calendar.event"].search([("name", "=", subject)]))
        # the connect flow's token request and the forced refresh
        self.assertEqual(self.token_requests(), 1, "one refresh after the connect flow's token: 2 token requests")

    def assert_reconnect_needed(self):
        self.assertEqual(self.mailbox_anna.state, "reconnect")
        self.assertTrue(self.mailbox_anna.activity_ids.filtered(lambda a: a.summary.startswith("Reconnect")))

    def test_token_revoked_server_side_is_refreshed_and_the_run_goes_on(self):
        self.outlook_meeting(ANNA, "After the revocation")
        self.emulator.revoke_access_tokens(ANNA)  # MSAL's cache still holds it as valid
        self.sync(self.mailbox_anna)
        self.assert_connected_and_synced("After the revocation")
        self.assertEqual(self.emulator.counters()["status"].get("401"), 1)
        self.outlook_meeting(ANNA, "Next run")
        self.sync(self.mailbox_anna)  # the refreshed token was stored: no refresh again
        self.assertEqual(self.token_requests(), 1)

    def test_one_401_then_success_keeps_the_mailbox_connected(self):
        self.outlook_meeting(ANNA, "Clock skew")
        self.emulator.inject_fault("status", path=DELTA, status=401, count=1)
        self.sync(self.mailbox_anna)
        self.assert_connected_and_synced("Clock skew")

    @mute_logger(*QUIET)
    def test_refused_refresh_needs_reconnection(self):
        self.emulator.revoke_access_tokens(ANNA)
        self.emulator.revoke_refresh_tokens(ANNA)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assert_reconnect_needed()
        self.assertIn("renewed", self.mailbox_anna.last_error)

    @mute_logger(*QUIET)
    def test_401_twice_needs_reconnection(self):
        self.emulator.inject_fault("status", path=DELTA, status=401, count=2)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assert_reconnect_needed()
        self.assertEqual(self.token_requests(), 1, "one refresh, never a loop")

    def test_batched_push_refused_once_is_sent_again(self):
        self.env["calendar.event"].with_user(self.user_anna).create(
            {"name": "Pushed after a 401", "start": self.tomorrow_at(10), "stop": self.tomorrow_at(11)}
        )
        self.emulator.inject_fault("status", method="POST", path=r"/me/events$", status=401, count=1)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.mailbox_anna.state, "connected")
        self.assertEqual([item["subject"] for item in self.emulator.outlook.list_events(ANNA)], ["Pushed after a 401"])
        self.assertEqual(self.token_requests(), 1)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    @mute_logger(*QUIET)
    def test_batched_push_refused_twice_needs_reconnection(self):
        self.env["calendar.event"].with_user(self.user_anna).create(
            {"name": "Refused twice", "start": self.tomorrow_at(10), "stop": self.tomorrow_at(11)}
        )
        self.emulator.inject_fault("status", method="POST", path=r"/me/events$", status=401, count=2)
        self.sync(self.mailbox_anna, expect_error=True)
        self.assert_reconnect_needed()
        self.assertEqual(self.emulator.outlook.list_events(ANNA), [])
