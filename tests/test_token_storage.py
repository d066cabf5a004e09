"""Where tokens live (issue 13, finding 1): their own system-only record, written by the token path only, under a
row lock, never on the mailbox row that other writers update; and the upgrade that moves them there."""

import logging
import os
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import psycopg2.errors
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules import get_module_path
from odoo.modules.migration import load_script
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.outlook_calendar_sync.graph.run import GraphRun
from odoo.addons.outlook_calendar_sync.models.outlook_config import get_auth_settings

from .common import OutlookSyncCase

TOKENS = ("access_token", "refresh_token", "id_token")


@tagged("post_install", "-at_install")
class TestTokenRecord(OutlookSyncCase, TransactionCase):
    def test_tokens_are_on_their_own_record_not_on_the_mailbox_row(self):
        issued = self.emulator.issued_secrets(TOKENS)
        self.assertTrue(issued)
        for mailbox in self.mailbox_anna | self.mailbox_bob:
            self.env.flush_all()
            self.env.cr.execute("SELECT row_to_json(m)::text FROM outlook_mailbox m WHERE id = %s", [mailbox.id])
            row = self.env.cr.fetchone()[0]
            for kind, value in issued:
                self.assertNotIn(value, row, f"a {kind} on the mailbox row")
            self.assertIn("RefreshToken", mailbox._outlook_token_cache())
        # nothing of the mailbox model leads to them: reading a mailbox never loads (prefetches) a token
        relational = {field.comodel_name for field in self.env["outlook.mailbox"]._fields.values() if field.relational}
        self.assertNotIn("outlook.mailbox.token", relational)
        self.assertFalse({"token_cache", "builtin_refresh_token"} & set(self.env["outlook.mailbox"]._fields))

    def refreshed_run(self, mailbox):
        """A sync run of ``mailbox`` whose access token MSAL renewed (hours later), not stored yet."""
        with freeze_time(datetime.now() + timedelta(hours=2), tick=True):
            run = mailbox._outlook_start_run(GraphRun(get_auth_settings(self.env)), commit=lambda: None)
            run.auth.access_token()
        self.assertTrue(run.auth.cache.has_state_changed, "MSAL renewed nothing")
        return run

    def test_refresh_checkpoint_stores_the_renewed_tokens(self):
        before = self.mailbox_anna._outlook_token_cache()
        run = self.refreshed_run(self.mailbox_anna)
        run.commit()
        self.assertNotEqual(self.mailbox_anna._outlook_token_cache(), before)
        self.assertEqual(self.mailbox_anna._outlook_token_cache(), run.auth.cache.serialize())

    def test_refresh_checkpoint_keeps_a_reconnection_made_meanwhile(self):
        run = self.refreshed_run(self.mailbox_anna)
        self.connect_mailbox(self.user_anna)  # the user connects again while the sync runs
        reconnected = self.mailbox_anna._outlook_token_cache()
        run.commit()
        self.assertEqual(self.mailbox_anna._outlook_token_cache(), reconnected)

    def test_refresh_checkpoint_does_not_bring_back_a_disconnection(self):
        run = self.refreshed_run(self.mailbox_anna)
        self.mailbox_anna.with_user(self.user_anna).action_outlook_disconnect()
        run.commit()
        self.assertIsNone(self.mailbox_anna._outlook_token_cache())
        self.env.cr.execute("SELECT count(*) FROM outlook_mailbox_token WHERE mailbox_id = %s", [self.mailbox_anna.id])
        self.assertEqual(self.env.cr.fetchone()[0], 0)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestTokenWriters(TransactionCase):
    """Two token writers at once, on real transactions (committed rows, removed at the end)."""

    @contextmanager
    def committed(self):
        with sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            yield cr

    def setUp(self):
        super().setUp()
        admin = self.env.ref("base.user_admin")
        with self.committed() as cr:
            cr.execute("SELECT 1 FROM outlook_mailbox WHERE user_id = %s", [admin.id])
            if cr.fetchone():
                self.fail("the administrator has a mailbox in this database")
            cr.execute("INSERT INTO outlook_mailbox (user_id, state) VALUES (%s, 'connected') RETURNING id", [admin.id])
            self.mailbox_id = cr.fetchone()[0]
            cr.execute(
                "INSERT INTO outlook_mailbox_token (mailbox_id, cache) VALUES (%s, 'cache of the cron')",
                [self.mailbox_id],
            )
        self.addCleanup(self.remove_mailbox)

    def remove_mailbox(self):
        with self.committed() as cr:
            cr.execute("DELETE FROM outlook_mailbox WHERE id = %s", [self.mailbox_id])

    def mailbox_in(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})["outlook.mailbox"].browse(self.mailbox_id)

    def test_second_writer_waits_then_is_refused_without_its_tokens_in_the_log(self):
        secret = "1.A-refresh-token-of-the-callback-" + os.urandom(8).hex()
        outcome = {}
        callback = sql_db.db_connect(self.env.cr.dbname).cursor()
        cron = sql_db.db_connect(self.env.cr.dbname).cursor()
        sql_log = logging.getLogger("odoo.sql_db")
        records = _Records()
        saved = (sql_log.handlers, sql_log.propagate, sql_log.level)
        sql_log.handlers, sql_log.propagate = [records], False
        sql_log.setLevel(logging.INFO)
        try:
            callback.execute("SELECT 1")  # the callback's transaction (and snapshot) began before the cron's write
            self.mailbox_in(cron)._outlook_write_tokens(cache="cache refreshed by the cron")

            def write():
                try:
                    self.mailbox_in(callback)._outlook_write_tokens(cache=secret)
                    outcome["written"] = True
                except psycopg2.errors.SerializationFailure as exc:
                    outcome["refused"] = exc
                finally:
                    callback.rollback()

            writer = threading.Thread(target=write)
            writer.start()
            with self.committed() as watcher:
                deadline = time.monotonic() + 10
                while not self.waiting_for_a_lock(watcher) and time.monotonic() < deadline:
                    time.sleep(0.02)
                self.assertLess(time.monotonic(), deadline, "the second writer did not wait for the row lock")
            cron.commit()
            writer.join(10)
            self.assertIn("refused", outcome, "under REPEATABLE READ the waiter is refused once the first commits")
            self.assertNotIn(secret, outcome["refused"].cursor.query.decode())
            # a new attempt (what Odoo's retry does) on a fresh snapshot writes
            self.assertTrue(self.mailbox_in(callback)._outlook_write_tokens(cache=secret))
            callback.commit()
        finally:
            sql_log.handlers, sql_log.propagate = saved[:2]
            sql_log.setLevel(saved[2])
            callback.close()
            cron.close()
        self.assertTrue(records.lines, "PostgreSQL's refusal was not logged")
        for line in records.lines:
            self.assertNotIn(secret, line)
        with self.committed() as cr:
            self.assertEqual(self.mailbox_in(cr)._outlook_token_cache(), secret)

    @staticmethod
    def waiting_for_a_lock(cr):
        cr.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ILIKE '%%outlook_mailbox_token%%'"
        )
        waiting = cr.fetchone()[0]
        cr.rollback()
        return waiting


