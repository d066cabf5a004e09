"""The OAuth callback against a concurrent writer of the mailbox row: PostgreSQL refuses the callback's
transaction, Odoo retries the request, and the user still ends up connected, with the code redeemed once and no
token in any log line (issue 13, finding 1).

The requests run on their own database transactions here, as in production (``registry_test_mode = False``), so
that the refusal and Odoo's retry are real; what they must see is committed first and removed at the end.
"""

import logging
import threading
import time
from contextlib import contextmanager
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo import sql_db
from odoo.tests import HttpCase, tagged

from odoo.addons.outlook_calendar_sync.emulator import Emulator
from odoo.addons.outlook_calendar_sync.emulator.entra import Entra
from odoo.addons.outlook_calendar_sync.graph.redact import MARK
from odoo.addons.outlook_calendar_sync.models.outlook_config import (
    PARAM_AUTHORITY_URL,
    PARAM_CA_BUNDLE,
    PARAM_CLIENT_ID,
    PARAM_CLIENT_SECRET,
    PARAM_CONFIG_ERROR,
    PARAM_GRAPH_URL,
    PARAM_TENANT,
)

from .common import ANNA, CLIENT_ID, CLIENT_SECRET, consent

TOKEN = "POST /{tenant}/oauth2/v2.0/token"


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def captured_logs(*names):
    """Every record of these loggers (and their children) at INFO and above, kept off the console."""
    handler = _Records()
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers, logger.propagate, logger.level)
        logger.handlers, logger.propagate = [handler], False
        logger.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        for name, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


def text_of(record):
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return formatter.format(record)


