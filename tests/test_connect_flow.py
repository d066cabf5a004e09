"""The connect flow end to end over HTTP: Calendar button -> Odoo -> emulator consent -> Odoo callback."""

from urllib.parse import urlsplit

from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from .common import ANNA, BOB, CLIENT_SECRET, OutlookEmulatorMixin, consent, query_params


@tagged("post_install", "-at_install")
class TestConnectFlow(OutlookEmulatorMixin, HttpCase):
    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        self.emulator.reset_counters()

    # ------------------------------------------------------------
    # helpers: what a browser does
    # ------------------------------------------------------------

    def click_outlook_button(self):
        """The Calendar's Outlook button: the RPC the JS makes, then the URL action it follows."""
        action = self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.users/action_outlook_connect_or_sync",
            {"model": "res.users", "method": "action_outlook_connect_or_sync", "args": [[self.env.uid]], "kwargs": {}},
        )
        return action

    def start_connect(self, return_to=None):
        url = "/outlook_calendar_sync/connect" + (f"?return_to={return_to}" if return_to else "")
        resp = self.url_open(url, allow_redirects=False)
        self.assertEqual(resp.status_code, 303, resp.text)
        auth_uri = resp.headers["Location"]
        self.assertTrue(auth_uri.startswith(self.emulator.authority_url + "/common/oauth2/v2.0/authorize"), auth_uri)
        return auth_uri

    def callback(self, callback_url):
        self.assertTrue(callback_url.startswith(self.base_url() + "/microsoft_account/authentication"), callback_url)
        return self.url_open(callback_url, allow_redirects=False)

    def mailbox_of(self, user):
        return self.env["outlook.mailbox"].search([("user_id", "=", user.id)])

    # ------------------------------------------------------------
    # tests
    # ------------------------------------------------------------

    def test_button_consent_callback_connected(self):
        self.authenticate("anna_user", "anna_user")
        action = self.click_outlook_button()
        self.assertEqual(action["type"], "ir.actions.act_url")
        auth_uri = self.start_connect()
        params = query_params(auth_uri)
        self.assertEqual(params["code_challenge_method"], "S256")
        self.assertEqual(params["redirect_uri"], self.base_url() + "/microsoft_account/authentication")
        self.assertIn("Calendars.ReadWrite", params["scope"])
        self.assertIn("offline_access", params["scope"])

        resp = self.callback(consent(self.emulator, auth_uri))
        self.assertEqual(resp.status_code, 303, resp.text)
        self.assertEqual(urlsplit(resp.headers["Location"]).path, "/odoo/calendar")

        mailbox = self.mailbox_of(self.user_anna)
        self.assertEqual(mailbox.state, "connected")
        self.assertEqual(mailbox.address, ANNA)
        self.assertIn("RefreshToken", mailbox._outlook_token_cache())
        self.assertEqual(self.user_anna.outlook_sync_state, "connected")
        counters = self.emulator.counters()
        self.assertEqual(counters["requests"].get("POST /{tenant}/oauth2/v2.0/token"), 1)
        self.assertEqual(counters["requests"].get("GET /v1.0/me"), 1)
        self.assertEqual(counters["messages_sent"], 0)

        # the button now schedules a sync instead of asking for consent again
        action = self.click_outlook_button()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn(ANNA, action["params"]["message"])

    def test_declined_consent_shows_message_and_connects_nothing(self):
        self.authenticate("anna_user", "anna_user")
        callback_url = consent(self.emulator, self.start_connect(), decision="decline")
        self.assertEqual(query_params(callback_url)["error"], "access_denied")
        resp = self.callback(callback_url)
        self.assertEqual(resp.status_code, 200)
        self.assertIn("You declined", resp.text)
        self.assertFalse(self.mailbox_of(self.user_anna).filtered(lambda m: m.state == "connected"))

    def test_forged_state_is_rejected_and_flow_consumed(self):
        self.authenticate("anna_user", "anna_user")
        callback_url = consent(self.emulator, self.start_connect())
        forged = callback_url.replace("state=", "state=forged")
        resp = self.callback(forged)
        self.assertEqual(resp.status_code, 400)
        self.assertIn("does not match", resp.text)
        # the real answer cannot be used afterwards either: the flow was single-use
        resp = self.callback(callback_url)
        self.assertEqual(resp.status_code, 400)
        self.assertFalse(self.mailbox_of(self.user_anna))
        self.assertEqual(self.emulator.counters()["requests"].get("POST /{tenant}/oauth2/v2.0/token", 0), 0)

    def test_replayed_callback_is_rejected(self):
        self.authenticate("anna_user", "anna_user")
        callback_url = consent(self.emulator, self.start_connect())
        self.assertEqual(self.callback(callback_url).status_code, 303)
        resp = self.callback(callback_url)
        self.assertEqual(resp.status_code, 400)
        self.assertIn("already used", resp.text)

    def test_callback_without_started_flow_is_rejected(self):
        self.authenticate("anna_user", "anna_user")
        resp = self.url_open("/microsoft_account/authentication?code=abc&state=xyz", allow_redirects=False)
        self.assertEqual(resp.status_code, 400)
        self.assertIn("not started from this browser session", resp.text)

    def test_state_of_another_session_is_rejected(self):
        self.authenticate("anna_user", "anna_user")
        anna_callback = consent(self.emulator, self.start_connect())
        self.authenticate("bob_user", "bob_user")  # another browser session, another user
        resp = self.callback(anna_callback)
        self.assertEqual(resp.status_code, 400)
        self.assertFalse(self.mailbox_of(self.user_bob))
        self.assertFalse(self.mailbox_of(self.user_anna))

    def test_expired_code_is_a_clear_error(self):
        self.authenticate("anna_user", "anna_user")
        callback_url = consent(self.emulator, self.start_connect())
        self.emulator.expire_auth_codes()
        resp = self.callback(callback_url)
        self.assertEqual(resp.status_code, 400)
        self.assertIn("AADSTS70008", resp.text)
        self.assertIn("Outlook was not connected", resp.text)
        self.assertFalse(self.mailbox_of(self.user_anna))

    def test_wrong_client_secret_tells_the_admin(self):
        self.configure_outlook(**{"outlook_calendar_sync.client_secret": "not-the-secret"})
        self.authenticate("anna_user", "anna_user")
        resp = self.callback(consent(self.emulator, self.start_connect()))
        self.assertEqual(resp.status_code, 400)
        self.assertIn("AADSTS7000215", resp.text)
        self.assertIn("administrator", resp.text)
        problem = self.env["ir.config_parameter"].sudo().get_param("outlook_calendar_sync.config_error")
        self.assertIn("Client Secret", problem)
        settings = self.env["res.config.settings"].create({})
        self.assertIn("AADSTS7000215", settings.outlook_config_error)
        self.configure_outlook(**{"outlook_calendar_sync.client_secret": CLIENT_SECRET})

    def test_return_path_stays_on_this_site(self):
        self.authenticate("anna_user", "anna_user")
        auth_uri = self.start_connect(return_to="https://evil.example/phish")
        resp = self.callback(consent(self.emulator, auth_uri))
        self.assertEqual(resp.status_code, 303)
        location = urlsplit(resp.headers["Location"])
        self.assertIn(location.netloc, ("", urlsplit(self.base_url()).netloc))
        self.assertEqual(location.path, "/odoo/calendar")

    def test_return_path_local_is_kept(self):
        self.authenticate("anna_user", "anna_user")
        auth_uri = self.start_connect(return_to="/odoo/action-calendar.action_calendar_event")
        resp = self.callback(consent(self.emulator, auth_uri))
        self.assertEqual(urlsplit(resp.headers["Location"]).path, "/odoo/action-calendar.action_calendar_event")

    def test_unconfigured_database_explains_instead_of_failing(self):
        self.configure_outlook(**{"outlook_calendar_sync.client_id": False})
        self.authenticate("anna_user", "anna_user")
        action = self.click_outlook_button()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("administrator", action["params"]["message"])
        resp = self.url_open("/outlook_calendar_sync/connect", allow_redirects=False)
        self.assertEqual(resp.status_code, 503)
        self.assertIn("Client ID", resp.text)
        self.authenticate("admin", "admin")
        action = self.click_outlook_button()
        self.assertEqual(action["res_model"], "res.config.settings")
        self.configure_outlook()

    def test_same_mailbox_cannot_serve_two_users(self):
        self.authenticate("anna_user", "anna_user")
        self.assertEqual(self.callback(consent(self.emulator, self.start_connect())).status_code, 303)
        self.authenticate("bob_user", "bob_user")
        resp = self.callback(consent(self.emulator, self.start_connect(), account=ANNA))
        self.assertEqual(resp.status_code, 400)
        self.assertIn("already connected", resp.text)
        self.assertFalse(self.mailbox_of(self.user_bob).filtered(lambda m: m.state == "connected"))

    def test_disconnect_removes_tokens(self):
        self.authenticate("bob_user", "bob_user")
        self.assertEqual(self.callback(consent(self.emulator, self.start_connect())).status_code, 303)
        mailbox = self.mailbox_of(self.user_bob)
        self.assertEqual(mailbox.address, BOB)
        self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.users/action_outlook_disconnect",
            {"model": "res.users", "method": "action_outlook_disconnect", "args": [[self.user_bob.id]], "kwargs": {}},
        )
        mailbox.invalidate_recordset()
        self.assertEqual(mailbox.state, "disconnected")
        self.assertFalse(mailbox._outlook_token_cache())

    def test_user_cannot_read_tokens_over_rpc(self):
        self.authenticate("anna_user", "anna_user")
        self.assertEqual(self.callback(consent(self.emulator, self.start_connect())).status_code, 303)
        mailbox = self.mailbox_of(self.user_anna)
        with self.assertRaises(JsonRpcException) as caught, mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/outlook.mailbox/read",
                {
                    "model": "outlook.mailbox.token",
                    "method": "search_read",
                    "args": [[("mailbox_id", "=", mailbox.id)], ["cache"]],
                    "kwargs": {},
                },
            )
        self.assertEqual(str(caught.exception), "odoo.exceptions.AccessError")
        own = self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.users/read",
            {
                "model": "res.users",
                "method": "read",
                "args": [[self.user_anna.id], ["outlook_sync_state"]],
                "kwargs": {},
            },
        )
        self.assertEqual(own[0]["outlook_sync_state"], "connected")
