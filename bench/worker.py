"""One benchmark step inside Odoo (runs in the project's .venv, started by ``bench/run.py``).

    python bench/worker.py ACTION ODOO_CONF DATABASE JSON_ARGS

Loads the registry of DATABASE with Odoo's API (``parse_config`` + ``Registry``), works in real committing
transactions (never Odoo's test mode), and prints one line ``BENCH-RESULT {...}`` for the launcher. Measured
sections report ``wall_s``, ``sql_queries`` (Odoo's own ``odoo.sql_db.sql_counter``: every statement this process
sends, post-commit cursors included) and ``peak_rss_mb`` (``ru_maxrss`` of this process, registry included;
``rss_before_mb`` is the peak before the section started). Graph requests are counted by the emulator.

Ours is run as its cron runs it (``outlook.mailbox._cron_outlook_sync``); the built-in as its cron runs it
(``res.users._sync_all_microsoft_calendar``), with :mod:`bench.shim` rerouting its HTTP calls to the emulator.
"""

import collections
import contextlib
import datetime
import json
import os
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# the emulator package from the measured source (the work tree, or the snapshot of ``--ref``), bench modules from here
sys.path[:0] = [str(BENCH), os.environ.get("BENCH_SOURCE") or str(REPO)]

import dataset  # noqa: E402
import shim  # noqa: E402

import odoo  # noqa: E402
import odoo.sql_db  # noqa: E402
from odoo import SUPERUSER_ID, Command, api  # noqa: E402
from odoo.modules.registry import Registry  # noqa: E402
from odoo.tools import config  # noqa: E402

from emulator.consent import drive_consent  # noqa: E402

INBOUND_LIKE_CONTEXT = {  # the floor creates without mail, as both sync modules do
    "dont_notify": True,
    "no_mail_to_attendees": True,
    "mail_create_nosubscribe": True,
    "mail_create_nolog": True,
    "mail_notrack": True,
    "mail_auto_subscribe_no_notify": True,
    "tracking_disable": True,
}
BUILTIN_SCOPE = "offline_access openid Calendars.ReadWrite"
REDIRECT_URI = "http://localhost:8069/microsoft_account/authentication"


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextlib.contextmanager
def measure(out, profile=None):
    """Fill ``out`` with wall time, SQL statements and peak RSS of the ``with`` body (optionally profiled)."""
    profiler = None
    if profile:
        profiler = Profiler(profile)
        profiler.start()
    rss_before, sql_before, start = rss_mb(), odoo.sql_db.sql_counter, time.perf_counter()
    try:
        yield out
    finally:
        out["wall_s"] = round(time.perf_counter() - start, 3)
        out["sql_queries"] = odoo.sql_db.sql_counter - sql_before
        out["peak_rss_mb"] = round(rss_mb(), 1)
        out["rss_before_mb"] = round(rss_before, 1)
        if profiler:
            out["profile"] = profiler.stop()