@tagged("post_install", "-at_install")
class TestCallbackSurvivesRetry(HttpCase):
    registry_test_mode = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = Emulator().start()
        cls.addClassCleanup(cls.emulator.stop)
        cls.emulator.register_app(CLIENT_ID, CLIENT_SECRET, name="Odoo test")
        cls.emulator.add_mailbox(ANNA, display_name="Anna Emulated")
        cls.dbname = cls.env.cr.dbname
        cls.admin_id = cls.env.ref("base.user_admin").id
        cls.settings = {
            PARAM_CLIENT_ID: CLIENT_ID,
            PARAM_CLIENT_SECRET: CLIENT_SECRET,
            PARAM_TENANT: "common",
            PARAM_AUTHORITY_URL: cls.emulator.authority_url,
            PARAM_GRAPH_URL: cls.emulator.graph_url,
            PARAM_CA_BUNDLE: cls.emulator.ca_path,
            PARAM_CONFIG_ERROR: None,
        }
        with cls.committed() as cr:
            cr.execute("SELECT 1 FROM outlook_mailbox WHERE user_id = %s", [cls.admin_id])
            if cr.fetchone():
                raise cls.failureException("the administrator has a mailbox in this database")
            cr.execute("SELECT key, value FROM ir_config_parameter WHERE key IN %s", [tuple(cls.settings)])
            cls.saved_params = dict(cr.fetchall())
            cls.addClassCleanup(cls.write_params, cls.saved_params)
            cls.write_params(cls.settings)
            cr.execute("SELECT coalesce(max(id), 0) FROM ir_cron_trigger")
            cls.last_trigger = cr.fetchone()[0]

    @classmethod
    @contextmanager
    def committed(cls):
        """A transaction of its own, committed at the end (the test's transaction is never committed)."""
        with sql_db.db_connect(cls.dbname).cursor() as cr:
            yield cr

    @classmethod
    def write_params(cls, values):
        """Commit these values of the Outlook settings (``None``: absent); the others as they were."""
        with cls.committed() as cr:
            cr.execute("DELETE FROM ir_config_parameter WHERE key IN %s", [tuple(cls.settings)])
            for key, value in values.items():
                if value is not None:
                    cr.execute("INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", [key, value])
        cls.registry.clear_cache()  # get_param's cache: the requests read the values committed here

    def setUp(self):
        super().setUp()
        # a mailbox to reconnect, committed: the cron may update its row at any time
        with self.committed() as cr:
            cr.execute(
                "INSERT INTO outlook_mailbox (user_id, state, last_error) VALUES (%s, 'reconnect', 'expired') "
                "RETURNING id",
                [self.admin_id],
            )
            self.mailbox_id = cr.fetchone()[0]
        self.addCleanup(self.remove_committed_rows)
        self.emulator.reset_counters()

    def remove_committed_rows(self):
        with self.committed() as cr:
            cr.execute("DELETE FROM mail_message WHERE model = 'outlook.mailbox' AND res_id = %s", [self.mailbox_id])
            cr.execute(
                "DELETE FROM mail_activity WHERE res_model = 'outlook.mailbox' AND res_id = %s", [self.mailbox_id]
            )
            cr.execute("DELETE FROM outlook_mailbox WHERE id = %s", [self.mailbox_id])  # its token row goes with it
            cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [self.last_trigger])

    def cron_holds_the_mailbox(self):
        """The sync cron updates the row (its claim stamps the attempt) and commits only once the callback waits for
        that row: PostgreSQL then refuses the callback's write (serialization failure under REPEATABLE READ).

        :return: the cron's thread (it commits within 10 seconds whatever happens)
        """
        cron = sql_db.db_connect(self.dbname).cursor()
        cron.execute(
            "UPDATE outlook_mailbox SET last_attempt_at = now() at time zone 'UTC' WHERE id = %s", [self.mailbox_id]
        )

        def commit_once_the_callback_waits():
            try:
                with self.committed() as watcher:
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        watcher.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock' AND query ILIKE '%%outlook_mailbox%%' AND pid != %s",
                            [cron._cnx.info.backend_pid],
                        )
                        if watcher.fetchone()[0]:
                            break
                        watcher.rollback()
                        time.sleep(0.02)
                cron.commit()
            finally:
                cron.close()

        thread = threading.Thread(target=commit_once_the_callback_waits, name="outlook-test-cron")
        thread.start()
        return thread

    def test_callback_retried_after_a_serialization_failure_connects_once(self):
        self.authenticate("admin", "admin")
        start = self.url_open("/outlook_calendar_sync/connect", allow_redirects=False)
        self.assertEqual(start.status_code, 303, start.text)
        callback = urlsplit(consent(self.emulator, start.headers["Location"], account=ANNA))

        # while Microsoft redeems the code, the cron takes the mailbox row; it commits when the callback waits for it
        redeem = Entra._redeem_code
        collisions = []

        def redeem_while_the_cron_runs(entra, *args, **kwargs):
            if not collisions:
                collisions.append(self.cron_holds_the_mailbox())
            return redeem(entra, *args, **kwargs)

        with (
            patch.object(Entra, "_redeem_code", redeem_while_the_cron_runs),
            captured_logs("odoo", "werkzeug") as records,
        ):
            resp = self.url_open(f"{callback.path}?{callback.query}", allow_redirects=False, timeout=30)

        self.assertTrue(collisions, "the callback redeemed no code")
        collisions[0].join(15)
        lines = [text_of(record) for record in records]
        retries = [line for line in lines if line.startswith("odoo.service.model") and "tries left" in line]
        self.assertTrue(retries, f"PostgreSQL refused no statement of the callback: no collision was forced {lines}")
        refused = [line for line in lines if "bad query" in line and "outlook_mailbox" in line]
        self.assertTrue(refused, lines)

        self.assertEqual(resp.status_code, 303, resp.text)
        self.assertEqual(urlsplit(resp.headers["Location"]).path, "/odoo/calendar")
        with self.committed() as cr:
            cr.execute("SELECT state, address FROM outlook_mailbox WHERE id = %s", [self.mailbox_id])
            self.assertEqual(cr.fetchone(), ("connected", ANNA))
            cr.execute("SELECT cache FROM outlook_mailbox_token WHERE mailbox_id = %s", [self.mailbox_id])
            self.assertIn("RefreshToken", cr.fetchone()[0])
        counters = self.emulator.counters()
        self.assertEqual(counters["requests"].get(TOKEN), 1, "the code was redeemed once, not by the retry")
        self.assertEqual(counters["messages_sent"], 0)

        secrets = self.emulator.issued_secrets()
        self.assertEqual({"code", "access_token", "refresh_token", "id_token"} - {kind for kind, _v in secrets}, set())
        for line in lines:
            for kind, value in secrets:
                self.assertNotIn(value, line, f"{kind} in a log line")
        # the refused statement never held token material (the redaction of Odoo's SQL log had nothing to hide)
        for line in refused:
            self.assertNotIn(MARK, line)
