"""Tiny database queries for the tooling; runs in the venv (psycopg2 comes with Odoo's requirements).

python tools/pgq.py --host H --port P --user U exists DB
python tools/pgq.py --host H --port P --user U drop DB
python tools/pgq.py --host H --port P --user U module-state DB MODULE   (prints the state, or "absent")
"""

import argparse
import sys

import psycopg2
from psycopg2 import sql


def connect(args, dbname):
    conn = psycopg2.connect(host=args.host, port=args.port, user=args.user, dbname=dbname)
    conn.autocommit = True
    return conn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("command", choices=["exists", "drop", "module-state"])
    parser.add_argument("db")
    parser.add_argument("module", nargs="?")
    args = parser.parse_args()
    # no `with conn:` here: in psycopg2 it opens a transaction, and DROP DATABASE refuses to run in one
    conn = connect(args, "postgres")
    cr = conn.cursor()
    cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.db,))
    exists = bool(cr.fetchone())
    if args.command == "exists":
        print("yes" if exists else "no")
        return 0
    if args.command == "drop":
        if exists:
            cr.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(args.db)))
        return 0
    conn.close()
    if not exists:
        print("absent")
        return 0
    cr = connect(args, args.db).cursor()
    cr.execute("SELECT to_regclass('ir_module_module')")
    if cr.fetchone()[0] is None:
        print("absent")
        return 0
    cr.execute("SELECT state FROM ir_module_module WHERE name = %s", (args.module,))
    row = cr.fetchone()
    print(row[0] if row else "absent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
