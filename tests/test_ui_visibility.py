"""Sync you can see, in a real browser (headless Chromium): the admin enters the credentials, a user
connects through the emulator's consent page, an event's status and Retry, the admin dashboard and the
sync log. Each screen is saved under .run/screenshots/ (tests/ui_common.py)."""

from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.outlook_calendar_sync.graph.run import GraphRun
from odoo.addons.outlook_calendar_sync.models.outlook_config import (
    PARAM_CLIENT_ID,
    PARAM_CLIENT_SECRET,
    get_auth_settings,
)
from odoo.addons.outlook_calendar_sync.models.outlook_mailbox_admin import PROGRESS_NOTIFICATION

from .common import ANNA, CAROL, CLIENT_ID, CLIENT_SECRET, OutlookEmulatorMixin, graph_time
from .ui_common import OutlookTourMixin

POST_EVENTS = r"^/v1\.0/me/events$"


@tagged("post_install", "-at_install")
class TestUiVisibility(OutlookTourMixin, OutlookEmulatorMixin, HttpCase):
    consent_screenshot = "03_consent_page"

    def sync(self, mailbox):
        """One cron-like run of ``mailbox`` (the browser only ever asks for one)."""
        mailbox._outlook_sync_guarded(GraphRun(get_auth_settings(self.env)))
        self.env.invalidate_all()

    def test_admin_enters_credentials(self):
        params_sudo = self.env["ir.config_parameter"].sudo()
        params_sudo.set_param(PARAM_CLIENT_ID, False)
        params_sudo.set_param(PARAM_CLIENT_SECRET, False)
        self.start_tour("/odoo/settings", "outlook_admin_enters_credentials", login="admin")
        self.assertEqual(params_sudo.get_param(PARAM_CLIENT_ID), CLIENT_ID)
        self.assertEqual(params_sudo.get_param(PARAM_CLIENT_SECRET), CLIENT_SECRET)
        self.assertEqual(self.screenshots, ["01_admin_enters_credentials", "02_admin_test_connection"])

    def test_user_connects_through_the_consent_page(self):
        self.emulator.reset_counters()
        self.start_tour("/odoo/calendar", "outlook_user_connects", login="anna_user")
        mailbox = self.env["outlook.mailbox"].search([("user_id", "=", self.user_anna.id)])
        self.assertEqual((mailbox.address, mailbox.state), (ANNA, "paused"), "connected, then paused by Anna")
        counters = self.emulator.counters()
        self.assertEqual(counters["requests"].get("GET /{tenant}/oauth2/v2.0/authorize"), 1)
        self.assertEqual(counters["requests"].get("POST /{tenant}/oauth2/v2.0/token"), 1)
        self.assertEqual(self.screenshots, ["03_consent_page", "04_calendar_connected", "05_preferences_connected"])

    def test_event_status_and_retry(self):
        mailbox = self.connect_mailbox(self.user_anna)
        # today, where the Calendar opens; pushed "the day before" so that it is still to come then
        start = datetime.now().replace(hour=10, minute=0, second=0, microsecond=0)
        event = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create(
                {
                    "name": "Quarterly review",
                    "start": start,
                    "stop": start + timedelta(hours=2),
                    "partner_ids": [Command.set(self.user_anna.partner_id.ids)],
                }
            )
        )
        self.emulator.inject_fault("status", method="POST", path=POST_EVENTS, status=400)
        with freeze_time(start - timedelta(days=1)):
            self.sync(mailbox)
        self.assertEqual(event.outlook_status, "error")
        # a long import under way, as the pull reports it after a page: on the mailbox, and on the bus (the
        # browser gets the bus's recent notifications when it connects, so the sync's own last one is overtaken)
        mailbox.sudo().write({"import_running": True, "import_done": 120, "import_total": 1000})
        self.env["bus.bus"]._sendone(self.user_anna.partner_id, PROGRESS_NOTIFICATION, mailbox._outlook_progress())
        self.start_tour("/odoo/calendar", "outlook_event_status_retry", login="anna_user")
        self.env.invalidate_all()
        self.assertEqual(event.outlook_status, "pending")
        self.assertTrue(event.outlook_dirty)
        self.assertEqual(self.screenshots, ["06_calendar_event_in_error", "07_event_error_and_retry"])

    def test_admin_dashboard_and_sync_log(self):
        anna = self.connect_mailbox(self.user_anna)
        self.connect_mailbox(self.user_bob)._outlook_mark_reconnect("AADSTS700082: the refresh token expired.")
        start = datetime.now().replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
        self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Broken in Outlook",
                "start": graph_time(start),
                "end": graph_time(start + timedelta(hours=1)),
            },
        )
        self.emulator.inject_fault("item_malformed", path=r"calendarView/delta", count=1)
        self.sync(anna)
        # a third user in the middle of a long first import (progress as the pull reports it per page)
        carol = new_test_user(self.env, login="carol_user", name="Carol", email=CAROL, groups="base.group_user")
        self.connect_mailbox(carol).sudo().write({"import_running": True, "import_done": 1200, "import_total": 2200})
        self.start_tour(
            "/odoo/action-outlook_calendar_sync.outlook_dashboard_action", "outlook_admin_dashboard", login="admin"
        )
        self.env.invalidate_all()
        self.assertEqual((anna.state, anna.paused_by_admin), ("paused", True))
        retried = self.env["outlook.sync.log"].search(
            [("mailbox_id", "=", anna.id), ("retry_requested_at", "!=", False)]
        )
        self.assertTrue(retried)
        self.assertEqual(self.screenshots, ["08_dashboard", "09_sync_log_errors"])
