#!/usr/bin/env python3
"""``make bench``: our add-on vs Odoo's built-in ``microsoft_calendar`` vs a plain create, on one Odoo and one emulator.

Writes ``.run/bench.json`` and ``.run/bench.md`` (the table) and prints the table. Not a test: it measures.

* Odoo 18 or 19 (``make bench ODOO=19``; default: the first found) from that major's venv (``.venv``, ``.venv-19``;
  tools/bootstrap.py), PostgreSQL in a private cluster of its own under
  ``.run/bench-pg`` (tools/pgcluster.py), one emulator process (``bench/emulator_server.py``: the repository's
  emulator plus a deterministic throttling schedule) under ``.run/bench-emulator``.
* Databases (dropped and created by each run): ``bench_ours`` (``-i outlook_calendar_sync``), ``bench_builtin``
  (``-i microsoft_calendar``), ``bench_floor`` (``-i calendar``), and clones of the first two for the scenarios that
  need a fresh start (``bench_ours_many``, ``bench_ours_many_w2``, ``..._w4``, ``bench_ours_throttled``, ...).
* Every mailbox of a side has the same events as the other side's: ``bench/dataset.py``.
* Each measured step runs in a fresh process (``bench/worker.py``) that loads the registry first (not measured).

Options: ``--ref REF`` measures the add-on (and emulator) as committed at REF (``git archive``) instead of the work
tree; ``--no-profile``; ``--quick`` (500 events, 20 mailboxes: a smoke run of the harness);
``--update-readme`` rewrites the README's "Performance" section with this run's table.
Environment: ``BENCH_REF``, ``BENCH_PROFILE=0``.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tools"))

import bootstrap  # noqa: E402
import odoo_env  # noqa: E402
from _common import (  # noqa: E402
    LOGS,
    RUN,
    CommandError,
    Terminated,
    deadline_loop,
    exit_on_interrupt,
    fmt_seconds,
    ignore_signals,
    read_json,
    say,
    step,
    stop_process,
    tagged,
    tail,
    venv_python,
    warn,
    write_json,
)
from pgcluster import DB_USER, Cluster, ensure_binaries  # noqa: E402

# one set per Odoo major (make bench ODOO=19): .run/bench.json for the first one, .run/bench-19.json for Odoo 19
RESULT = RUN / f"{tagged('bench')}.json"
TABLE = RUN / f"{tagged('bench')}.md"
CONF = RUN / f"{tagged('odoo-bench')}.conf"
EMULATOR_DIR = RUN / tagged("bench-emulator")
BENCH_LOGS = LOGS / tagged("bench")
SOURCE_DIR = RUN / tagged("bench-src")
ADDONS_DIR = RUN / tagged("bench-addons")
PIDS = RUN / f"{tagged('bench')}.pids.json"
PLAN = RUN / f"{tagged('bench-plan')}.json"
CLIENT_ID = "b3d1c0de-0000-4a43-9c1e-0d6f0c1b2a01"
CLIENT_SECRET = "bench-client-secret"
BASE_URL = "http://localhost:8069"
GRAPH_HOST = "https://graph.microsoft.com"
SWEEP_BUDGET_S = 240  # scenario 4: a sweep stops there (keeps make bench near 30 min while ours is slow)
PROFILE_SWEEP_S = 40  # the many-mailbox profile covers the mailboxes the cron syncs in this time budget
SEED = 1  # the 5,000-event calendar: the same payloads in every such mailbox

FULL = {
    "size": 5000,
    "mailboxes": 200,
    "per_mailbox": 100,
    "changes": 100,
    "workers": (1, 2, 4),
    "throttle": {"every": 2, "count": 3, "retry_after": 5},  # ours sends a handful of requests: every 2nd
}
QUICK = {
    "size": 500,
    "mailboxes": 20,
    "per_mailbox": 20,
    "changes": 20,
    "workers": (1, 2),
    "throttle": {"every": 2, "count": 2, "retry_after": 2},
}


# ---------------------------------------------------------------------------
# plumbing
# ---------------------------------------------------------------------------
class Bench:
    def __init__(self, opts, plan, cluster):
        self.opts, self.plan, self.cluster = opts, plan, cluster
        self.size = opts.params
        self.emulator_proc = None
        self.ctl = None
        self.info = None
        self.results = {}
        self.notes = []
        self.source = REPO

    # -- processes ----------------------------------------------------------
    def child_env(self):
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env["BENCH_SOURCE"] = str(self.source)
        return env

    def worker(self, action, db, args=None, *, log_name=None, timeout=3600, popen=False):
        """Run ``bench/worker.py ACTION`` in a fresh process; return its BENCH-RESULT dict."""
        args = dict(args or {})
        log = BENCH_LOGS / f"{log_name or action}-{db}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(venv_python()), str(BENCH / "worker.py"), action, str(CONF), db, json.dumps(args)]
        if popen:
            handle = open(log, "w", encoding="utf-8")
            proc = subprocess.Popen(
                cmd,
                cwd=RUN,
                env=self.child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
                bufsize=1,
            )
            return proc, log, handle
        with open(log, "w", encoding="utf-8") as handle:
            proc = subprocess.run(
                cmd,
                cwd=RUN,
                env=self.child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
                timeout=timeout,
                check=False,
            )
        return dict(parse_result(proc.stdout, proc.returncode, log), **log_errors(log))

    def note_errors(self, label, result):
        """Errors the sync recorded or logged go to the notes: a number measured on a failing run is no number."""
        if result.get("errors"):
            self.notes.append(
                f"{label}: {len(result['errors'])} mailbox(es) ended with an error, first: "
                f"{str(result['errors'][0])[:200]}"
            )
        if result.get("log_errors"):
            self.notes.append(
                f"{label}: {result['log_errors']} ERROR line(s) in the worker log, first: "
                f"{result['first_log_error'][:200]}"
            )

    # -- databases ------------------------------------------------------------
    def sql(self, query, dbname="postgres"):
        import psycopg2

        conn = psycopg2.connect(host=self.cluster.host, port=self.cluster.port, user=DB_USER, dbname=dbname)
        conn.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute(query)
            return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def drop(self, db):
        self.sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(odoo_env.DATA_DIR / "filestore" / db, ignore_errors=True)

    def clone(self, source, target):
        self.drop(target)
        self.sql(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
        store = odoo_env.DATA_DIR / "filestore"
        if (store / source).is_dir():
            shutil.copytree(store / source, store / target)

    def install(self, jobs):
        """``{db: modules}``: install them all at once (separate processes), fail on any error."""
        procs = {}
        for db, modules in jobs.items():
            self.drop(db)
            log = BENCH_LOGS / f"install-{db}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            cmd = odoo_env.odoo_cmd(
                CONF, "-d", db, "-i", modules, "--stop-after-init", odoo_env.WITHOUT_DEMO, "--log-level=warn"
            )
            handle = open(log, "w", encoding="utf-8")
            procs[db] = (
                subprocess.Popen(
                    cmd,
                    cwd=RUN,
                    env=self.child_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                ),
                handle,
                log,
                modules,
            )
        problems = []
        for db, (proc, handle, log, modules) in procs.items():
            proc.wait()
            handle.close()
            for module in modules.split(","):
                state = self.sql(f"SELECT state FROM ir_module_module WHERE name = '{module}'", db)
                if proc.returncode != 0 or not state or state[0][0] != "installed":
                    problems.append(f"{db}: {module} not installed (exit {proc.returncode}); log {log}\n{tail(log)}")
        if problems:
            raise CommandError("\n".join(problems))

    # -- emulator ---------------------------------------------------------------
    def start_emulator(self):
        EMULATOR_DIR.mkdir(parents=True, exist_ok=True)
        info_path = EMULATOR_DIR / "emulator.json"
        info_path.unlink(missing_ok=True)
        log = BENCH_LOGS / "emulator.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        settings = ["access_token_ttl=172800", "list_page_size=10", "concurrency_limit=4"]
        cmd = [str(venv_python()), str(BENCH / "emulator_server.py"), "--state-dir", str(EMULATOR_DIR)]
        cmd += [arg for setting in settings for arg in ("--setting", setting)]
        handle = open(log, "w", encoding="utf-8")
        self.emulator_proc = subprocess.Popen(
            cmd,
            cwd=RUN,
            env=self.child_env(),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        write_json(PIDS, {"launcher": os.getpid(), "emulator": self.emulator_proc.pid})
        for _ in deadline_loop(60):
            info = read_json(info_path)
            if info and info.get("graph_url"):
                break
            if self.emulator_proc.poll() is not None:
                raise CommandError(f"the emulator exited; log {log}:\n{tail(log)}")
        else:
            raise CommandError(f"the emulator did not start; log {log}")
        sys.path.insert(0, str(self.source))
        from emulator.control_client import EmulatorControl

        self.info = info
        self.ctl = EmulatorControl(info["base_url"], info["ca_path"], timeout=600)
        self.ctl.register_app(CLIENT_ID, CLIENT_SECRET, None, name="Odoo bench")
        step(f"emulator on {info['base_url']} (log {log.relative_to(REPO)})")

    def link_host(self, side):
        """The built-in only follows links on graph.microsoft.com (the shim brings them back); ours gets real ones."""
        self.ctl.configure(link_host=GRAPH_HOST if side == "builtin" else None)

    def throttle(self, **schedule):
        return self.ctl._call("POST", "/bench/throttle", schedule)

    def throttle_status(self):
        return self.ctl._call("GET", "/bench/throttle")

    def measured(self, side, action, db, args=None, **kw):
        """Reset the emulator's counters, run one worker step, add the Graph numbers to its result."""
        self.link_host(side)
        self.ctl.reset_counters()
        result = self.worker(action, db, args, **kw)
        result.update(graph_numbers(self.ctl.counters()))
        return result

    # -- seeding ------------------------------------------------------------------
    def seed(self, address, size, seed):
        from dataset import mailbox_events

        self.ctl.add_mailbox(address)
        self.ctl.outlook.seed_events(address, mailbox_events(address, size, seed=seed))


