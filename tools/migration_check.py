#!/usr/bin/env python3
"""End-to-end check of the migration from Odoo's built-in ``microsoft_calendar`` (README "Migrating from Odoo's
Outlook Calendar"), on a real database and the local emulator:

1. a database with ``microsoft_calendar``; two users connect through the built-in's own code flow and its cron syncs
   their mailboxes from the emulator (meetings between them, an external organizer's meeting, a weekly series, an
   all-day event; one event created in Odoo and pushed by the built-in);
2. ``tools/preserve_microsoft_calendar.py``; uninstall ``microsoft_calendar`` and ``microsoft_account``;
3. install ``outlook_calendar_sync`` (post_init_hook), point its settings at the emulator (the Azure app itself comes
   from the built-in's settings), run its cron twice;
4. measure: mailboxes connected without consent, Odoo events before/after, meetings held by two or more events,
   Graph writes and the messages Exchange would have sent since step 3;
5. Anna moves an adopted meeting in Odoo: one sync sends one PATCH to its Outlook copy (no new event).

    python tools/migration_check.py -c ODOO_CONF [--db NAME] [--keep]     prints one JSON line (the result)

Runs in Odoo's Python (the project's ``.venv``); ODOO_CONF gives the PostgreSQL server and the addons path (both
add-ons must be on it). The database is created, then dropped at the end with its filestore, unless ``--keep``; the
emulator runs inside this process. The Odoo steps run in child processes (``--step``), as a server would, with the
built-in's HTTP calls rerouted to the emulator by ``bench/shim.py``. ``tests/test_migration_builtin.py`` runs it.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

CLIENT_ID = "7b0c6d2e-3f4a-4c1e-9a55-0d6f0c1b2a09"
CLIENT_SECRET = "migration-check-secret"
ANNA, BOB, CAROL = "anna@contoso.test", "bob@contoso.test", "carol@fabrikam.test"
BASE_URL = "http://localhost:8069"
REDIRECT_URI = BASE_URL + "/microsoft_account/authentication"
BUILTIN_SCOPE = "offline_access openid Calendars.ReadWrite"  # what microsoft_calendar asks for
GRAPH_HOST = "https://graph.microsoft.com"
QUIET = {"no_mail_to_attendees": True, "mail_create_nosubscribe": True, "mail_notrack": True, "tracking_disable": True}


# ---------------------------------------------------------------------------
# steps inside Odoo (child processes)
# ---------------------------------------------------------------------------
def step_builtin(env, args):
    """Users connect through the built-in's code flow; its cron imports; one Odoo event is pushed by it."""
    import shim

    from odoo import Command

    from emulator.consent import consent_redirect

    shim.install(args["base_url"], args["ca_path"])
    icp = env["ir.config_parameter"].sudo()
    for key, value in {
        "microsoft_calendar_client_id": CLIENT_ID,
        "microsoft_calendar_client_secret": CLIENT_SECRET,
        "web.base.url": BASE_URL,
        "web.base.url.freeze": "True",
    }.items():
        icp.set_param(key, value)
    users = env["res.users"].sudo().with_context(no_reset_password=True, **QUIET)
    group = env.ref("base.group_user").id
    groups_field = "group_ids" if "group_ids" in users._fields else "groups_id"  # renamed in Odoo 19
    created = users.create(
        [
            {
                "login": address,
                "name": address.split("@")[0].title(),
                "email": address,
                "tz": "Europe/Berlin",
                groups_field: [Command.set([group])],
            }
            for address in (ANNA, BOB)
        ]
    )
    for user in created:
        env["res.users.settings"]._find_or_create_for_user(user)
    env.cr.commit()
    service = env["microsoft.service"]
    for user in created:
        uri = service.with_user(user)._get_authorize_uri(
            BASE_URL + "/odoo/calendar", "calendar", BUILTIN_SCOPE, REDIRECT_URI
        )
        uri = uri.replace("https://login.microsoftonline.com", args["base_url"])
        _location, params = consent_redirect(uri, args["ca_path"], account=user.email)
        access, refresh, ttl = service._get_microsoft_tokens(params["code"], "calendar", REDIRECT_URI)
        user.sudo()._set_microsoft_auth_tokens(access, refresh, ttl)
        env.cr.commit()
    env["res.users"]._sync_all_microsoft_calendar()
    env.cr.commit()
    anna = created[0]
    start = (datetime.now() + timedelta(days=3)).replace(hour=14, minute=0, second=0, microsecond=0)
    env["calendar.event"].with_user(anna).create(
        {
            "name": "Planned in Odoo",
            "start": start,
            "stop": start + timedelta(hours=1),
            "partner_ids": [Command.set([anna.partner_id.id, created[1].partner_id.id])],
        }
    )
    env.cr.commit()  # the built-in pushes it here (post-commit)
    env["res.users"]._sync_all_microsoft_calendar()
    env.cr.commit()
    return census(env, "ms_universal_event_id")


