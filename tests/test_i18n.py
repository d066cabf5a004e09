"""Translations: the committed template is what Odoo's exporter makes of the code, and French is complete."""

import re
import subprocess
import sys
from pathlib import Path

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools import config

ADDON_DIR = Path(__file__).resolve().parent.parent
I18N = ADDON_DIR / "i18n"
SCRIPT = ADDON_DIR / "tools" / "i18n.py"
# %(name)s, %s, %d, %%: what Python's % operator replaces; {name}/{0}: str.format and OWL's _t(..., {..})
PLACEHOLDER = re.compile(r"%\([a-zA-Z_]\w*\)[sdrf]|%[sdrf%]|\{[a-zA-Z_0-9]*\}")


def placeholders(text):
    return sorted(PLACEHOLDER.findall(text or ""))


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    def test_pot_matches_the_code(self):
        """``tools/i18n.py check`` exports this database's terms of the add-on (Odoo's exporter, a few seconds)
        and compares their msgids with ``i18n/outlook_calendar_sync.pot``: run ``make i18n`` when it fails."""
        if not SCRIPT.is_file() or not config.rcfile:
            self.skipTest("needs tools/i18n.py (a source checkout) and the Odoo configuration file of this run")
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "check", "-c", config.rcfile, "-d", self.env.cr.dbname],
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        self.assertEqual(proc.returncode, 0, proc.stdout[-4000:] + proc.stderr[-4000:])

    def test_french_translates_every_msgid(self):
        pot = polib.pofile(str(I18N / "outlook_calendar_sync.pot"))
        french = {(entry.msgctxt, entry.msgid): entry for entry in polib.pofile(str(I18N / "fr.po"))}
        missing, wrong = [], []
        for entry in pot:
            if not entry.msgid:
                continue
            translated = french.get((entry.msgctxt, entry.msgid))
            if not translated or not translated.msgstr.strip() or translated.fuzzy:
                missing.append(entry.msgid)
            elif placeholders(entry.msgid) != placeholders(translated.msgstr):
                wrong.append((entry.msgid, translated.msgstr))
        self.assertFalse(missing, f"untranslated in i18n/fr.po: {missing[:10]}")
        self.assertFalse(wrong, f"placeholders changed in i18n/fr.po: {wrong[:5]}")