def parse_result(stdout, returncode, log):
    for line in reversed((stdout or "").splitlines()):
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    raise CommandError(f"worker failed (exit {returncode}); log {log}:\n{tail(log, 40)}")


def log_errors(*logs):
    """How many ERROR/CRITICAL lines the workers logged, and the first one (without its timestamp)."""
    count, first = 0, ""
    for log in logs:
        for line in Path(log).read_text(errors="replace").splitlines():
            match = odoo_env.LOG_LINE.match(line)
            if match and match.group(1) in ("ERROR", "CRITICAL"):
                count += 1
                first = first or line.split(" ", 4)[-1]
    return {"log_errors": count, "first_log_error": first} if count else {}


def graph_numbers(counters):
    """HTTP requests to Graph (a ``$batch`` is one; its items are counted apart), to Entra, throttled, mails."""
    by_route = counters.get("requests", {})
    graph = sum(count for key, count in by_route.items() if " /v1.0" in key)
    batch_items = counters.get("batch_items", 0)
    return {
        "graph_requests": graph - batch_items,
        "graph_batch_items": batch_items,
        "entra_requests": sum(count for key, count in by_route.items() if " /v1.0" not in key),
        "throttled_responses": counters.get("throttled", 0),
        "messages_sent": counters.get("messages_sent", 0),
        "requests_by_route": dict(sorted(by_route.items(), key=lambda kv: -kv[1])),
    }