def step_uninstall(env, args):
    modules = env["ir.module.module"].search([("name", "in", ["microsoft_calendar", "microsoft_account"])])
    modules.button_immediate_uninstall()
    env.cr.commit()
    env.cr.execute("SELECT name, state FROM ir_module_module WHERE name IN ('microsoft_calendar', 'microsoft_account')")
    return dict(env.cr.fetchall())


def step_ours(env, args):
    """Point the add-on at the emulator (not its Azure app: that comes from the built-in), run its cron twice."""
    icp = env["ir.config_parameter"].sudo()
    for key, value in {
        "outlook_calendar_sync.authority_url": args["base_url"],
        "outlook_calendar_sync.graph_url": args["base_url"] + "/v1.0",
        "outlook_calendar_sync.ca_bundle": args["ca_path"],
    }.items():
        icp.set_param(key, value)
    env.cr.commit()
    mailboxes = env["outlook.mailbox"].sudo()
    before = {m.user_id.login: m.state for m in mailboxes.search([])}
    runs = [mailboxes._cron_outlook_sync(time_budget=300)]  # takes the connections over, then the first sync
    env.cr.commit()
    mailboxes.search([])._outlook_request_sync(force=True)  # a second cycle at once: still nothing to send
    env.cr.commit()
    runs.append(mailboxes._cron_outlook_sync(time_budget=300))
    env.cr.commit()
    env.invalidate_all()
    out = census(env, "outlook_ical_uid")
    out.update(
        states_at_install=before,
        states=({m.user_id.login: m.state for m in mailboxes.search([])}),
        errors=[m.last_error for m in mailboxes.search([]) if m.last_error],
        client_id_taken=icp.get_param("outlook_calendar_sync.client_id") == CLIENT_ID,
        cron_runs=runs,
        links=env["outlook.event.link"].sudo().search_count([]),
        linked_events=len(env["outlook.event.link"].sudo().search([]).event_id),
        pending_tokens=len(mailboxes._outlook_with_builtin_token()),
        dirty=env["calendar.event"].sudo().search_count([("outlook_dirty", "=", True)]),
    )
    return out


def step_edit(env, args):
    """After the migration the links work both ways: Anna moves an adopted meeting in Odoo, one sync sends it."""
    anna = env["res.users"].search([("login", "=", ANNA)])
    event = env["calendar.event"].with_user(anna).search([("name", "=", "Project review 1")])
    event.write({"location": "Room 2"})
    env.cr.commit()
    mailboxes = env["outlook.mailbox"].sudo()
    mailboxes.search([("user_id", "=", anna.id)])._outlook_request_sync(force=True)
    env.cr.commit()
    mailboxes._cron_outlook_sync(time_budget=300)
    env.cr.commit()
    event.invalidate_recordset()
    return {
        "edited": len(event),
        "state": event.outlook_sync_state,
        "dirty": event.outlook_dirty,
        "events": env["calendar.event"].sudo().with_context(active_test=False).search_count([]),
    }


def census(env, uid_field):
    """Events (archived included), events holding an iCalUId, and meetings held by several active events."""
    events = env["calendar.event"].sudo().with_context(active_test=False)
    env.cr.execute(
        f"SELECT count(*) FROM (SELECT {uid_field} FROM calendar_event WHERE active AND {uid_field} IS NOT "
        f"NULL GROUP BY {uid_field} HAVING count(*) > 1) AS dup"
    )  # pylint: disable=sql-injection
    duplicated = env.cr.fetchone()[0]
    return {
        "events": events.search_count([]),
        "active": events.search_count([("active", "=", True)]),
        "with_ical_uid": events.search_count([(uid_field, "!=", False)]),
        "duplicated_meetings": duplicated,
    }