class Profiler:
    """pyinstrument (wall-clock sampling) plus, per SQL statement, the innermost frame of our add-on that sent it."""

    def __init__(self, path):
        self.path = Path(path)
        self.queries = collections.Counter()
        self.sampler = None
        self._execute = None

    def start(self):
        try:
            from pyinstrument import Profiler as Sampler

            self.sampler = Sampler(interval=0.002)
        except ImportError:
            self.sampler = None
        cursor_cls = odoo.sql_db.Cursor
        self._execute = original = cursor_cls.execute
        queries = self.queries

        def execute(cursor, query, params=None, log_exceptions=True):
            frame = sys._getframe(1)
            while frame is not None:
                own = addon_path(frame.f_code.co_filename)
                if own:
                    queries[f"{own}:{frame.f_lineno} {frame.f_code.co_name}"] += 1
                    break
                frame = frame.f_back
            return original(cursor, query, params, log_exceptions)

        cursor_cls.execute = execute
        if self.sampler:
            self.sampler.start()

    def stop(self):
        odoo.sql_db.Cursor.execute = self._execute
        summary = {"sql_by_addon_line": self.queries.most_common(25)}
        if self.sampler:
            self.sampler.stop()
            session = self.sampler.last_session
            text = self.sampler.output_text(unicode=False, color=False, show_all=False)
            self.path.with_suffix(".txt").write_text(text, encoding="utf-8")
            summary.update(hotspots(session.root_frame(), session.duration))
            summary["tree"] = str(self.path.with_suffix(".txt"))
        self.path.with_suffix(".json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return str(self.path.with_suffix(".json"))


ADDON_MARK = "outlook_calendar_sync" + os.sep


def addon_path(path):
    """``models/x.py`` for a file of the measured add-on (work tree, snapshot or its symlink), else None."""
    path = path or ""
    if ADDON_MARK in path:
        return path.rsplit(ADDON_MARK, 1)[1]
    repo = str(REPO) + os.sep
    if path.startswith(repo) and not path.startswith(str(BENCH) + os.sep):
        return path[len(repo) :]
    return None


def short_path(path):
    return addon_path(path) or (path or "?").replace("/opt/odoo18/", "").replace(sys.prefix + os.sep, "")


def hotspots(root, duration):
    """Add-on functions by inclusive time (each once per stack; ``file:line`` of the ``def``) and any frame by
    self time."""
    inclusive, self_time = collections.Counter(), collections.Counter()

    def walk(frame, on_stack):
        own = addon_path(frame.file_path)
        key = f"{own or short_path(frame.file_path)}:{frame.line_no} {frame.function}"
        if frame.file_path:
            self_time[key] += frame.total_self_time
        added = key if own and key not in on_stack else None
        if added:
            inclusive[key] += frame.time
        for child in frame.children:
            walk(child, on_stack | {added} if added else on_stack)

    if root is not None:
        walk(root, frozenset())
    return {
        "duration_s": round(duration, 3),
        "addon_inclusive_s": [(k, round(v, 3)) for k, v in inclusive.most_common(30)],
        "self_time_s": [(k, round(v, 3)) for k, v in self_time.most_common(30)],
    }


# ---------------------------------------------------------------------------
# set-up (not measured)
# ---------------------------------------------------------------------------
def set_params(env, params):
    icp = env["ir.config_parameter"].sudo()
    for key, value in params.items():
        icp.set_param(key, value)
    return {"params": sorted(params)}


def ensure_users(env, emails):
    """One internal user per address (login = address), time zone Europe/Berlin; returns ``{email: id}``."""
    users = env["res.users"].sudo().with_context(no_reset_password=True, **INBOUND_LIKE_CONTEXT)
    existing = {u.login: u.id for u in users.search([("login", "in", emails)])}
    missing = [e for e in emails if e not in existing]
    if missing:
        group = env.ref("base.group_user").id
        groups_field = "group_ids" if "group_ids" in users._fields else "groups_id"  # renamed in Odoo 19
        created = users.create(
            [
                {
                    "login": email,
                    "name": email.split("@")[0].replace(".", " ").title(),
                    "email": email,
                    "tz": "Europe/Berlin",
                    groups_field: [Command.set([group])],
                }
                for email in missing
            ]
        )
        existing.update(zip(missing, created.ids, strict=False))
        # what logging in to the web client creates: the built-in keeps its sync token there
        for user in created:
            env["res.users.settings"]._find_or_create_for_user(user)
    return existing


def connect_ours(env, args):
    """The add-on's real connect flow per user: MSAL auth code + PKCE, the emulator's consent page, redemption."""
    users = ensure_users(env, args["addresses"])
    env.cr.commit()
    for address in args["addresses"]:
        user = env["res.users"].browse(users[address])
        mailboxes = env["outlook.mailbox"].with_user(user)
        flow = mailboxes._outlook_start_connect()
        params = drive_consent(flow["auth_uri"], args["ca_path"], account=address)
        mailboxes._outlook_finish_connect(flow, params)
        env.cr.commit()
    connected = env["outlook.mailbox"].sudo().search_count([("state", "=", "connected")])
    return {"connected": connected}


def connect_builtin(env, args):
    """The built-in's own code flow: its authorize URI (on the emulator), consent, ``_get_microsoft_tokens``."""
    shim.install(args["base_url"], args["ca_path"])
    users = ensure_users(env, args["addresses"])
    env.cr.commit()
    service = env["microsoft.service"]
    for address in args["addresses"]:
        user = env["res.users"].browse(users[address])
        uri = service.with_user(user)._get_authorize_uri(
            "http://localhost:8069/odoo/calendar", "calendar", BUILTIN_SCOPE, REDIRECT_URI
        )
        emulator = urlsplit(args["base_url"])
        uri = urlunsplit(urlsplit(uri)._replace(scheme=emulator.scheme, netloc=emulator.netloc))
        params = drive_consent(uri, args["ca_path"], account=address)
        access, refresh, ttl = service._get_microsoft_tokens(params["code"], "calendar", REDIRECT_URI)
        user.sudo()._set_microsoft_auth_tokens(access, refresh, ttl)
        env.cr.commit()
    with_token = env["res.users"].sudo().search_count([("microsoft_calendar_rtoken", "!=", False)])
    return {"connected": with_token}


# ---------------------------------------------------------------------------
# measured steps
# ---------------------------------------------------------------------------
def count_events(env):
    events = env["calendar.event"].sudo().with_context(active_test=False)
    return {
        "events_active": events.search_count([("active", "=", True)]),
        "events_total": events.search_count([]),
        "partners": env["res.partner"].sudo().search_count([]),
    }


def request_all_ours(env):
    """What the Outlook button does for every mailbox (sync at once), without running anything."""
    env.cr.execute(
        "UPDATE outlook_mailbox SET sync_requested_at = (now() at time zone 'UTC') WHERE state = 'connected'"
    )
    env.cr.commit()


def sync_ours(env, args):
    if args.get("request_all"):
        request_all_ours(env)
    out = {}
    with measure(out, args.get("profile")):
        out["mailboxes_synced"] = env["outlook.mailbox"]._cron_outlook_sync(time_budget=args.get("time_budget", 3600))
        env.cr.commit()
    mailboxes = env["outlook.mailbox"].sudo().search([])
    out["errors"] = [m.last_error for m in mailboxes if m.last_error]
    out.update(count_events(env))
    return out


def sync_builtin(env, args):
    shim.install(args["base_url"], args["ca_path"])
    out = {}
    with measure(out, args.get("profile")):
        env["res.users"]._sync_all_microsoft_calendar()
        env.cr.commit()
    out.update(count_events(env))
    return out


def edit_and_sync(env, args, side):
    """S3: the owner edits ``args['ical_uids']`` in Odoo (one write each, one transaction, committed), then one
    sync cycle brings Outlook's changes in and Odoo's out."""
    if side == "builtin":
        shim.install(args["base_url"], args["ca_path"])
    field = "outlook_ical_uid" if side == "ours" else "ms_universal_event_id"
    owner = env["res.users"].sudo().search([("login", "=", args["address"])])
    events = env["calendar.event"].with_user(owner).search([(field, "in", args["ical_uids"])])
    if side == "ours":
        request_all_ours(env)
    out, edit, sync = {}, {}, {}
    with measure(out, args.get("profile")):
        with measure(edit):
            for event in events:
                event.write({"name": event.name + " (edited in Odoo)", "location": "Room Oslo"})
            env.cr.commit()  # the built-in sends its PATCHes here (post-commit hooks)
        with measure(sync):
            if side == "ours":
                env["outlook.mailbox"]._cron_outlook_sync(time_budget=3600)
            else:
                env["res.users"]._sync_all_microsoft_calendar()
            env.cr.commit()
    out["edited_in_odoo"] = len(events)
    out["phases"] = {"odoo_edits": edit, "sync": sync}
    if side == "ours":
        out["errors"] = [m.last_error for m in env["outlook.mailbox"].sudo().search([]) if m.last_error]
        out["still_dirty"] = env["calendar.event"].sudo().search_count([("outlook_dirty", "=", True)])
    else:
        out["still_need_sync"] = (
            env["calendar.event"].sudo().search_count([("need_sync_m", "=", True), (field, "in", args["ical_uids"])])
        )
    out["renamed_in_odoo_by_outlook"] = (
        env["calendar.event"].sudo().search_count([("name", "like", "(edited in Outlook)")])
    )
    return out


def sweep_ours(env, args):
    """S4: one of N concurrent workers: wait for the launcher's go, then call the cron until no mailbox is due
    (never tried since the sweep started) or the launcher's deadline passed. A call that claims nothing while
    mailboxes are still due (another worker holds their rows) is retried after 50 ms (``empty_cron_calls``); a
    serialization failure escaping the cron is rolled back and retried, as Odoo's cron runner would on its next
    tick (``serialization_failures``)."""
    from psycopg2 import errors as pg_errors

    env.cr.commit()
    print("BENCH-READY", flush=True)
    sys.stdin.readline()
    deadline = time.time() + args.get("budget", 3600)
    out, calls, empty, failures, synced = {}, 0, 0, 0, 0
    with measure(out):
        out["started_at"] = time.time()
        since = env.cr.now().replace(microsecond=0)  # Odoo stores last_attempt_at in whole seconds
        while time.time() < deadline:
            try:
                done = env["outlook.mailbox"]._cron_outlook_sync(time_budget=max(1, deadline - time.time()))
                env.cr.commit()
            except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable, pg_errors.DeadlockDetected):
                env.cr.rollback()
                failures += 1
                continue
            calls, synced = calls + 1, synced + done
            if done:
                continue
            env.cr.execute(
                "SELECT count(*) FROM outlook_mailbox WHERE state = 'connected' "
                "AND (last_attempt_at IS NULL OR last_attempt_at < %s)",
                [since],
            )
            if not env.cr.fetchone()[0]:
                break
            empty += 1
            env.cr.commit()
            time.sleep(0.05)
        out["ended_at"] = time.time()
    env.cr.execute(
        "SELECT count(*) FROM outlook_mailbox WHERE state = 'connected' "
        "AND (last_attempt_at IS NULL OR last_attempt_at < %s)",
        [since],
    )
    out["due_left"] = env.cr.fetchone()[0]
    out.update(cron_calls=calls, empty_cron_calls=empty, serialization_failures=failures, mailboxes_synced=synced)
    return out