def core(result):
    """The four numbers of the table (the rest stays in the JSON as detail)."""
    keys = ("wall_s", "graph_requests", "sql_queries", "peak_rss_mb")
    return {**{key: result.get(key) for key in keys}, "detail": {k: v for k, v in result.items() if k not in keys}}


# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
def addresses(prefix, count):
    return [f"{prefix}-m{index:03d}@bench.test" for index in range(1, count + 1)]


def prepare(bench):
    """Databases, settings, mailboxes and their events (nothing here is measured)."""
    p = bench.size
    step("seeding the emulator (the same events for every side)")
    for address in ("o1@bench.test", "b1@bench.test", "o5@bench.test", "b5@bench.test"):
        bench.seed(address, p["size"], SEED)
    if bench.opts.profile:
        bench.seed("op@bench.test", p["size"], SEED)
    for index, (ours, builtin) in enumerate(
        zip(addresses("o", p["mailboxes"]), addresses("b", p["mailboxes"]), strict=False)
    ):
        bench.seed(ours, p["per_mailbox"], 1000 + index)
        bench.seed(builtin, p["per_mailbox"], 1000 + index)
    step("installing: bench_ours (outlook_calendar_sync), bench_builtin (microsoft_calendar), bench_floor (calendar)")
    bench.install(
        {"bench_ours": "outlook_calendar_sync", "bench_builtin": "microsoft_calendar", "bench_floor": "calendar"}
    )
    info = bench.info
    bench.worker(
        "set-params",
        "bench_ours",
        {
            "params": {
                "outlook_calendar_sync.client_id": CLIENT_ID,
                "outlook_calendar_sync.client_secret": CLIENT_SECRET,
                "outlook_calendar_sync.tenant": "common",
                "outlook_calendar_sync.authority_url": info["authority_url"],
                "outlook_calendar_sync.graph_url": info["graph_url"],
                "outlook_calendar_sync.ca_bundle": info["ca_path"],
                "web.base.url": BASE_URL,
                "web.base.url.freeze": "True",
                # the first import brings the whole window, as the built-in's does (default: the next 30 days only)
                "outlook_calendar_sync.initial_days": "365",
            }
        },
    )
    bench.worker(
        "set-params",
        "bench_builtin",
        {
            "params": {
                "microsoft_calendar_client_id": CLIENT_ID,
                "microsoft_calendar_client_secret": CLIENT_SECRET,
                "web.base.url": BASE_URL,
                "web.base.url.freeze": "True",
            }
        },
    )
    for suffix in ("many", "throttled") + (("prof",) if bench.opts.profile else ()):
        bench.clone("bench_ours", f"bench_ours_{suffix}")
    for suffix in ("many", "throttled"):
        bench.clone("bench_builtin", f"bench_builtin_{suffix}")
    step("connecting mailboxes: ours through MSAL + consent, the built-in through its own code flow")
    emu = {"base_url": info["base_url"], "ca_path": info["ca_path"]}
    connects = [
        ("ours", "bench_ours", ["o1@bench.test"]),
        ("ours", "bench_ours_throttled", ["o5@bench.test"]),
        ("ours", "bench_ours_many", addresses("o", p["mailboxes"])),
        ("builtin", "bench_builtin", ["b1@bench.test"]),
        ("builtin", "bench_builtin_throttled", ["b5@bench.test"]),
        ("builtin", "bench_builtin_many", addresses("b", p["mailboxes"])),
    ]
    if bench.opts.profile:
        connects.append(("ours", "bench_ours_prof", ["op@bench.test"]))
    for side, db, mailboxes in connects:
        bench.link_host(side)
        result = bench.worker(f"connect-{side}", db, dict(emu, addresses=mailboxes))
        if result["connected"] != len(mailboxes):
            raise CommandError(f"{db}: {result['connected']} of {len(mailboxes)} mailboxes connected")
    for width in bench.size["workers"][1:]:
        bench.clone("bench_ours_many", f"bench_ours_many_w{width}")
    if bench.opts.profile:
        bench.clone("bench_ours_many", "bench_ours_many_prof")


def scenario_import(bench):
    p, emu = bench.size, emu_args(bench)
    step(f"1. initial import of {p['size']} events: ours")
    ours = bench.measured("ours", "sync-ours", "bench_ours", {"request_all": False})
    say(f"    {brief(ours)}")
    step(f"1. initial import of {p['size']} events: built-in")
    builtin = bench.measured("builtin", "sync-builtin", "bench_builtin", emu)
    say(f"    {brief(builtin)}")
    step(f"1. floor: one batched calendar.event.create of the same {p['size']} events")
    floor = bench.measured(
        "none", "floor", "bench_floor", {"address": "f1@bench.test", "size": p["size"], "seed": SEED}
    )
    say(f"    {brief(floor)}")
    for name, result in (("ours", ours), ("builtin", builtin)):
        bench.note_errors(f"initial_import {name}", result)
        if result.get("events_active", 0) < p["size"]:
            bench.notes.append(
                f"initial_import: {name} has {result.get('events_active')} active events for {p['size']} in Outlook"
            )
    bench.results["initial_import"] = {"ours": core(ours), "builtin": core(builtin), "floor": core(floor)}


