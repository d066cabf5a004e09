"""Access rules: tokens and the client secret are for administrators only (STYLE R7, R16)."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import OutlookEmulatorMixin


@tagged("post_install", "-at_install")
class TestAccessRights(OutlookEmulatorMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        mailboxes = cls.env["outlook.mailbox"].with_context(mail_create_nosubscribe=True)
        cls.mailbox_anna = mailboxes.create(
            {
                "user_id": cls.user_anna.id,
                "address": "anna@contoso.test",
                "state": "connected",
                "delta_link": "https://x/delta",
            }
        )
        cls.mailbox_anna._outlook_write_tokens(cache='{"RefreshToken": {"secret": "anna-refresh-token"}}')
        cls.mailbox_bob = mailboxes.create(
            {
                "user_id": cls.user_bob.id,
                "address": "bob@contoso.test",
                "state": "connected",
            }
        )
        cls.mailbox_bob._outlook_write_tokens(cache='{"RefreshToken": {"secret": "bob-refresh-token"}}')
        event = cls.env["calendar.event"].create(
            {
                "name": "Bob's meeting",
                "start": "2026-11-23 09:00:00",
                "stop": "2026-11-23 10:00:00",
            }
        )
        cls.link_bob = cls.env["outlook.event.link"].create(
            {
                "event_id": event.id,
                "mailbox_id": cls.mailbox_bob.id,
                "graph_id": "AAMkBob1",
            }
        )

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule")
    def test_user_cannot_read_tokens_even_own(self):
        own = self.mailbox_anna.with_user(self.user_anna)
        self.assertEqual(own.read(["state", "address"])[0]["state"], "connected")
        self.assertNotIn("token_cache", own.fields_get())
        with self.assertRaises(AccessError):
            own.read(["delta_link"])
        tokens = self.env["outlook.mailbox.token"].with_user(self.user_anna)
        with self.assertRaises(AccessError):
            tokens.search_read([], ["cache"])
        with self.assertRaises(AccessError):
            tokens.search([("mailbox_id", "=", own.id)])

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule")
    def test_user_cannot_see_or_change_other_mailboxes(self):
        as_anna = self.env["outlook.mailbox"].with_user(self.user_anna)
        self.assertEqual(as_anna.search([]), self.mailbox_anna)
        with self.assertRaises(AccessError):
            self.mailbox_bob.with_user(self.user_anna).read(["address"])
        with self.assertRaises(AccessError):
            self.mailbox_anna.with_user(self.user_anna).write({"state": "disconnected"})
        with self.assertRaises(AccessError):
            as_anna.create({"user_id": self.user_anna.id})
        self.assertFalse(self.env["outlook.event.link"].with_user(self.user_anna).search([]))
        self.assertEqual(self.env["outlook.event.link"].with_user(self.user_bob).search([]), self.link_bob)

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule")
    def test_user_cannot_read_the_client_secret(self):
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(self.user_anna).search_read(
                [("key", "=", "outlook_calendar_sync.client_secret")], ["value"]
            )
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.user_anna).create({})

    def test_user_sees_own_state_not_colleagues(self):
        anna = self.user_anna.with_user(self.user_anna)
        values = anna.read(["outlook_sync_state", "outlook_mailbox_address"])[0]
        self.assertEqual(values["outlook_sync_state"], "connected")
        self.assertEqual(values["outlook_mailbox_address"], "anna@contoso.test")
        bob_seen_by_anna = self.user_bob.with_user(self.user_anna)
        self.assertEqual(bob_seen_by_anna.outlook_sync_state, "disconnected")
        self.assertFalse(bob_seen_by_anna.outlook_mailbox_address)

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_admin_reads_everything_but_tokens(self):
        admin = self.env.ref("base.user_admin")
        self.assertEqual(self.mailbox_bob.with_user(admin).read(["address"])[0]["address"], "bob@contoso.test")
        self.assertEqual(self.user_bob.with_user(admin).outlook_mailbox_address, "bob@contoso.test")
        # tokens: no access right for anyone, administrators included; only the token path's sudo code reads them
        with self.assertRaises(AccessError):
            self.env["outlook.mailbox.token"].with_user(admin).search_read([], ["cache"])
        self.assertIn("bob-refresh-token", self.mailbox_bob._outlook_token_cache())

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule")
    def test_user_disconnects_only_own_mailbox(self):
        self.mailbox_anna.with_user(self.user_anna).action_outlook_disconnect()
        self.assertEqual(self.mailbox_anna.state, "disconnected")
        self.assertFalse(self.mailbox_anna._outlook_token_cache())
        with self.assertRaises(AccessError):
            self.mailbox_bob.with_user(self.user_anna).action_outlook_disconnect()
        self.assertEqual(self.mailbox_bob.state, "connected")
