"""The Outlook button in a real browser (headless Chromium): rendered per state, and it calls the server."""

from odoo.tests import HttpCase, tagged

from .common import OutlookEmulatorMixin


@tagged("post_install", "-at_install")
class TestCalendarButton(OutlookEmulatorMixin, HttpCase):
    def test_button_when_not_connected(self):
        self.start_tour("/odoo/calendar", "outlook_calendar_sync_button_disconnected", login="anna_user")

    def test_button_when_connected_schedules_a_sync(self):
        self.connect_mailbox(self.user_anna)
        cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")
        triggers_before = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        self.start_tour("/odoo/calendar", "outlook_calendar_sync_button_connected", login="anna_user")
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers_before + 1)

    def test_button_when_reconnect_needed(self):
        self.connect_mailbox(self.user_anna)._outlook_mark_reconnect("AADSTS700082: the refresh token expired.")
        self.start_tour("/odoo/calendar", "outlook_calendar_sync_button_reconnect", login="anna_user")