def scenario_idle(bench):
    step("2. idle cycle (no change on either side), one mailbox")
    ours = bench.measured("ours", "sync-ours", "bench_ours", {"request_all": True})
    builtin = bench.measured("builtin", "sync-builtin", "bench_builtin", emu_args(bench))
    say(f"    ours: {brief(ours)}\n    built-in: {brief(builtin)}")
    bench.note_errors("idle_cycle ours", ours)
    bench.note_errors("idle_cycle builtin", builtin)
    bench.results["idle_cycle"] = {"ours": core(ours), "builtin": core(builtin)}


def pick_changes(bench, address, count):
    """Future single meetings the mailbox organizes: the first ``count`` are edited in Outlook, the next in Odoo."""
    today = datetime.date.today().isoformat()
    items = [
        item
        for item in bench.ctl.outlook.list_events(address)
        if item.get("type") == "singleInstance"
        and item.get("isOrganizer")
        and not item.get("isAllDay")
        and item["start"]["dateTime"][:10] > today
    ]
    items.sort(key=lambda item: (item["start"]["dateTime"], item["iCalUId"]))
    return items[:count], items[count : 2 * count]


def scenario_changes(bench):
    count = bench.size["changes"]
    result = {}
    for side, db, address in (("ours", "bench_ours", "o1@bench.test"), ("builtin", "bench_builtin", "b1@bench.test")):
        step(f"3. {count} changes in Outlook + {count} in Odoo, then one sync: {side}")
        in_outlook, in_odoo = pick_changes(bench, address, count)
        for item in in_outlook:
            bench.ctl.outlook.update_event(
                address,
                item["id"],
                {"subject": item["subject"] + " (edited in Outlook)", "location": {"displayName": "Room Bergen"}},
            )
        args = dict(emu_args(bench), address=address, ical_uids=[item["iCalUId"] for item in in_odoo])
        measured = bench.measured(side, f"edit-sync-{side}", db, args)
        after = {item["id"]: item for item in bench.ctl.outlook.list_events(address)}  # immutable ids
        targets = {item["id"] for item in in_odoo}
        measured["outlook_has_odoo_edits"] = sum(
            1 for item in in_odoo if after.get(item["id"], {}).get("subject", "").endswith("(edited in Odoo)")
        )
        measured["odoo_edits_on_other_outlook_items"] = sum(
            1 for key, item in after.items() if key not in targets and item["subject"].endswith("(edited in Odoo)")
        )
        say(
            f"    {brief(measured)}; Odoo edits in Outlook: {measured['outlook_has_odoo_edits']}/{count}, "
            f"Outlook edits in Odoo: {measured.get('renamed_in_odoo_by_outlook')}/{count}"
        )
        bench.note_errors(f"changes_100 {side}", measured)
        if measured["outlook_has_odoo_edits"] < count or measured.get("renamed_in_odoo_by_outlook", 0) < count:
            bench.notes.append(
                f"changes_100 {side}: after the cycle Outlook shows {measured['outlook_has_odoo_edits']} of the "
                f"{count} Odoo edits and Odoo {measured.get('renamed_in_odoo_by_outlook')} of the {count} Outlook "
                f"edits (the two sets of events are disjoint); "
                f"{measured['odoo_edits_on_other_outlook_items']} Outlook items that were not edited in Odoo now "
                f"carry an Odoo edit"
            )
        result[side] = core(measured)
    bench.results["changes_100"] = result


