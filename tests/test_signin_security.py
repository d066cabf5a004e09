"""What a browser can make the OAuth callback do, what the access log keeps of it, and what the settings form keeps
of a typed secret (issue 13: finding 6, the code of finding 1 in the access log, finding 8)."""

import logging
from contextlib import nullcontext
from unittest.mock import patch
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import HttpCase, tagged

from odoo.addons.outlook_calendar_sync.graph.redact import MARK
from odoo.addons.outlook_calendar_sync.graph.run import GraphRun
from odoo.addons.outlook_calendar_sync.models.outlook_config import PARAM_CLIENT_SECRET, PARAM_CONFIG_ERROR

from .common import CLIENT_SECRET, OutlookEmulatorMixin, consent, query_params

TOKEN = "POST /{tenant}/oauth2/v2.0/token"
CALLBACK = "/microsoft_account/authentication"
# what a URL can carry (no lone surrogate, no NUL)
url_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
# what an admin may paste as a secret: long enough that the test can tell it apart from the words of a message
typed_secrets = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_categories=("Cs",)), min_size=12
)
EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


@tagged("post_install", "-at_install")
class TestSignInSecurity(OutlookEmulatorMixin, HttpCase):
    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        self.emulator.reset_counters()

    def start_connect(self):
        resp = self.url_open("/outlook_calendar_sync/connect", allow_redirects=False)
        self.assertEqual(resp.status_code, 303, resp.text)
        return resp.headers["Location"]

    def config_error(self):
        return self.env["ir.config_parameter"].sudo().get_param(PARAM_CONFIG_ERROR)

    # ------------------------------------------------------------
    # finding 6: the admin's banner reflects only Microsoft's answers to the server
    # ------------------------------------------------------------

    def test_invalid_client_in_the_callback_url_is_not_the_admins_problem(self):
        self.authenticate("anna_user", "anna_user")
        state = query_params(self.start_connect())["state"]
        forged = {"error": "invalid_client", "error_description": "AADSTS7000215: call +1 555 0100 now", "state": state}
        resp = self.url_open(f"{CALLBACK}?{urlencode(forged)}", allow_redirects=False)
        self.assertEqual(resp.status_code, 400)
        self.assertIn("did not sign you in", resp.text)
        self.assertIn("call +1 555 0100 now", resp.text)  # shown to this user, who typed it
        self.assertFalse(self.config_error())
        self.authenticate("admin", "admin")
        self.assertFalse(self.env["res.config.settings"].create({}).outlook_config_error)
        self.assertEqual(self.emulator.counters()["requests"].get(TOKEN, 0), 0)

    @EXAMPLES
    @given(
        error=st.one_of(
            st.sampled_from(
                [
                    "invalid_client",
                    "unauthorized_client",
                    "invalid_request",
                    "temporarily_unavailable",
                    "interaction_required",
                    "consent_required",
                    "invalid_grant",
                    "access_denied",
                    "server_error",
                ]
            ),
            url_text.filter(str.strip),
        ),
        description=url_text,
    )
    def test_no_error_the_browser_brings_reaches_the_banner_or_the_token_endpoint(self, error, description):
        """(the server's own answers still do: test_connect_flow.test_wrong_client_secret_tells_the_admin)"""
        self.authenticate("anna_user", "anna_user")
        state = query_params(self.start_connect())["state"]
        query = urlencode({"error": error, "error_description": description, "state": state})
        resp = self.url_open(f"{CALLBACK}?{query}", allow_redirects=False)
        self.assertEqual(resp.status_code, 200 if error == "access_denied" else 400, resp.text)
        self.assertNotIn("Traceback", resp.text)
        self.assertFalse(self.config_error())
        self.assertEqual(self.emulator.counters()["requests"].get(TOKEN, 0), 0)
        connected = self.env["outlook.mailbox"].search([("state", "=", "connected")])
        self.assertFalse(connected)

    # ------------------------------------------------------------
    # finding 1: the authorization code stays out of the access log
    # ------------------------------------------------------------

    def test_the_access_log_never_holds_the_authorization_code(self):
        self.authenticate("anna_user", "anna_user")
        callback = consent(self.emulator, self.start_connect())
        code = query_params(callback)["code"]
        with self.assertLogs("werkzeug", logging.INFO) as logs:
            resp = self.url_open(callback, allow_redirects=False)
        self.assertEqual(resp.status_code, 303, resp.text)
        lines = [line for line in logs.output if CALLBACK in line]
        self.assertEqual(len(lines), 1, logs.output)
        self.assertNotIn(code, lines[0])
        self.assertIn(f"code={MARK}", lines[0])

        # an expired session: Odoo sends the browser to its login page with the whole callback URL in ?redirect=
        callback = consent(self.emulator, self.start_connect())
        code = query_params(callback)["code"]
        self.logout()
        with self.assertLogs("werkzeug", logging.INFO) as logs:
            resp = self.url_open(callback)
        self.assertIn("/web/login", resp.url)
        self.assertIn(code, resp.url, "the test must see the code travel through the login page")
        self.assertEqual(len([line for line in logs.output if "/web/login" in line]), 1, logs.output)
        for line in logs.output:
            self.assertNotIn(code, line)

    # ------------------------------------------------------------
    # finding 8: "Test connection" never keeps the typed secret
    # ------------------------------------------------------------

    def saved_form(self, values):
        """What the web client does before running a button of the settings form: save it (a new row)."""
        saved = self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.config.settings/web_save",
            {
                "model": "res.config.settings",
                "method": "web_save",
                "args": [[], values],
                "kwargs": {"specification": {}},
            },
        )
        return saved[0]["id"]

    def secret_in_row(self, record_id):
        self.env.cr.execute("SELECT outlook_client_secret FROM res_config_settings WHERE id = %s", [record_id])
        return self.env.cr.fetchone()[0]

    @EXAMPLES
    @given(outcome=st.sampled_from(["accepted", "refused", "crashed"]), typed=typed_secrets)
    def test_connection_test_leaves_no_typed_secret_in_the_row(self, outcome, typed):
        self.authenticate("admin", "admin")
        secret = CLIENT_SECRET if outcome == "accepted" else typed
        record_id = self.saved_form({"outlook_client_secret": secret, "outlook_tenant": self.emulator.tenant_id})
        self.assertEqual(self.secret_in_row(record_id), secret, "the web client's save put it in the row")
        crash = (
            patch.object(GraphRun, "auth", side_effect=RuntimeError(secret)) if outcome == "crashed" else nullcontext()
        )
        with crash:
            action = self.make_jsonrpc_request(
                "/web/dataset/call_button",
                {
                    "model": "res.config.settings",
                    "method": "action_outlook_test_connection",
                    "args": [[record_id]],
                    "kwargs": {},
                },
            )
        kind = action["params"]["type"]
        if outcome == "accepted":
            self.assertEqual(kind, "success", action["params"]["message"])
        else:
            self.assertEqual(kind, "danger", action["params"]["message"])
        self.assertIn("type it again", action["params"]["message"])
        self.assertNotIn(secret, action["params"]["message"])
        self.assertIsNone(self.secret_in_row(record_id), "the typed secret outlived its request")
        self.assertEqual(self.env["ir.config_parameter"].sudo().get_param(PARAM_CLIENT_SECRET), CLIENT_SECRET)
