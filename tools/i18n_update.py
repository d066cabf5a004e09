#!/usr/bin/env python3
"""``make i18n``: regenerate ``i18n/outlook_calendar_sync.pot`` with Odoo's exporter and merge ``i18n/*.po``.

Runs on the first Odoo major found (``make i18n ODOO=19`` for another; the msgids are the same on 18 and 19, the
test checks them on each). Sets up that major's venv (tools/bootstrap.py), starts the project's private PostgreSQL
cluster (as ``make test`` does), installs the add-on in a fresh database ``outlook_i18n`` and runs
``tools/i18n.py export`` on it; stops the cluster again if it started it. New msgids then wait in ``i18n/fr.po`` with an
empty msgstr: translate them.
``make test`` fails while the committed .pot misses a msgid of the code (tests/test_i18n.py).
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap  # noqa: E402
import odoo_env  # noqa: E402
from _common import LOGS, REPO, RUN, exit_on_interrupt, ignore_signals, say, step, tagged, venv_python, warn  # noqa: E402
from pgcluster import Cluster, ensure_binaries  # noqa: E402

DB = "outlook_i18n"
CONF = RUN / f"{tagged('odoo-i18n')}.conf"


def main():
    parser = argparse.ArgumentParser(description="Regenerate the translation template and merge the .po files.")
    parser.add_argument("--odoo", help="the Odoo major whose exporter runs (make i18n ODOO=19)")
    opts = parser.parse_args()
    try:
        major, reason = bootstrap.choose_major(opts.odoo)
    except bootstrap.SetupError as exc:
        major, reason = None, str(exc)
    if major is None:
        warn(f"make i18n needs Odoo: {reason}")
        return 1
    bootstrap.work_for_major(major)  # this process again, for that major's venv and files (no return if another)
    try:
        plan = bootstrap.ensure()
    except bootstrap.SetupError as exc:
        warn(f"setup failed: {exc}")
        return 1
    if not plan["odoo_dir"]:
        warn(f"no Odoo: {plan['no_odoo_reason']}")
        return 1
    bindir, reason = ensure_binaries()
    if not bindir:
        warn(reason)
        return 1
    cluster = Cluster(bindir)
    try:
        cluster.start()
        odoo_env.link_addon()
        odoo_env.write_config(CONF, plan, cluster)
        odoo_env.drop_database(cluster, DB)
        ok, problems = odoo_env.install_addon(CONF, DB, cluster, LOGS / f"{tagged('odoo-i18n-install')}.log")
        if not ok:
            say("\n".join(problems))
            return 1
        step("tools/i18n.py export")
        proc = subprocess.run(
            [str(venv_python()), str(REPO / "tools" / "i18n.py"), "export", "-c", str(CONF), "-d", DB],
            stdin=subprocess.DEVNULL,
            check=False,
        )
        odoo_env.drop_database(cluster, DB)
        return proc.returncode
    finally:
        if cluster.started_here:
            ignore_signals()
        cluster.stop_if_started_here()


if __name__ == "__main__":
    exit_on_interrupt(main)