STEPS = {"builtin": step_builtin, "uninstall": step_uninstall, "ours": step_ours, "edit": step_edit}


def run_step(name, conf, db, args):
    import odoo.service.server  # Odoo 19 no longer imports it with odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["-c", conf, "-d", db, "--log-level=warn"])
    odoo.service.server.load_server_wide_modules()
    registry = Registry(db)
    with registry.cursor() as cr:
        result = STEPS[name](api.Environment(cr, SUPERUSER_ID, {}), args)
    sys.stdout.write("STEP-RESULT " + json.dumps(result, default=str) + "\n")
    return 0


# ---------------------------------------------------------------------------
# the orchestrator
# ---------------------------------------------------------------------------
class Check:
    def __init__(self, conf, db, emulator):
        self.conf, self.db, self.emu = conf, db, emulator
        self.env = dict(os.environ, REQUESTS_CA_BUNDLE=emulator.ca_bundle_path)
        self.env.pop("PYTHONPATH", None)
        self.log = []

    def odoo(self, *args, timeout=900):
        cmd = [
            sys.executable,
            "-m",
            "odoo",
            "-c",
            self.conf,
            "-d",
            self.db,
            *args,
            "--stop-after-init",
            "--log-level=warn",
            "--without-demo=True",  # Odoo 19 wants a boolean
        ]
        self._run(cmd, timeout)

    def step(self, name, timeout=900):
        args = {"base_url": self.emu.base_url, "ca_path": self.emu.ca_path}
        cmd = [sys.executable, __file__, "--step", name, "-c", self.conf, "--db", self.db, "--args", json.dumps(args)]
        out = self._run(cmd, timeout)
        lines = [line for line in out.splitlines() if line.startswith("STEP-RESULT ")]
        if not lines:
            raise RuntimeError(f"step {name} printed no result:\n" + "\n".join(self.log[-1:]))
        return json.loads(lines[-1][len("STEP-RESULT ") :])

    def _run(self, cmd, timeout):
        proc = subprocess.run(
            cmd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=REPO,
        )
        errors = [line for line in (proc.stdout + proc.stderr).splitlines() if " ERROR " in line or "Traceback" in line]
        self.log.append(f"$ {' '.join(cmd[:8])} -> {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        if proc.returncode != 0 or errors:
            raise RuntimeError(
                f"{' '.join(cmd[:8])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-5000:]}"
            )
        return proc.stdout

    def sql(self, query, dbname="postgres"):
        import psycopg2

        from odoo.tools import config

        config.parse_config(["-c", self.conf])
        args = {
            "dbname": dbname,
            "host": config["db_host"] or None,
            "port": config["db_port"] or None,
            "user": config["db_user"] or None,
            "password": config["db_password"] or None,
        }
        conn = psycopg2.connect(**{k: v for k, v in args.items() if v not in (None, False, "False")})
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(query)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def drop(self):
        from odoo.tools import config

        self.sql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        shutil.rmtree(Path(config["data_dir"]) / "filestore" / self.db, ignore_errors=True)


def seed(emu):
    """Meetings between Anna and Bob (Anna organizes), one from an external organizer, a series, an all-day event."""

    def when(days, hour):
        start = (datetime.now() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
        return (
            {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        )

    def attendees(*addresses):
        return [
            {"type": "required", "emailAddress": {"address": a, "name": a.split("@")[0].title()}} for a in addresses
        ]

    for index in range(3):
        start, end = when(1 + index, 9)
        emu.outlook.create_event(
            ANNA,
            {
                "subject": f"Project review {index + 1}",
                "start": start,
                "end": end,
                "attendees": attendees(BOB, CAROL),
                "location": {"displayName": "Room 1"},
            },
        )
    start, end = when(2, 11)
    emu.outlook.create_event(
        CAROL, {"subject": "Customer call", "start": start, "end": end, "attendees": attendees(ANNA, BOB)}
    )
    start, end = when(4, 15)
    emu.outlook.create_event(BOB, {"subject": "Dentist", "start": start, "end": end, "sensitivity": "private"})
    day = (datetime.now() + timedelta(days=5)).date()
    emu.outlook.create_event(
        ANNA,
        {
            "subject": "Offsite",
            "isAllDay": True,
            "start": {"dateTime": f"{day}T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"{day + timedelta(days=1)}T00:00:00", "timeZone": "UTC"},
        },
    )
    start, end = when(1, 8)
    first = datetime.fromisoformat(start["dateTime"]).date()
    emu.outlook.create_event(
        ANNA,
        {
            "subject": "Weekly sync",
            "start": start,
            "end": end,
            "attendees": attendees(CAROL),
            "recurrence": {
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": [first.strftime("%A").lower()],
                    "firstDayOfWeek": "monday",
                },
                "range": {"type": "numbered", "startDate": first.isoformat(), "numberOfOccurrences": 3},
            },
        },
    )


def graph_writes(counters):
    """Requests that change something in Outlook (``$batch`` items counted one by one)."""
    writes = 0
    for key, count in (counters.get("requests") or {}).items():
        method, _, path = key.partition(" ")
        if "/v1.0" in path and method in ("POST", "PATCH", "DELETE", "PUT") and "$batch" not in path:
            writes += count
    return writes


def orchestrate(opts):
    from emulator import Emulator

    started = time.monotonic()
    emu = Emulator().start()
    check = Check(opts.config, opts.db, emu)
    result = {}
    try:
        emu.register_app(CLIENT_ID, CLIENT_SECRET, name="Odoo (built-in, then outlook_calendar_sync)")
        for address in (ANNA, BOB, CAROL):
            emu.add_mailbox(address, display_name=address.split("@")[0].title())
        seed(emu)
        check.drop()
        check.odoo("-i", "microsoft_calendar")
        emu.configure(link_host=GRAPH_HOST)  # the built-in follows links on Microsoft's host only (bench/shim.py)
        result["builtin"] = check.step("builtin")
        result["builtin_messages"] = emu.counters().get("messages_sent", 0)
        proc = subprocess.run(
            [
                sys.executable,
                str(REPO / "tools" / "preserve_microsoft_calendar.py"),
                "-c",
                opts.config,
                "-d",
                opts.db,
                "--json",
            ],
            env=check.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        result["preserved"] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["uninstalled"] = check.step("uninstall")
        check.odoo("-i", "outlook_calendar_sync")
        emu.configure(link_host=None)
        emu.reset_counters()
        result["ours"] = check.step("ours")
        counters = emu.counters()
        result["messages_sent"] = counters.get("messages_sent", 0)
        result["graph_writes"] = graph_writes(counters)
        result["requests"] = counters.get("requests")
        emu.reset_counters()
        result["edit"] = check.step("edit")
        edited = emu.counters()
        result["edit"].update(
            patches=sum(n for key, n in edited["requests"].items() if key.startswith("PATCH /v1.0/")),
            creates=edited["requests"].get("POST /v1.0/me/events", 0),
            messages_sent=edited.get("messages_sent", 0),
            location=next(
                (
                    item.get("location", {}).get("displayName")
                    for item in emu.outlook.list_events(ANNA)
                    if item.get("subject") == "Project review 1"
                ),
                None,
            ),
        )
        before, after = result["builtin"], result["ours"]
        result["summary"] = {
            "events_before": before["events"],
            "events_after": after["events"],
            "created": after["events"] - before["events"],
            "duplicated_meetings_before": before["duplicated_meetings"],
            "duplicated_meetings_after": after["duplicated_meetings"],
            "mailboxes_connected": sorted(login for login, state in after["states"].items() if state == "connected"),
            "messages_sent": result["messages_sent"],
            "graph_writes": result["graph_writes"],
        }
    finally:
        emu.stop()
        if not opts.keep:
            check.drop()
        result["seconds"] = round(time.monotonic() - started, 1)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file")
    parser.add_argument("--db", default="outlook_migration_check")
    parser.add_argument("--keep", action="store_true", help="keep the database for a look")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.step:
        return run_step(opts.step, opts.config, opts.db, json.loads(opts.args))
    result = orchestrate(opts)
    sys.stdout.write("MIGRATION-RESULT " + json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