def sweep(bench, side, db, width):
    """N worker processes: each loads the registry, waits, then all start together."""
    bench.link_host(side)
    bench.ctl.reset_counters()
    procs = [
        bench.worker(
            f"sweep-{side}",
            db,
            dict(emu_args(bench), budget=SWEEP_BUDGET_S),
            log_name=f"sweep-{side}-w{width}-{index}",
            popen=True,
        )
        for index in range(width)
    ]
    for proc, log, _handle in procs:
        line = proc.stdout.readline()
        if not line.startswith("BENCH-READY"):
            raise CommandError(f"sweep worker did not start; log {log}:\n{tail(log)}")
    import psutil

    psutil.cpu_percent(interval=None)  # machine-wide CPU use over the sweep: 2 cores cap what N workers can do
    for proc, _log, _handle in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc, log, handle in procs:
        out, _ = proc.communicate(timeout=3600)
        handle.close()
        results.append(parse_result(out, proc.returncode, log))
    wall = max(r["ended_at"] for r in results) - min(r["started_at"] for r in results)
    cpu_busy = psutil.cpu_percent(interval=None)
    counters = graph_numbers(bench.ctl.counters())
    status = bench.worker(f"status-{side}" if side == "ours" else "status", db, {})
    if side == "ours":  # a cron call that raised lost its count: what is left due tells what was done
        synced = bench.size["mailboxes"] - min(r["due_left"] for r in results)
    else:
        synced = sum(r["mailboxes_synced"] for r in results)
    complete = synced >= bench.size["mailboxes"]
    errors = log_errors(*(log for _proc, log, _handle in procs))
    if not complete:
        bench.notes.append(
            f"many_mailboxes {side} {width} worker(s): stopped at the {SWEEP_BUDGET_S} s budget after "
            f"{synced} of {bench.size['mailboxes']} mailboxes; wall_s is for those, see mailboxes_per_s"
        )
    bench.note_errors(f"many_mailboxes {side} {width} worker(s)", dict(status, **errors))
    return {
        "complete": complete,
        **errors,
        "wall_s": round(wall, 3),
        "sql_queries": sum(r["sql_queries"] for r in results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        **counters,
        "workers": width,
        "mailboxes_synced": synced,
        "machine_cpu_busy_pct": cpu_busy,
        "mailboxes_per_s": round(synced / wall, 2) if wall else None,
        "events_per_s": round(status["events_active"] / wall, 1) if wall else None,
        "per_worker": [
            {
                k: r[k]
                for k in (
                    "wall_s",
                    "sql_queries",
                    "peak_rss_mb",
                    "mailboxes_synced",
                    "cron_calls",
                    "empty_cron_calls",
                    "serialization_failures",
                    "mailboxes_failed",
                )
                if k in r
            }
            for r in results
        ],
        **status,
    }


def scenario_many(bench):
    p = bench.size
    ours = {}
    for width in p["workers"]:
        db = "bench_ours_many" if width == 1 else f"bench_ours_many_w{width}"
        step(f"4. {p['mailboxes']} mailboxes x {p['per_mailbox']} events, cron in {width} worker(s): ours")
        ours[f"workers_{width}"] = sweep(bench, "ours", db, width)
        say(f"    {brief(ours[f'workers_{width}'])}, {ours[f'workers_{width}']['mailboxes_per_s']} mailboxes/s")
    base = ours["workers_1"]["mailboxes_per_s"]
    for width in p["workers"][1:]:  # throughput ratio (a sweep may stop at the budget)
        ours[f"workers_{width}"]["speedup_vs_1"] = ratio(ours[f"workers_{width}"]["mailboxes_per_s"], base)
    step(f"4. {p['mailboxes']} mailboxes x {p['per_mailbox']} events, its one cron job: built-in")
    builtin = {"workers_1": sweep(bench, "builtin", "bench_builtin_many", 1)}
    say(f"    {brief(builtin['workers_1'])}")
    reason = (
        "the built-in syncs every user in one ir.cron job (res.users._sync_all_microsoft_calendar); Odoo runs "
        "one job in one worker at a time (the job row is locked), so more cron workers do not split it"
    )
    for width in p["workers"][1:]:
        builtin[f"workers_{width}"] = None
    step("4b. idle sweep of every mailbox once (per-mailbox idle cost)")
    idle_ours = bench.measured("ours", "sync-ours", "bench_ours_many", {"request_all": True})
    idle_builtin = bench.measured("builtin", "sync-builtin", "bench_builtin_many", emu_args(bench))
    for name, result in (("ours", idle_ours), ("builtin", idle_builtin)):
        result["per_mailbox"] = {
            "graph_requests": round(result["graph_requests"] / p["mailboxes"], 2),
            "sql_queries": round(result["sql_queries"] / p["mailboxes"], 1),
            "wall_s": round(result["wall_s"] / p["mailboxes"], 4),
        }
        say(f"    {name}: {brief(result)}; per mailbox {result['per_mailbox']}")
    many = {}
    for width in p["workers"]:
        key = f"workers_{width}"
        many[key] = {"ours": core(ours[key]), "builtin": core(builtin[key]) if builtin.get(key) else None}
        if not builtin.get(key):
            many[key]["builtin_reason"] = reason
    bench.results["many_mailboxes"] = many
    bench.results["idle_cycle"]["ours"]["detail"]["sweep_of_all_mailboxes"] = core(idle_ours)
    bench.results["idle_cycle"]["builtin"]["detail"]["sweep_of_all_mailboxes"] = core(idle_builtin)


def scenario_throttled(bench):
    p, plan = bench.size, bench.size["throttle"]
    result = {}
    for side, db, address in (
        ("ours", "bench_ours_throttled", "o5@bench.test"),
        ("builtin", "bench_builtin_throttled", "b5@bench.test"),
    ):
        step(
            f"5. initial import under throttling (one request in {plan['every']} answered 429, Retry-After "
            f"{plan['retry_after']} s, {plan['count']} times): {side}"
        )
        bench.throttle(mailbox=address, **plan)
        bench.link_host(side)
        bench.ctl.reset_counters()
        passes, wall, sql, rss, waited, failed = [], 0.0, 0, 0.0, 0.0, 0
        action = "sync-ours" if side == "ours" else "sync-builtin"
        for number in range(plan["count"] + 3):
            before = bench.throttle_status()
            run = bench.worker(
                action, db, dict(emu_args(bench), request_all=True), log_name=f"throttled-{side}-{number + 1}"
            )
            after = bench.throttle_status()
            hit = after["fired"] + after["early"] > before["fired"] + before["early"]
            log = BENCH_LOGS / f"throttled-{side}-{number + 1}-{db}.log"
            failed_pass = bool(run.get("errors")) or "Calendar Synchro - Exception" in log.read_text(errors="replace")
            passes.append(
                {
                    "wall_s": run["wall_s"],
                    "throttled": hit,
                    "failed": failed_pass,
                    "events_active": run["events_active"],
                    "errors": run.get("errors"),
                }
            )
            wall, sql, rss = wall + run["wall_s"], sql + run["sql_queries"], max(rss, run["peak_rss_mb"])
            failed += failed_pass
            previous = passes[-2]["events_active"] if len(passes) > 1 else None
            if not failed_pass and (run["events_active"] >= p["size"] or run["events_active"] == previous):
                break
            # the earliest a scheduler could run it again: after the Retry-After (the real crons wait far longer)
            time.sleep(plan["retry_after"])
            waited += plan["retry_after"]
        status = bench.throttle_status()
        counters = graph_numbers(bench.ctl.counters())
        bench.throttle(every=0)
        unthrottled = bench.results["initial_import"][side]["wall_s"]
        reference = unthrottled + status["imposed_s"]
        result[side] = core(
            {
                "wall_s": round(wall + waited, 3),
                "sql_queries": sql,
                "peak_rss_mb": rss,
                **counters,
                "passes": len(passes),
                "failed_passes": failed,
                "waited_between_passes_s": waited,
                "retry_after_imposed_s": status["imposed_s"],
                "scheduled_429": status["fired"],
                "early_retries_429": status["early"],
                "completed": not passes[-1]["failed"] and passes[-1]["events_active"] >= p["size"],
                "reference_s": round(reference, 3),
                "vs_reference": round((wall + waited) / reference, 2),
                "pass_log": passes,
            }
        )
        say(
            f"    {brief(result[side])}; passes {len(passes)}, failed {failed}, "
            f"imposed {status['imposed_s']} s, x{result[side]['detail']['vs_reference']} of unthrottled+imposed"
        )
    bench.results["throttled_import"] = result


def profile_ours(bench):
    """The import and the 100-change cycle of ours again, under pyinstrument, for the hotspot list."""
    step("profiling ours (pyinstrument): initial import")
    path = RUN / tagged("bench-profile-ours-import")
    run = bench.measured("ours", "sync-ours", "bench_ours_prof", {"profile": str(path)})
    say(f"    {brief(run)} (profiled: slower than the measured run)")
    bench.results.setdefault("_profile", {})["ours_initial_import"] = summarize_profile(path, run)
    step("profiling ours (pyinstrument): changes")
    count = bench.size["changes"]
    in_outlook, in_odoo = pick_changes(bench, "op@bench.test", count)
    for item in in_outlook:
        bench.ctl.outlook.update_event(
            "op@bench.test", item["id"], {"subject": item["subject"] + " (edited in Outlook)"}
        )
    path = RUN / tagged("bench-profile-ours-changes")
    run = bench.measured(
        "ours",
        "edit-sync-ours",
        "bench_ours_prof",
        dict(address="op@bench.test", ical_uids=[item["iCalUId"] for item in in_odoo], profile=str(path)),
    )
    bench.results["_profile"]["ours_changes"] = summarize_profile(path, run)
    step("profiling ours (pyinstrument): idle cycle")
    path = RUN / tagged("bench-profile-ours-idle")
    run = bench.measured("ours", "sync-ours", "bench_ours_prof", {"profile": str(path), "request_all": True})
    bench.results["_profile"]["ours_idle"] = summarize_profile(path, run)
    step(f"profiling ours (pyinstrument): the many-mailbox sweep, first {PROFILE_SWEEP_S} s")
    path = RUN / tagged("bench-profile-ours-many")
    run = bench.measured(
        "ours", "sync-ours", "bench_ours_many_prof", {"profile": str(path), "time_budget": PROFILE_SWEEP_S}
    )
    say(f"    {brief(run)}, {run['mailboxes_synced']} mailboxes")
    bench.results["_profile"]["ours_many_mailboxes"] = summarize_profile(path, run)


def summarize_profile(path, run):
    data = read_json(path.with_suffix(".json"), {}) or {}
    return {
        "wall_s": run["wall_s"],
        "sql_queries": run["sql_queries"],
        "graph_requests": run["graph_requests"],
        "mailboxes_synced": run.get("mailboxes_synced"),
        "tree": str(path.with_suffix(".txt")),
        "addon_inclusive_s": data.get("addon_inclusive_s", [])[:15],
        "self_time_s": data.get("self_time_s", [])[:15],
        "sql_by_addon_line": data.get("sql_by_addon_line", [])[:15],
    }


def emu_args(bench):
    return {"base_url": bench.info["base_url"], "ca_path": bench.info["ca_path"]}


def brief(result):
    return (
        f"{result.get('wall_s')} s, {result.get('graph_requests')} Graph requests, "
        f"{result.get('sql_queries')} SQL, {result.get('peak_rss_mb')} MB"
    )


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def ratio(a, b):
    try:
        return round(a / b, 2) if a is not None and b else None
    except TypeError:
        return None


def cell(value):
    return "-" if value is None else value


def table(doc):
    s = doc["scenarios"]
    rows = []

    def row(label, side, r):
        if r is None:
            rows.append(f"| {label} | {side} | n/a | n/a | n/a | n/a |")
            return
        rows.append(
            f"| {label} | {side} | {r['wall_s']:.1f} | {r['graph_requests']} | {r['sql_queries']} | "
            f"{r['peak_rss_mb']:.0f} |"
        )

    lines = [
        "| scenario | side | wall s | Graph requests | SQL queries | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    ii = s["initial_import"]
    for side in ("ours", "builtin", "floor"):
        row(f"1. initial import ({doc['params']['size']} events)", side, ii[side])
    for side in ("ours", "builtin"):
        row("2. idle cycle (1 mailbox)", side, s["idle_cycle"][side])
    for side in ("ours", "builtin"):
        sweep_idle = s["idle_cycle"][side]["detail"].get("sweep_of_all_mailboxes")
        if sweep_idle:
            row(f"2b. idle sweep ({doc['params']['mailboxes']} mailboxes)", side, sweep_idle)
    for side in ("ours", "builtin"):
        row(f"3. {doc['params']['changes']} changes each side", side, s["changes_100"][side])
    many = s["many_mailboxes"]
    for key, value in many.items():
        for side in ("ours", "builtin"):
            label = f"4. {doc['params']['mailboxes']}x{doc['params']['per_mailbox']} events, {key.replace('_', ' ')}"
            detail = (value[side] or {}).get("detail", {})
            if detail.get("complete") is False:
                label += f" (stopped at {detail.get('mailboxes_synced')} mailboxes)"
            if detail.get("mailboxes_per_s") is not None:
                label += f", {detail['mailboxes_per_s']} mailboxes/s"
            row(label, side, value[side])
    for side in ("ours", "builtin"):
        row("5. initial import, throttled", side, s["throttled_import"][side])
    ratios = ["", "| ratio | wall | Graph requests | SQL queries | peak RSS |", "|---|---:|---:|---:|---:|"]
    pairs = [
        ("1. ours / built-in", ii["ours"], ii["builtin"]),
        ("1. ours / floor", ii["ours"], ii["floor"]),
        ("1. built-in / floor", ii["builtin"], ii["floor"]),
        ("2. ours / built-in", s["idle_cycle"]["ours"], s["idle_cycle"]["builtin"]),
        ("3. ours / built-in", s["changes_100"]["ours"], s["changes_100"]["builtin"]),
        ("4. ours (1 worker) / built-in", many["workers_1"]["ours"], many["workers_1"]["builtin"]),
        ("5. ours / built-in", s["throttled_import"]["ours"], s["throttled_import"]["builtin"]),
    ]
    for label, a, b in pairs:
        values = [cell(ratio(a[key], b[key])) for key in ("wall_s", "graph_requests", "sql_queries", "peak_rss_mb")]
        ratios.append(f"| {label} | " + " | ".join(map(str, values)) + " |")
    return "\n".join(lines + rows + ratios)


def targets(doc):
    s = doc["scenarios"]
    ii, idle, ch, many, thr = (
        s["initial_import"],
        s["idle_cycle"],
        s["changes_100"],
        s["many_mailboxes"],
        s["throttled_import"],
    )
    checks = []

    def check(name, ok, value):
        checks.append({"target": name, "met": bool(ok), "value": value})

    speed = ratio(ii["builtin"]["wall_s"], ii["ours"]["wall_s"])
    fewer = ratio(ii["builtin"]["graph_requests"], ii["ours"]["graph_requests"])
    check("1: >= 5x faster than the built-in", speed and speed >= 5, f"{speed}x")
    check("1: >= 10x fewer Graph requests than the built-in", fewer and fewer >= 10, f"{fewer}x")
    vs_floor = ratio(ii["ours"]["wall_s"], ii["floor"]["wall_s"])
    check("1: <= 1.5x the floor", vs_floor and vs_floor <= 1.5, f"{vs_floor}x")
    check(
        "2: idle = 1 Graph request per mailbox",
        idle["ours"]["graph_requests"] == 1,
        f"{idle['ours']['graph_requests']} requests",
    )
    check(
        "2: idle <= 5 SQL queries per mailbox",
        idle["ours"]["sql_queries"] <= 5,
        f"{idle['ours']['sql_queries']} queries (1 mailbox); "
        f"{idle['ours']['detail'].get('sweep_of_all_mailboxes', {}).get('detail', {}).get('per_mailbox', {})}"
        " per mailbox over the sweep",
    )
    check(
        "3: 100 outbound changes in <= 12 Graph requests",
        ch["ours"]["graph_requests"] <= 12,
        f"{ch['ours']['graph_requests']} requests for the whole cycle",
    )
    widths = list(many)
    speedups = {key: many[key]["ours"]["detail"].get("speedup_vs_1") for key in widths[1:]}
    last = widths[-1]
    width = int(last.split("_")[1])
    cpu = {key: many[key]["ours"]["detail"].get("machine_cpu_busy_pct") for key in widths}
    check(
        f"4: throughput close to linear from 1 to {width} workers",
        (speedups.get(last) or 0) >= 0.8 * width,
        f"speedups {speedups}; machine CPU busy % {cpu} ({doc['machine']['cores']} cores)",
    )
    detail = thr["ours"]["detail"]
    check(
        "5: zero failures",
        detail["failed_passes"] == 0 and detail["completed"],
        f"{detail['failed_passes']} failed passes of {detail['passes']}",
    )
    check("5: <= 1.2x (unthrottled + Retry-After time)", detail["vs_reference"] <= 1.2, f"{detail['vs_reference']}x")
    return checks


def render(doc):
    lines = [
        f"Run of {doc['date']} on {doc['machine']['summary']}, add-on {doc['source']}.",
        "",
        table(doc),
        "",
        "| target (ours) | met | value |",
        "|---|---|---|",
    ]
    lines += [f"| {c['target']} | {'yes' if c['met'] else 'no'} | {c['value']} |" for c in doc["targets"]]
    if doc["notes"]:
        lines += ["", *[f"- {' '.join(str(note).split())}" for note in doc["notes"]]]
    return "\n".join(lines) + "\n"


README_START = "<!-- bench:start (the last run's table, written by make bench ARGS=--update-readme) -->"
README_END = "<!-- bench:end -->"


def update_readme(markdown):
    """Replace the table between the markers of README's "Performance" section (create them if missing)."""
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    block = f"{README_START}\n{markdown}{README_END}\n"
    if README_START in text and README_END in text:
        start, end = text.index(README_START), text.index(README_END) + len(README_END) + 1
        text = text[:start] + block + text[end:]
    else:
        section = text.find("\n## Performance")
        if section < 0:
            anchor = text.find("\n## Development")
            anchor = anchor if anchor >= 0 else len(text)
            text = text[:anchor] + "\n## Performance\n\n" + block + text[anchor:]
        else:
            end = text.find("\n## ", section + 5)
            end = end if end >= 0 else len(text)
            text = text[:end].rstrip("\n") + "\n\n" + block + text[end:]
    readme.write_text(text, encoding="utf-8")


def machine():
    cores = os.cpu_count()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    summary = f"{cores} cores ({model}), {mem:.0f} GB RAM, Python {platform.python_version()}"
    return {"cores": cores, "cpu": model, "memory_gb": round(mem, 1), "summary": summary}


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def prepare_source(ref):
    """The add-on Odoo loads: the work tree, or ``git archive REF`` (stable while others edit the work tree)."""
    ADDONS_DIR.mkdir(parents=True, exist_ok=True)
    link = ADDONS_DIR / "outlook_calendar_sync"
    if link.is_symlink() or link.exists():
        link.unlink() if link.is_symlink() else shutil.rmtree(link)
    if not ref:
        link.symlink_to(REPO, target_is_directory=True)
        return REPO, "work tree"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    shutil.rmtree(SOURCE_DIR, ignore_errors=True)
    target = SOURCE_DIR / "outlook_calendar_sync"
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    link.symlink_to(target, target_is_directory=True)
    addon = subprocess.run(
        ["git", "log", "-1", "--format=%h", commit, "--", ".", ":(exclude)bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return target, f"commit {addon}" + (f" (measured at {commit})" if addon and addon != commit else "")


def ensure_profiler():
    proc = subprocess.run([str(venv_python()), "-c", "import pyinstrument"], capture_output=True, check=False)
    if proc.returncode == 0:
        return True
    step("installing pyinstrument into .venv (profiling only)")
    proc = subprocess.run(
        [str(venv_python()), "-m", "pip", "install", "-q", "pyinstrument"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        warn(f"pyinstrument could not be installed; profiles count SQL per line only:\n{proc.stdout}{proc.stderr}")
    return proc.returncode == 0


def options(argv):
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default=os.environ.get("BENCH_REF") or None)
    parser.add_argument(
        "--no-profile", dest="profile", action="store_false", default=os.environ.get("BENCH_PROFILE", "1") != "0"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--odoo", help="the Odoo major to measure (make bench ODOO=19); default: the first one found")
    parser.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    opts.params = QUICK if opts.quick else FULL
    return opts


def main():
    opts = options(sys.argv[1:])
    started = time.monotonic()
    if not opts.in_venv:
        try:
            major, reason = bootstrap.choose_major(opts.odoo)
        except bootstrap.SetupError as exc:
            major, reason = None, str(exc)
        if major is None:
            warn(f"make bench needs Odoo: {reason}")
            return 1
        bootstrap.work_for_major(major)  # this process again, for that major's venv and files (no return if another)
        try:
            plan = bootstrap.ensure()
        except bootstrap.SetupError as exc:
            warn(f"setup failed: {exc}")
            return 1
        if not plan["odoo_dir"]:
            warn(f"make bench needs Odoo: {plan['no_odoo_reason']}")
            return 1
        write_json(PLAN, plan)
        os.execv(str(venv_python()), [str(venv_python()), str(BENCH / "run.py"), *sys.argv[1:], "--in-venv"])
    plan = read_json(PLAN)
    bindir, reason = ensure_binaries()
    if not bindir:
        warn(f"make bench needs PostgreSQL: {reason}")
        return 1
    if opts.profile:
        opts.profile = ensure_profiler() or True
    sys.path.insert(0, str(BENCH))
    cluster = Cluster(bindir, name=tagged("bench-pg"))
    bench = None
    try:
        cluster.start()
        bench = Bench(opts, plan, cluster)
        bench.source, source_label = prepare_source(opts.ref)
        odoo_env.write_config(
            CONF,
            plan,
            cluster,
            addons_path=",".join([str(ADDONS_DIR)] + odoo_env.addons_path(plan).split(",")[1:]),
            log_level="warn",
            max_cron_threads=0,
            workers=0,
        )
        shutil.rmtree(BENCH_LOGS, ignore_errors=True)
        bench.start_emulator()
        phases = {}
        for name, func in (
            ("prepare", prepare),
            ("initial_import", scenario_import),
            ("idle_cycle", scenario_idle),
            ("changes_100", scenario_changes),
            ("many_mailboxes", scenario_many),
            ("throttled_import", scenario_throttled),
        ) + ((("profile", profile_ours),) if opts.profile else ()):
            phase_start = time.monotonic()
            func(bench)
            phases[name] = round(time.monotonic() - phase_start, 1)
            say(f"    [{name}: {fmt_seconds(phases[name])}]")
        doc = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine(),
            "source": source_label,
            "odoo": plan.get("odoo_dir"),
            "odoo_version": plan.get("odoo_version"),
            "params": {k: v for k, v in opts.params.items()},
            "scenarios": {k: v for k, v in bench.results.items() if not k.startswith("_")},
            "profile": bench.results.get("_profile"),
            "phases_s": phases,
            "total_s": round(time.monotonic() - started, 1),
            "notes": bench.notes,
        }
        doc["targets"] = targets(doc)
        write_json(RESULT, doc)
        markdown = render(doc)
        TABLE.write_text(markdown, encoding="utf-8")
        say("\n" + markdown)
        say(
            f"results: {RESULT.relative_to(REPO)} (table {TABLE.relative_to(REPO)}); "
            f"make bench took {fmt_seconds(doc['total_s'])}"
        )
        if opts.update_readme:
            update_readme(markdown)
            say("README.md: Performance section updated")
        return 0
    except CommandError as exc:
        warn(str(exc))
        return 1
    except (KeyboardInterrupt, Terminated):
        raise
    finally:
        ignore_signals()
        if bench is not None:
            stop_process(bench.emulator_proc, "emulator")
        cluster.stop_if_started_here()
        PIDS.unlink(missing_ok=True)


if __name__ == "__main__":
    exit_on_interrupt(main)
