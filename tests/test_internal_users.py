"""Only internal users connect a mailbox (issue 13, finding 2): over HTTP with a real portal user, at the model
level, and for the mailboxes of non-internal users that exist from before (shown to the admin, skipped once)."""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.models import compat

from .common import ANNA, CAROL, OutlookEmulatorMixin, consent

AUTHORIZE = "GET /{tenant}/oauth2/v2.0/authorize"
QUIET = ("odoo.addons.outlook_calendar_sync.controllers.main", "odoo.addons.outlook_calendar_sync.models")


@tagged("post_install", "-at_install")
class TestInternalUsersOnly(OutlookEmulatorMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal = new_test_user(
            cls.env, login="portal_user", name="Pat Portal", email=CAROL, groups="base.group_portal"
        )
        cls.admin = cls.env.ref("base.user_admin")

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        self.emulator.reset_counters()

    def mailboxes_of(self, user):
        return self.env["outlook.mailbox"].sudo().search([("user_id", "=", user.id)])

    def rpc(self, model, method, args):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}", {"model": model, "method": method, "args": args, "kwargs": {}}
        )

    @mute_logger(*QUIET)
    def test_portal_user_gets_a_clear_403_from_both_routes(self):
        self.authenticate("portal_user", "portal_user")
        resp = self.url_open("/outlook_calendar_sync/connect", allow_redirects=False)
        self.assertEqual(resp.status_code, 403)
        self.assertIn("Only internal users can connect an Outlook calendar", resp.text)
        self.assertIn('id="outlook_connect_message"', resp.text, "the add-on's page, not a traceback")
        resp = self.url_open("/microsoft_account/authentication?code=abc&state=xyz", allow_redirects=False)
        self.assertEqual(resp.status_code, 403)
        self.assertIn("Only internal users", resp.text)
        self.assertFalse(self.mailboxes_of(self.portal))
        self.assertEqual(self.emulator.counters()["requests"], {}, "Microsoft was never asked")
        # the Outlook button is not offered, and pressing it anyway explains
        self.assertFalse(self.rpc("res.users", "check_calendar_credentials", [])["outlook_calendar_sync"])
        action = self.rpc("res.users", "action_outlook_connect_or_sync", [[self.portal.id]])
        self.assertEqual((action["tag"], action["params"]["type"]), ("display_notification", "warning"))
        self.assertIn("Only internal users", action["params"]["message"])
        # an internal user still connects
        self.authenticate("anna_user", "anna_user")
        self.assertTrue(self.rpc("res.users", "check_calendar_credentials", [])["outlook_calendar_sync"])
        resp = self.url_open("/outlook_calendar_sync/connect", allow_redirects=False)
        self.assertEqual(resp.status_code, 303)
        callback = consent(self.emulator, resp.headers["Location"])
        self.assertEqual(self.url_open(callback, allow_redirects=False).status_code, 303)
        self.assertEqual(self.mailboxes_of(self.user_anna).state, "connected")

    @mute_logger(*QUIET)
    def test_a_user_made_portal_during_the_sign_in_is_refused_at_the_callback(self):
        dana = new_test_user(self.env, login="dana_user", name="Dana", email=ANNA, groups="base.group_user")
        self.authenticate("dana_user", "dana_user")
        resp = self.url_open("/outlook_calendar_sync/connect", allow_redirects=False)
        self.assertEqual(resp.status_code, 303)
        callback = consent(self.emulator, resp.headers["Location"])
        dana[compat.USER_GROUPS_FIELD] = [Command.set([self.env.ref("base.group_portal").id])]
        self.env.flush_all()
        resp = self.url_open(callback, allow_redirects=False)
        self.assertEqual(resp.status_code, 403)
        self.assertFalse(self.mailboxes_of(dana))
        self.assertEqual(self.emulator.counters()["requests"].get("POST /{tenant}/oauth2/v2.0/token", 0), 0)

    def test_the_models_refuse_non_internal_users(self):
        as_portal = self.env["outlook.mailbox"].with_user(self.portal)
        with self.assertRaises(AccessError):
            as_portal._outlook_start_connect()
        with self.assertRaises(AccessError):
            as_portal._outlook_store_connection({"id": "portal-graph-id", "mail": CAROL}, '{"RefreshToken": {}}')
        self.assertFalse(self.mailboxes_of(self.portal))
        self.assertEqual(self.emulator.counters()["requests"].get(AUTHORIZE, 0), 0)

    @mute_logger(*QUIET)
    def test_a_mailbox_a_portal_user_connected_before_is_shown_and_skipped_once(self):
        mailbox = (
            self.env["outlook.mailbox"]
            .sudo()
            .with_context(mail_create_nosubscribe=True)
            .create({"user_id": self.portal.id, "address": CAROL, "state": "connected"})
        )
        mailbox._outlook_write_tokens(cache="{}")
        rows = self.env["outlook.dashboard"].with_user(self.admin).search([("user_id", "=", self.portal.id)])
        self.assertEqual((rows.state, rows.address), ("not_internal", CAROL), "the admin sees it")
        self.env["outlook.mailbox"]._cron_outlook_sync()
        self.assertEqual((mailbox.state, mailbox.paused_by_admin), ("paused", True))
        self.assertIn("not an internal user", mailbox.last_error)
        logs = self.env["outlook.sync.log"].search([("mailbox_id", "=", mailbox.id)])
        self.assertEqual((len(logs), logs.state), (1, "error"))
        self.assertEqual(self.emulator.counters()["requests"], {}, "nothing asked of Microsoft for it")
        # the next runs leave it alone: the reason was recorded once
        self.env["outlook.mailbox"]._cron_outlook_sync()
        self.assertEqual(self.env["outlook.sync.log"].search_count([("mailbox_id", "=", mailbox.id)]), 1)
        self.env.invalidate_all()
        row = self.env["outlook.dashboard"].with_user(self.admin).browse(self.portal.id)
        self.assertEqual(row.state, "not_internal")
        self.assertIn("not an internal user", row.last_error)
        # resuming needs an internal owner; resume all leaves it paused; stopping forgets its tokens
        with self.assertRaises(UserError):
            row.action_outlook_resume()
        self.env["outlook.mailbox"].with_user(self.admin).action_outlook_resume_all()
        self.assertEqual(mailbox.state, "paused")
        row.action_outlook_stop()
        self.assertEqual(mailbox.state, "disconnected")
        self.assertFalse(mailbox._outlook_token_cache())
