"""What differs between Odoo 18 and 19 and is handled in one place (models/compat.py, the views): the same
outcome on both majors."""

import ast
import os
from datetime import timedelta

import psycopg2

from odoo import Command, release
from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.models import compat

from .common import ANNA, OutlookSyncCase, graph_time

UNIQUE_CONSTRAINTS = {
    "outlook_event_link_graph_uniq": "UNIQUE (mailbox_id, graph_id)",
    "outlook_event_link_event_uniq": "UNIQUE (mailbox_id, event_id)",
    "outlook_mailbox_user_uniq": "UNIQUE (user_id)",
    "outlook_series_link_graph_uniq": "UNIQUE (mailbox_id, graph_id)",
    "outlook_subscription_mailbox_uniq": "UNIQUE (mailbox_id)",
}


@tagged("post_install", "-at_install")
class TestOdooVersions(OutlookSyncCase, TransactionCase):
    def test_compat_knows_the_running_major(self):
        self.assertEqual(compat.ODOO_MAJOR, release.version_info[0])
        self.assertIn(compat.ODOO_MAJOR, (18, 19))

    def test_manifest_version_gets_the_series_of_the_running_odoo(self):
        module = self.env["ir.module.module"].search([("name", "=", "outlook_calendar_sync")])
        manifest = os.path.join(get_module_path("outlook_calendar_sync"), "__manifest__.py")
        with open(manifest, encoding="utf-8") as file:
            version = ast.literal_eval(file.read())["version"]  # as written (get_manifest adds the series)
        self.assertEqual(version.count("."), 2, "the manifest's version has no series: one codebase for both")
        self.assertEqual(module.latest_version, f"{release.major_version}.{version}")

    def test_unique_constraints_exist_with_the_same_names_on_both_majors(self):
        # the names are Odoo 18's (<table>_<name>): a database upgraded to 19 keeps its constraints
        self.env.cr.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname IN %s",
            [tuple(UNIQUE_CONSTRAINTS)],
        )
        self.assertEqual(dict(self.env.cr.fetchall()), UNIQUE_CONSTRAINTS)
        self.env.cr.execute(
            "SELECT name, message->>'en_US' FROM ir_model_constraint WHERE name IN %s", [tuple(UNIQUE_CONSTRAINTS)]
        )
        messages = dict(self.env.cr.fetchall())
        self.assertEqual(messages["outlook_mailbox_user_uniq"], "An Odoo user can connect only one Outlook mailbox.")
        self.assertEqual(set(messages), set(UNIQUE_CONSTRAINTS))

    def test_a_second_copy_of_the_same_outlook_event_is_refused(self):
        link = self.env["outlook.event.link"].create({"mailbox_id": self.mailbox_anna.id, "graph_id": "AAMk-1"})
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.env["outlook.event.link"].create({"mailbox_id": self.mailbox_anna.id, "graph_id": "AAMk-1"})
        self.assertTrue(link.exists())

    def test_an_imported_meeting_keeps_outlook_body_as_its_description(self):
        # Odoo 19 adds "Organized by" and "Contact Details" to a new event's description; an import must not
        start = self.tomorrow_at(10)
        created = self.emulator.outlook.create_event(
            ANNA,
            {
                "subject": "Quarterly review",
                "body": {"contentType": "html", "content": "<p>Agenda in the deck</p>"},
                "start": graph_time(start),
                "end": graph_time(start + timedelta(hours=1)),
                "attendees": [{"type": "required", "emailAddress": {"address": "client@example.com"}}],
            },
        )
        self.sync(self.mailbox_anna)
        event = self.event_of(created["iCalUId"])
        self.assertIn("Agenda in the deck", event.description)
        self.assertNotIn("Organized by", event.description)
        self.assertNotIn("Contact Details", event.description)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0, "nothing was pushed back")

    def test_the_cron_reports_the_mailboxes_it_synced(self):
        cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")
        cron.method_direct_trigger()
        progress = self.env["ir.cron.progress"].search([("cron_id", "=", cron.id)], order="id desc", limit=1)
        self.assertEqual((progress.done, progress.remaining), (2, 0), "Anna's and Bob's mailboxes, counted once")

    def test_the_cron_method_called_directly_reports_nothing_and_commits_nothing(self):
        # outside a cron job Odoo 19's _commit_progress would commit (a test's cursor refuses that)
        self.assertEqual(self.env["outlook.mailbox"]._cron_outlook_sync(), 2)
        self.assertTrue(self.mailbox_anna.last_sync_at)

    def test_a_connected_organizer_deletes_without_odoo_cancellation_mail(self):
        # Odoo 19 offers to mail a cancellation when an organizer deletes an event, unless a calendar sync is
        # active for them: our sync cancels the Outlook copy, Exchange tells the attendees (Odoo 18 never offers it)
        client = self.env["res.partner"].create({"name": "Client", "email": "client@example.com"})
        admin = self.env.ref("base.user_admin")
        self.assertTrue(self.user_anna._has_any_active_synchronization())
        self.assertFalse(admin._has_any_active_synchronization())
        if not hasattr(self.env["calendar.event"], "action_unlink_event"):
            return
        start = self.tomorrow_at(15)
        events = self.env["calendar.event"].create(
            [
                {
                    "name": name,
                    "user_id": user.id,
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "partner_ids": [Command.set([user.partner_id.id, client.id])],
                }
                for name, user in (("Anna's", self.user_anna), ("Admin's", admin))
            ]
        )
        annas, admins = events
        action = annas.with_user(self.user_anna).action_unlink_event()
        self.assertEqual(action.get("type"), "ir.actions.act_url")
        self.assertFalse(annas.exists(), "deleted at once")
        action = admins.action_unlink_event()
        self.assertEqual(action.get("type"), "ir.actions.act_window", "Odoo's own cancellation wizard")
        self.assertTrue(admins.exists())
