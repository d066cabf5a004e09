#!/usr/bin/env python3
"""The add-on's translation template, exported by Odoo's own exporter, and the check that it is current.

    python tools/i18n.py export -c ODOO_CONF -d DB     rewrite i18n/outlook_calendar_sync.pot and merge the .po files
    python tools/i18n.py check  -c ODOO_CONF -d DB     exit 1 when the committed .pot misses or has extra msgids

DB must have the add-on installed (``make test`` leaves ``outlook_test``; ``make i18n`` sets one up). Runs in Odoo's
Python (the project's ``.venv``, or ``.venv-19``). Odoo's exporter (``trans_export``, what ``odoo --i18n-export``
runs on Odoo 18 and ``odoo i18n export`` on Odoo 19) walks every file under the add-on's folder, following symlinks:
in a working copy that means ``.run/`` (whose ``addons/outlook_calendar_sync`` points back at the working copy) and
the venvs. So the export reads a copy of the add-on without those folders, given to Odoo as the only custom addons
path. ``export`` also brings each ``i18n/*.po`` up to date (polib, as Odoo uses it):
translations of msgids that still exist are kept, new msgids come in untranslated, gone ones leave.

Exit status: 0 when done (or current), 1 when the check found a difference, 2 when the export failed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDON = "outlook_calendar_sync"
POT = REPO / "i18n" / f"{ADDON}.pot"
# never part of the add-on's code: tooling state, caches, builds
SKIP_DIRS = {
    ".git",
    ".run",
    ".venv",  # and every .venv-<major>
    ".benchmarks",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
}


def copy_addon(target):
    """Copy the add-on's files into ``target/outlook_calendar_sync`` (no symlinks followed, SKIP_DIRS left out)."""

    def ignore(_folder, names):
        return [name for name in names if name in SKIP_DIRS or name.startswith(".venv-")]

    shutil.copytree(REPO, target / ADDON, ignore=ignore, symlinks=True)
    return target / ADDON


def odoo_addons_dirs():
    import odoo.release

    odoo_dir = Path(odoo.release.__file__).resolve().parent  # odoo is a namespace package on Odoo 19 (no __file__)
    dirs = [d for d in (odoo_dir / "addons", odoo_dir.parent / "addons") if d.is_dir()]
    return [str(d) for d in dirs if any(d.glob("*/__manifest__.py"))]


def export_pot(conf, db, out):
    """Run Odoo's exporter on ``db`` for the add-on (in a child process: it loads the registry); write the template
    to ``out``."""
    with tempfile.TemporaryDirectory(prefix="outlook-i18n-") as tmp:
        copy_addon(Path(tmp))
        addons_path = ",".join([tmp, *odoo_addons_dirs()])
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "_export",
            "-c",
            str(Path(conf).resolve()),
            "-d",
            db,
            addons_path,
            str(out),
        ]
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(
            cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False
        )
    if proc.returncode != 0 or not Path(out).is_file():
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(2)
    return out


def export_in_odoo(conf, db, addons_path, out):
    """The template of the add-on's terms, as ``odoo --i18n-export`` (Odoo 18) or ``odoo i18n export`` (Odoo 19)
    write it: both call ``trans_export``, which takes a cursor on Odoo 18 and an environment on Odoo 19."""
    import odoo.release
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config
    from odoo.tools.translate import trans_export

    config.parse_config(["-c", conf, "-d", db, f"--addons-path={addons_path}", "--log-level=warn"])
    with Registry(db).cursor() as cr, open(out, "wb") as buffer:
        target = api.Environment(cr, SUPERUSER_ID, {}) if odoo.release.version_info[0] >= 19 else cr
        trans_export(None, [ADDON], buffer, "po", target)
    return 0


def undated(path):
    """The file's text without its creation and revision dates (a new export changes only those)."""
    text = Path(path).read_text(encoding="utf-8")
    return "\n".join(
        line for line in text.splitlines() if not line.startswith(('"POT-Creation-Date:', '"PO-Revision-Date:'))
    )


def entries(path):
    """``{(msgctxt, msgid)}`` of a .pot/.po file (the header entry left out)."""
    import polib

    return {(entry.msgctxt, entry.msgid) for entry in polib.pofile(str(path)) if entry.msgid}


def merge_po(po_path, pot_path):
    """Bring a translation up to date with the template; returns (kept, new, gone) counts."""
    import polib

    pot = polib.pofile(str(pot_path))
    po = polib.pofile(str(po_path))
    old = {(entry.msgctxt, entry.msgid): entry for entry in po if entry.msgid}
    merged = polib.POFile(wrapwidth=78)
    merged.metadata = po.metadata
    kept = new = 0
    for entry in pot:
        if not entry.msgid:
            continue
        previous = old.get((entry.msgctxt, entry.msgid))
        entry.msgstr = previous.msgstr if previous else ""
        kept, new = (kept + 1, new) if previous and previous.msgstr else (kept, new + 1)
        merged.append(entry)
    merged.header = po.header
    merged.save(str(po_path))
    return kept, new, len(set(old) - {(e.msgctxt, e.msgid) for e in pot if e.msgid})


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_export"]:  # the child process of export_pot
        inner = argparse.ArgumentParser()
        inner.add_argument("-c", required=True)
        inner.add_argument("-d", required=True)
        inner.add_argument("addons_path")
        inner.add_argument("out")
        args = inner.parse_args(argv[1:])
        return export_in_odoo(args.c, args.d, args.addons_path, args.out)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("export", "check"))
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file")
    parser.add_argument("-d", "--database", required=True, help="a database where the add-on is installed")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="outlook-pot-") as tmp:
        fresh = export_pot(opts.config, opts.database, Path(tmp) / f"{ADDON}.pot")
        if opts.action == "export":
            POT.parent.mkdir(exist_ok=True)
            if POT.is_file() and undated(POT) == undated(fresh):
                sys.stdout.write(f"{POT.relative_to(REPO)} unchanged ({len(entries(POT))} msgids)\n")
            else:
                shutil.copyfile(fresh, POT)
                sys.stdout.write(f"wrote {POT.relative_to(REPO)} ({len(entries(POT))} msgids)\n")
            for po in sorted(POT.parent.glob("*.po")):
                kept, new, gone = merge_po(po, POT)
                sys.stdout.write(f"merged {po.relative_to(REPO)}: {kept} translated, {new} to translate, {gone} gone\n")
            return 0
        if not POT.is_file():
            sys.stdout.write(f"{POT.relative_to(REPO)} is missing: run `make i18n`\n")
            return 1
        committed, current = entries(POT), entries(fresh)
        missing, extra = sorted(current - committed, key=str), sorted(committed - current, key=str)
        for label, items in (("not in the .pot yet", missing), ("in the .pot but gone from the code", extra)):
            for ctxt, msgid in items[:20]:
                sys.stdout.write(f"{label}: {msgid[:100]!r}{f' ({ctxt})' if ctxt else ''}\n")
        if missing or extra:
            sys.stdout.write(
                f"{POT.relative_to(REPO)} is stale ({len(missing)} missing, {len(extra)} extra): "
                "run `make i18n` and translate the new msgids in i18n/*.po\n"
            )
            return 1
        sys.stdout.write(f"{POT.relative_to(REPO)} is current ({len(current)} msgids)\n")
        return 0


if __name__ == "__main__":
    sys.exit(main())
