"""Migration from Odoo's built-in microsoft_calendar, end to end (README "Migrating from Odoo's Outlook Calendar").

The check needs databases of its own (install the built-in, sync, preserve, uninstall it, install this add-on), so
it cannot run inside this test's transaction: ``tools/migration_check.py`` does it on the same PostgreSQL server in
a child process, with its own emulator, and drops its database at the end. About 40 seconds.
"""

import json
import subprocess
import sys
from pathlib import Path

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "migration_check.py"


@tagged("post_install", "-at_install")
class TestMigrationFromBuiltin(TransactionCase):
    def test_first_sync_adopts_builtin_links(self):
        if not SCRIPT.is_file() or not get_module_path("microsoft_calendar", display_warning=False):
            self.skipTest("needs tools/migration_check.py (a source checkout) and Odoo's microsoft_calendar")
        if not config.rcfile or not Path(config.rcfile).is_file():
            self.skipTest("needs the Odoo configuration file of this run")
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "-c", config.rcfile, "--db", f"{self.env.cr.dbname}_migration"],
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("MIGRATION-RESULT ")]
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:] + proc.stderr[-5000:])
        result = json.loads(lines[-1][len("MIGRATION-RESULT ") :])
        before, after, summary = result["builtin"], result["ours"], result["summary"]
        self.assertGreaterEqual(before["with_ical_uid"], 9, "the built-in synced the seeded meetings")
        self.assertEqual(result["preserved"]["users_with_refresh_token"], 2)
        self.assertEqual(set(result["uninstalled"].values()), {"uninstalled"})
        # the users are connected again without a consent page, with the built-in's Azure app
        self.assertEqual(summary["mailboxes_connected"], ["anna@contoso.test", "bob@contoso.test"], after["errors"])
        self.assertTrue(after["client_id_taken"])
        self.assertEqual(after["pending_tokens"], 0)
        # the first sync adopts every event: no new event, no duplicate, nothing sent, nobody mailed
        self.assertEqual(summary["created"], 0)
        self.assertEqual(summary["duplicated_meetings_after"], 0)
        self.assertEqual(after["linked_events"], before["events"])
        self.assertEqual(after["dirty"], 0)
        self.assertEqual(summary["graph_writes"], 0)
        self.assertEqual(summary["messages_sent"], 0)
        self.assertEqual(after["errors"], [])
        # and the adopted links work outbound: a change made in Odoo is one PATCH of the Outlook copy
        moved = result["edit"]
        self.assertEqual((moved["edited"], moved["patches"], moved["creates"]), (1, 1, 0))
        self.assertEqual((moved["location"], moved["state"], moved["events"]), ("Room 2", "synced", before["events"]))