def sweep_builtin(env, args):
    """S4 for the built-in: its cron's loop (``res.users._sync_all_microsoft_calendar``: every user with a token,
    one after the other, commit or rollback each), with the launcher's deadline checked between users."""
    shim.install(args["base_url"], args["ca_path"])
    users = (
        env["res.users"]
        .sudo()
        .search([("microsoft_calendar_rtoken", "!=", False), ("microsoft_synchronization_stopped", "=", False)])
    )
    env.cr.commit()
    print("BENCH-READY", flush=True)
    sys.stdin.readline()
    deadline = time.time() + args.get("budget", 3600)
    out, synced, failed = {}, 0, 0
    with measure(out):
        out["started_at"] = time.time()
        for user in users:
            if time.time() >= deadline:
                break
            try:  # the body of _sync_all_microsoft_calendar's loop
                user.with_user(user).sudo()._sync_microsoft_calendar()
                env.cr.commit()
                synced += 1
            except Exception:  # noqa: BLE001 -- as the built-in's cron: log, roll back, next user
                env.cr.rollback()
                failed += 1
        out["ended_at"] = time.time()
    out.update(mailboxes_synced=synced, mailboxes_failed=failed, cron_calls=1)
    return out


def status_ours(env, args):
    out = count_events(env)
    mailboxes = env["outlook.mailbox"].sudo().search([])
    out["errors"] = [m.last_error for m in mailboxes if m.last_error]
    out["delta_links"] = sum(1 for m in mailboxes if m.delta_link)
    out["link_errors"] = env["outlook.event.link"].sudo().search_count([("state", "=", "error")])
    return out