MIGRATION = os.path.join(get_module_path("outlook_calendar_sync"), "migrations", "1.1.0", "post-migrate.py")
tokens = st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00"), max_size=300))


@tagged("post_install", "-at_install")
class TestUpgradeMovesTokens(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = [new_test_user(cls.env, login=f"upgrade_user_{n}", groups="base.group_user") for n in range(4)]
        cls.migration = load_script(MIGRATION, "outlook_calendar_sync")

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.tuples(tokens, tokens, st.booleans()), min_size=1, max_size=4))
    def test_tokens_of_the_old_columns_move_to_their_records(self, rows):
        """18.0.1.0.0 kept them in two columns of outlook_mailbox; after the upgrade they are in the token
        records (an existing record keeps what the old row did not hold), and the old columns are gone."""
        cr = self.env.cr
        mailboxes = self.env["outlook.mailbox"].with_context(tracking_disable=True, mail_create_nosubscribe=True)
        savepoint = cr.savepoint(flush=False)  # each example, its DDL included, is rolled back
        try:
            cr.execute(
                "ALTER TABLE outlook_mailbox ADD COLUMN token_cache text, ADD COLUMN builtin_refresh_token varchar"
            )
            expected = {}
            for user, (cache, builtin, has_record) in zip(self.users, rows, strict=False):
                mailbox = mailboxes.create({"user_id": user.id})
                if has_record:
                    mailbox._outlook_write_tokens(cache="written by 1.1.0", builtin_refresh_token="kept")
                cr.execute(
                    "UPDATE outlook_mailbox SET token_cache = %s, builtin_refresh_token = %s WHERE id = %s",
                    [cache, builtin, mailbox.id],
                )
                expected[mailbox.id] = (
                    cache if cache is not None else ("written by 1.1.0" if has_record else None),
                    builtin if builtin is not None else ("kept" if has_record else None),
                )
            self.migration.migrate(cr, "18.0.1.0.0")
            moved = mailboxes.browse(list(expected))._outlook_tokens()
            self.assertEqual(
                {key: (value.cache, value.builtin_refresh_token) for key, value in moved.items()}, expected
            )
            cr.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'outlook_mailbox' "
                "AND column_name IN ('token_cache', 'builtin_refresh_token')"
            )
            self.assertEqual(cr.fetchone()[0], 0, "the old columns were dropped")
            self.env.flush_all()
        finally:
            savepoint.close(rollback=True)
            self.env.invalidate_all()
