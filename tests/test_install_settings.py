"""The add-on installed in a real Odoo: data, views, exclusions, and the Outlook settings block."""

from lxml import etree

from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import CLIENT_ID, CLIENT_SECRET, OutlookEmulatorMixin


@tagged("post_install", "-at_install")
class TestInstallAndSettings(OutlookEmulatorMixin, TransactionCase):
    def test_installed_and_builtin_outlook_excluded(self):
        modules = self.env["ir.module.module"].search([("name", "in", ("outlook_calendar_sync", "microsoft_calendar"))])
        states = {module.name: module.state for module in modules}
        self.assertEqual(states["outlook_calendar_sync"], "installed")
        self.assertNotEqual(states["microsoft_calendar"], "installed")
        with self.assertRaises(UserError):
            modules.filtered(lambda m: m.name == "microsoft_calendar").button_install()

    def test_cron_exists(self):
        cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")
        self.assertTrue(cron.active)
        self.assertEqual(cron.model_id.model, "outlook.mailbox")
        self.assertIn("_cron_outlook_sync", cron.code)

    def test_views_load(self):
        def settings_arch(user):
            return self.env["res.config.settings"].with_user(user).get_views([(False, "form")])["views"]["form"]["arch"]

        admin = new_test_user(self.env, login="settings_admin", groups="base.group_system")
        arch = settings_arch(admin)
        for name in (
            "outlook_client_id",
            "outlook_client_secret",
            "outlook_tenant",
            "outlook_redirect_uri",
            "action_outlook_test_connection",
        ):
            self.assertTrue(f'name="{name}"' in arch, name)
        self.assertFalse('name="module_microsoft_calendar"' in arch)
        # advanced settings are for developer mode: Odoo 18 leaves them out of the view, Odoo 19 makes them invisible
        for field in etree.fromstring(arch).iterfind(".//field[@name='outlook_graph_url']"):
            self.assertTrue(
                any(node.get("invisible") in ("1", "True") for node in field.iterancestors()),
                "advanced settings are for developer mode",
            )
        # developer mode (a session flag, base.group_no_one) shows the advanced endpoints
        own_arch = self.env.ref("outlook_calendar_sync.res_config_settings_view_form").arch
        advanced = own_arch[own_arch.index('groups="base.group_no_one"') :]
        for name in ("outlook_authority_url", "outlook_graph_url", "outlook_ca_bundle"):
            self.assertTrue(f'name="{name}"' in advanced, name)
        views = self.env["outlook.mailbox"].get_views([(False, "list"), (False, "form"), (False, "search")])["views"]
        self.assertTrue("action_outlook_disconnect" in views["form"]["arch"])
        prefs = self.env.ref("base.view_users_form_simple_modif")
        arch = self.env["res.users"].with_user(self.user_anna).get_views([(prefs.id, "form")])["views"]["form"]["arch"]
        self.assertTrue('name="outlook_sync_state"' in arch)
        self.assertTrue('name="action_outlook_connect_or_sync"' in arch)

    def test_secret_is_write_only(self):
        form = self.env["res.config.settings"].create(
            {
                "outlook_client_id": "new-client-id",
                "outlook_client_secret": "s3cr3t-value",
                "outlook_tenant": "organizations",
            }
        )
        form.execute()
        params_sudo = self.env["ir.config_parameter"].sudo()
        self.assertEqual(params_sudo.get_param("outlook_calendar_sync.client_id"), "new-client-id")
        self.assertEqual(params_sudo.get_param("outlook_calendar_sync.client_secret"), "s3cr3t-value")
        self.assertEqual(params_sudo.get_param("outlook_calendar_sync.tenant"), "organizations")
        self.assertFalse(form.read(["outlook_client_secret"])[0]["outlook_client_secret"])
        reopened = self.env["res.config.settings"].create({})
        values = reopened.read(["outlook_client_secret", "outlook_client_secret_set", "outlook_client_id"])[0]
        self.assertFalse(values["outlook_client_secret"])
        self.assertTrue(values["outlook_client_secret_set"])
        self.assertEqual(values["outlook_client_id"], "new-client-id")
        # saving again without typing a secret keeps the stored one
        reopened.execute()
        self.assertEqual(params_sudo.get_param("outlook_calendar_sync.client_secret"), "s3cr3t-value")
        self.configure_outlook()

    def test_defaults_point_at_microsoft(self):
        params_sudo = self.env["ir.config_parameter"].sudo()
        for key in ("outlook_calendar_sync.authority_url", "outlook_calendar_sync.graph_url"):
            params_sudo.search([("key", "=", key)]).unlink()
        form = self.env["res.config.settings"].create({})
        self.assertEqual(form.outlook_authority_url, "https://login.microsoftonline.com")
        self.assertEqual(form.outlook_graph_url, "https://graph.microsoft.com/v1.0")
        self.assertTrue(form.outlook_redirect_uri.endswith("/microsoft_account/authentication"))
        self.configure_outlook()

    def test_urls_must_be_https(self):
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create({"outlook_authority_url": "http://login.example"})
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create({"outlook_tenant": "bad tenant/../x"})

    def test_connection_test_checks_secret_on_a_tenant(self):
        form = self.env["res.config.settings"].create({"outlook_tenant": self.emulator.tenant_id})
        result = form.action_outlook_test_connection()["params"]
        self.assertEqual(result["type"], "success", result["message"])
        form.outlook_client_secret = "wrong-secret"
        result = form.action_outlook_test_connection()["params"]
        self.assertEqual(result["type"], "danger")
        self.assertIn("AADSTS7000215", result["message"])

    def test_connection_test_multi_tenant_and_unreachable(self):
        form = self.env["res.config.settings"].create({"outlook_tenant": "common"})
        result = form.action_outlook_test_connection()["params"]
        self.assertEqual(result["type"], "info")
        form.outlook_authority_url = "https://127.0.0.1:9"
        result = form.action_outlook_test_connection()["params"]
        self.assertEqual(result["type"], "danger")
        self.assertIn("Cannot reach", result["message"])
        form.outlook_authority_url = self.emulator.authority_url
        form.outlook_tenant = "no-such-tenant"
        result = form.action_outlook_test_connection()["params"]
        self.assertEqual(result["type"], "danger")
        self.assertIn("no-such-tenant", result["message"])

    def test_calendar_view_hooks(self):
        users = self.env["res.users"].with_user(self.user_anna)
        self.assertTrue(users.check_calendar_credentials()["outlook_calendar_sync"])
        self.assertEqual(
            users.browse(self.user_anna.id).check_synchronization_status()["outlook_calendar_sync"], "disconnected"
        )
        self.configure_outlook(**{"outlook_calendar_sync.client_id": False})
        self.assertFalse(users.check_calendar_credentials()["outlook_calendar_sync"])
        self.configure_outlook()
        self.assertEqual(CLIENT_ID, self.env["ir.config_parameter"].sudo().get_param("outlook_calendar_sync.client_id"))
        self.assertEqual(
            CLIENT_SECRET, self.env["ir.config_parameter"].sudo().get_param("outlook_calendar_sync.client_secret")
        )