def floor(env, args):
    """One batched ``calendar.event.create`` of the same events, attendees and tags, no sync module installed.
    Partners, tags and alarms are looked up and created in batches first (part of the measured time)."""
    owner_id = ensure_users(env, [args["address"]])[args["address"]]
    env.cr.commit()
    owner = env["res.users"].browse(owner_id)
    payloads = dataset.mailbox_events(args["address"], args["size"], seed=args["seed"])
    rows = dataset.floor_events(payloads)
    out, lookups, create = {}, {}, {}
    with measure(out):
        with measure(lookups):
            partners = floor_partners(env, rows)
            tags = floor_tags(env, rows)
            alarms = floor_alarms(env, rows)
        with measure(create):
            vals_list = [floor_values(row, owner, partners, tags, alarms) for row in rows]
            events = env["calendar.event"].with_user(owner).with_context(**INBOUND_LIKE_CONTEXT).create(vals_list)
            env.cr.commit()
    out["phases"] = {"lookups": lookups, "create": create}
    out["events_created"] = len(events)
    out.update(count_events(env))
    return out


def floor_partners(env, rows):
    names = {}
    for row in rows:
        for name, email in row["attendees"] + ([row["organizer"]] if row["organizer"] else []):
            names.setdefault(email, name)
    partners = env["res.partner"].sudo().with_context(active_test=False)
    found = {}
    for partner in partners.search([("email_normalized", "in", list(names))]):
        found.setdefault(partner.email_normalized, partner.id)
    missing = sorted(set(names) - set(found))
    created = partners.create([{"name": names[email], "email": email} for email in missing])
    found.update(zip(missing, created.ids, strict=False))
    return found


