"""The test run's log-secret guard (tools/pytest_plugins/outlook_log_guard.py) catches a credential the emulator
issued wherever a line holds it: each channel below logs one on purpose, inside ``expect_leak()``, which fails
unless the guard caught it (anywhere else the same line fails the test that logged it)."""

import logging
import sys
from urllib.parse import quote

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CLIENT_SECRET, OutlookEmulatorMixin


def log_guard():
    return getattr(sys.modules.get("outlook_log_guard"), "GUARD", None)


@tagged("post_install", "-at_install")
class TestLogSecretGuard(OutlookEmulatorMixin, TransactionCase):
    def setUp(self):
        super().setUp()
        self.guard = log_guard()
        if self.guard is None:
            self.skipTest("the log guard is the pytest plugin outlook_log_guard, which make test loads")
        self.mailbox = self.connect_mailbox(self.user_anna)
        self.issued = dict(self.emulator.issued_secrets())

    def assert_caught(self, log, logger_name, kind):
        with self.guard.expect_leak() as caught:
            log()
        self.assertEqual([finding["logger"] for finding in caught], [logger_name])
        self.assertIn(kind, caught[0]["kinds"])
        for value in self.issued.values():
            self.assertNotIn(value, caught[0]["line"], "the guard's own report must not print the secret")

    def test_an_info_line_the_console_does_not_show(self):
        token = self.issued["refresh_token"]
        name = "odoo.addons.outlook_calendar_sync.models.outlook_mailbox"
        self.assert_caught(lambda: logging.getLogger(name).info("renewed with %s", token), name, "refresh_token")

    def test_a_werkzeug_access_line(self):
        token = self.issued["access_token"]
        line = '127.0.0.1 - - [01/Jan/2030 10:00:00] "GET /outlook/%s HTTP/1.1" 200 -'
        self.assert_caught(lambda: logging.getLogger("werkzeug").info(line, token), "werkzeug", "access_token")

    def test_a_traceback(self):
        token = self.issued["refresh_token"]

        def log():
            try:
                raise ValueError(f"cannot use {token}")
            except ValueError:
                logging.getLogger("odoo.http").exception("Exception during request handling.")

        self.assert_caught(log, "odoo.http", "refresh_token")

    def test_a_muted_logger(self):
        """A line a test mutes would be written in production."""
        token = self.issued["access_token"]

        def log():
            with mute_logger("odoo.sql_db"):
                logging.getLogger("odoo.sql_db").error("bad query: UPDATE t SET x = '%s'", token)

        self.assert_caught(log, "odoo.sql_db", "access_token")

    def test_another_librarys_logger(self):
        token = self.issued["code"]
        self.assert_caught(
            lambda: logging.getLogger("urllib3.connectionpool").warning("retrying %s", token),
            "urllib3.connectionpool",
            "code",
        )

    def test_the_client_secret_percent_encoded(self):
        secret = quote(CLIENT_SECRET + "/+=", safe="")
        self.emulator.register_app("guard-app", CLIENT_SECRET + "/+=")
        self.assert_caught(
            lambda: logging.getLogger("odoo.service").warning("POST /token?client_secret=%s", secret),
            "odoo.service",
            "client_secret",
        )

    def test_part_of_an_id_token(self):
        payload = self.issued["id_token"].split(".")[1]
        self.assert_caught(lambda: logging.getLogger("odoo").warning("claims: %s", payload), "odoo", "id_token")

    def test_a_line_the_redaction_cleaned_is_not_a_finding(self):
        """Odoo's access line of the callback: the add-on redacts the code before any handler gets the line."""
        code = self.issued["code"]
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        werkzeug = logging.getLogger("werkzeug")
        werkzeug.addHandler(handler)
        try:
            with self.assertRaises(AssertionError):
                with self.guard.expect_leak():
                    werkzeug.info('"GET /microsoft_account/authentication?code=%s&state=x HTTP/1.1" 303 -', code)
        finally:
            werkzeug.removeHandler(handler)
        self.assertEqual(len(records), 1)
        self.assertNotIn(code, records[0].getMessage())
