#!/usr/bin/env python3
"""Before uninstalling Odoo's built-in ``microsoft_calendar``: keep its links for ``outlook_calendar_sync``.

    python3 tools/preserve_microsoft_calendar.py -c /etc/odoo/odoo.conf -d DATABASE
    python3 tools/preserve_microsoft_calendar.py --dsn "host=... dbname=... user=..."

Runs ``data/preserve_microsoft_calendar.sql`` (the same file works with ``psql -f``) in one transaction and prints
what was kept: events and recurrences with their iCalUId, users with a refresh token, the Azure app settings. Needs
only ``psycopg2`` (any Odoo's Python has it); reads the database settings of an Odoo configuration file without
importing Odoo. Exit status: 0 when the built-in's data was found and kept, 2 when the database has none.
"""

import argparse
import configparser
import json
import sys
from pathlib import Path

SQL = Path(__file__).resolve().parent.parent / "data" / "preserve_microsoft_calendar.sql"

REPORT = """
SELECT json_build_object(
    'events', (SELECT count(*) FROM outlook_builtin_event WHERE model = 'calendar.event'),
    'events_with_ical_uid', (SELECT count(*) FROM outlook_builtin_event
                             WHERE model = 'calendar.event' AND ical_uid IS NOT NULL),
    'events_not_sent_yet', (SELECT count(*) FROM outlook_builtin_event WHERE need_sync),
    'shared_ical_uids', (SELECT count(*) FROM (SELECT ical_uid FROM outlook_builtin_event
                         WHERE model = 'calendar.event' AND ical_uid IS NOT NULL
                         GROUP BY ical_uid HAVING count(*) > 1) AS dup),
    'recurrences', (SELECT count(*) FROM outlook_builtin_event WHERE model = 'calendar.recurrence'),
    'users', (SELECT count(*) FROM outlook_builtin_user),
    'users_with_refresh_token', (SELECT count(*) FROM outlook_builtin_user WHERE refresh_token IS NOT NULL),
    'users_stopped', (SELECT count(*) FROM outlook_builtin_user WHERE sync_stopped),
    'app_settings', (SELECT coalesce(json_agg(key ORDER BY key), '[]'::json) FROM outlook_builtin_param)
)
"""


def connect_args(opts):
    """psycopg2 keyword arguments from ``--dsn`` or from an Odoo configuration file + ``-d``."""
    if opts.dsn:
        return {"dsn": opts.dsn}
    if not (opts.config and opts.database):
        raise SystemExit("give -c ODOO_CONF -d DATABASE, or --dsn")
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(opts.config):
        raise SystemExit(f"cannot read {opts.config}")
    options = parser["options"] if parser.has_section("options") else {}
    args = {"dbname": opts.database}
    for odoo_key, pg_key in (
        ("db_host", "host"),
        ("db_port", "port"),
        ("db_user", "user"),
        ("db_password", "password"),
        ("db_sslmode", "sslmode"),
    ):
        value = (options.get(odoo_key) or "").strip()
        if value and value != "False":
            args[pg_key] = value
    return args


def preserve(conn_args):
    """Run the SQL in one transaction; return the report (a dict)."""
    import psycopg2

    conn = psycopg2.connect(**conn_args)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(SQL.read_text(encoding="utf-8"))
            cur.execute(REPORT)
            report = cur.fetchone()[0]
    finally:
        conn.close()
    return report if isinstance(report, dict) else json.loads(report)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", help="Odoo configuration file (db_host, db_port, db_user, db_password)")
    parser.add_argument("-d", "--database", help="the database that used microsoft_calendar")
    parser.add_argument("--dsn", help="a libpq connection string instead of -c/-d")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    opts = parser.parse_args(argv)
    report = preserve(connect_args(opts))
    if opts.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        lines = [
            f"kept {report['events']} events ({report['events_with_ical_uid']} with an iCalUId) and "
            f"{report['recurrences']} recurrences linked to Outlook",
            f"kept {report['users']} users' sync state, {report['users_with_refresh_token']} with a refresh token "
            f"({report['users_stopped']} had stopped their sync: they are not connected again)",
            f"kept the app settings: {', '.join(report['app_settings']) or 'none'}",
        ]
        if report["events_not_sent_yet"]:
            lines.append(
                f"warning: {report['events_not_sent_yet']} events hold changes the built-in has not sent to "
                "Outlook yet; run its sync once more, then this script again, before uninstalling"
            )
        if report["shared_ical_uids"]:
            lines.append(
                f"note: {report['shared_ical_uids']} meetings already exist twice or more in Odoo (the "
                "built-in's duplicates); the first sync links the oldest event and leaves the others alone"
            )
        if report["events"] or report["users"]:
            lines.append("now uninstall microsoft_calendar and microsoft_account, then install outlook_calendar_sync")
        else:
            lines.append("nothing to keep: microsoft_calendar is not installed in this database, or it never synced")
        sys.stdout.write("\n".join(lines) + "\n")
    return 0 if report["events"] or report["users"] else 2


if __name__ == "__main__":
    sys.exit(main())