def floor_tags(env, rows):
    names = {name for row in rows for name in row["categories"]}
    tags = env["calendar.event.type"].sudo()
    found = {tag.name: tag.id for tag in tags.search([("name", "in", list(names))])}
    missing = sorted(names - set(found))
    found.update(zip(missing, tags.create([{"name": name} for name in missing]).ids, strict=False))
    return found


def floor_alarms(env, rows):
    minutes = {row["reminder"] for row in rows}
    alarms = env["calendar.alarm"].sudo()
    found = {}
    for alarm in alarms.search([("alarm_type", "=", "notification")]):
        if alarm.duration_minutes in minutes:
            found.setdefault(alarm.duration_minutes, alarm.id)
    missing = sorted(minutes - set(found))
    created = alarms.create(
        [{"name": f"{m} minutes", "alarm_type": "notification", "duration": m, "interval": "minutes"} for m in missing]
    )
    found.update(zip(missing, created.ids, strict=False))
    return found


def floor_values(row, owner, partners, tags, alarms):
    partner_ids = {partners[email] for _name, email in row["attendees"]} | {owner.partner_id.id}
    if row["organizer"]:
        partner_ids.add(partners[row["organizer"][1]])
    values = {
        "name": row["name"],
        "description": row["description"] or False,
        "location": row["location"] or False,
        "videocall_location": row["videocall_location"] or False,
        "privacy": row["privacy"],
        "show_as": row["show_as"],
        "user_id": False if row["organizer"] else owner.id,
        "partner_ids": [Command.set(sorted(partner_ids))],
        "categ_ids": [Command.set(sorted(tags[name] for name in row["categories"]))],
        "alarm_ids": [Command.set([alarms[row["reminder"]]])],
    }
    if row["allday"]:
        values.update(
            allday=True,
            start=datetime.datetime.combine(row["start_date"], datetime.time(8)),
            stop=datetime.datetime.combine(row["stop_date"], datetime.time(18)),
        )
    else:
        values.update(allday=False, start=row["start"], stop=row["stop"])
    return values


ACTIONS = {
    "set-params": lambda env, args: set_params(env, args["params"]),
    "connect-ours": connect_ours,
    "connect-builtin": connect_builtin,
    "sync-ours": sync_ours,
    "sync-builtin": sync_builtin,
    "edit-sync-ours": lambda env, args: edit_and_sync(env, args, "ours"),
    "edit-sync-builtin": lambda env, args: edit_and_sync(env, args, "builtin"),
    "sweep-ours": sweep_ours,
    "sweep-builtin": sweep_builtin,
    "status-ours": status_ours,
    "status": lambda env, args: count_events(env),
    "floor": floor,
}


def main(argv):
    action, conf, db, raw = argv
    args = json.loads(raw)
    config.parse_config(["-c", conf, "-d", db, "--log-level=" + args.get("log_level", "warn")])
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        result = ACTIONS[action](env, args)
    print("BENCH-RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
