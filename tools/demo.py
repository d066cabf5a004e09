#!/usr/bin/env python3
"""``make demo``: PostgreSQL + the Graph emulator + Odoo on http://localhost:8069, ready to click through.

* one Odoo major: ``make demo ODOO=19`` (``--odoo 19``) picks it, else the first supported one found (18, then
  19); the same setup as ``make test`` for that major (``.venv`` / ``.venv-19``, PostgreSQL cluster ``.run/pg`` /
  ``.run/pg-19``);
* the emulator (``python -m emulator``) on 127.0.0.1:8443 (or a free port), one app registered with the redirect
  URI of the add-on's OAuth callback and the mailbox ``demo@contoso.test`` seeded with ~50 events;
* database ``outlook_demo`` with the add-on installed (created afresh each run, as the emulator starts empty;
  no demo data; login admin/admin), settings pointing at the emulator;
* Odoo in the foreground (workers=0, one cron thread). Ctrl-C stops Odoo, the emulator and PostgreSQL.

Logs: ``.run/logs/odoo-demo.log`` and ``.run/logs/emulator.log`` (``-19`` appended for Odoo 19; warnings and errors
are echoed here).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap  # noqa: E402
import odoo_env  # noqa: E402
from _common import (  # noqa: E402
    ADDON_NAME,
    LOGS,
    MAJOR,
    REPO,
    RUN,
    CommandError,
    Terminated,
    Timings,
    deadline_loop,
    exit_on_interrupt,
    free_port,
    ignore_signals,
    port_is_free,
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
from pgcluster import Cluster, ensure_binaries  # noqa: E402

DEMO_DB = "outlook_demo"
DEMO_CONF = RUN / f"{tagged('odoo-demo')}.conf"
DEMO_LOG = LOGS / f"{tagged('odoo-demo')}.log"
EMULATOR_LOG = LOGS / f"{tagged('emulator')}.log"
ODOO_PORT = 8069
BASE_URL = f"http://localhost:{ODOO_PORT}"
REDIRECT_URI = f"{BASE_URL}/microsoft_account/authentication"
CLIENT_ID = "0d5c6b1e-7a2f-4c39-9e1d-5a0b3c2d1e0f"  # the demo app registered in the emulator
CLIENT_SECRET = "outlook-demo-secret"
MAILBOX = "demo@contoso.test"
EMULATOR_DIR = RUN / tagged("emulator")
PIDS = RUN / f"{tagged('demo')}.json"  # what `make clean` stops if the launcher itself was killed


def child_env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def spawn(cmd, log, cwd):
    """A child in its own session: Ctrl-C reaches only this launcher, which stops everything in order."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(map(str, cmd))}\n")
        fh.flush()
        return subprocess.Popen(
            [str(c) for c in cmd],
            cwd=cwd,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def follow(log, prefix, keep, stop):
    """Echo the lines of ``log`` that ``keep`` selects, from its current end, until ``stop`` is set."""

    def loop():
        with open(log, encoding="utf-8", errors="replace") as fh:
            fh.seek(0, os.SEEK_END)
            pending = ""
            while not stop.is_set():
                pending += fh.readline()
                if not pending.endswith("\n"):
                    time.sleep(0.3)
                    continue
                if keep(pending):
                    say(f"[{prefix}] {pending.rstrip()}")
                pending = ""

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def important(line):
    head = line[:80]
    return any(f" {lvl} " in head for lvl in ("WARNING", "ERROR", "CRITICAL")) or line.startswith("Traceback")


def start_emulator():
    EMULATOR_DIR.mkdir(parents=True, exist_ok=True)
    info_path = EMULATOR_DIR / "emulator.json"
    info_path.unlink(missing_ok=True)
    port = free_port(8443)
    log = EMULATOR_LOG
    cmd = [
        venv_python(), "-m", "emulator",
        "--port", port,
        "--state-dir", EMULATOR_DIR,
        "--app", f"{CLIENT_ID}:{CLIENT_SECRET}:{REDIRECT_URI}",
        "--seed-demo", MAILBOX,
    ]  # fmt: skip
    step(f"starting the Graph emulator on https://127.0.0.1:{port} (log: {log.relative_to(REPO)})")
    proc = spawn(cmd, log, cwd=REPO)
    for _ in deadline_loop(60):
        info = read_json(info_path)
        if info and info.get("graph_url"):
            return proc, info
        if proc.poll() is not None:
            break
    say(tail(log, 30))
    stop_process(proc, "emulator")
    raise CommandError(f"the emulator did not come up (no {info_path.relative_to(REPO)}; log: {log})")


def prepare_database(cluster):
    """A fresh ``outlook_demo`` each run: the emulator keeps its mailboxes in memory, so a database connected to
    the previous run's emulator would hold tokens and event ids the new one never issued.
    ``OUTLOOK_DEMO_KEEP_DB=1`` keeps the database and only updates the add-on."""
    state = odoo_env.pgq(cluster, "module-state", DEMO_DB, ADDON_NAME)
    log = LOGS / f"{tagged('odoo-demo-install')}.log"
    if state == "installed" and os.environ.get("OUTLOOK_DEMO_KEEP_DB", "").lower() in ("1", "true", "yes"):
        ok, problems = odoo_env.install_addon(DEMO_CONF, DEMO_DB, cluster, log, update=True)
    else:
        odoo_env.drop_database(cluster, DEMO_DB)
        ok, problems = odoo_env.install_addon(DEMO_CONF, DEMO_DB, cluster, log)
    if not ok:
        for block in problems:
            say(block)
        raise CommandError(f"installing {ADDON_NAME} in {DEMO_DB} failed (log: {log})")
    odoo_env.addon_warnings(log)


def set_parameters(emulator):
    params = {
        "outlook_calendar_sync.client_id": CLIENT_ID,
        "outlook_calendar_sync.client_secret": CLIENT_SECRET,
        "outlook_calendar_sync.tenant": "common",
        "outlook_calendar_sync.authority_url": emulator["authority_url"],
        "outlook_calendar_sync.graph_url": emulator["graph_url"],
        "outlook_calendar_sync.ca_bundle": emulator["ca_path"],
        "web.base.url": BASE_URL,
        "web.base.url.freeze": "True",
    }
    step("pointing the add-on's settings at the emulator")
    cmd = [venv_python(), REPO / "tools" / "odoo_set_params.py", DEMO_CONF, DEMO_DB]
    cmd += [f"{key}={value}" for key, value in params.items()]
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=RUN, env=child_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if proc.returncode != 0:
        say(proc.stdout + proc.stderr)
        raise CommandError("setting the demo parameters failed")


def wait_for_odoo(proc, log):
    for _ in deadline_loop(180, interval=0.5):
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ODOO_PORT}/web/login", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            continue
    say(tail(log, 40))
    raise CommandError(f"Odoo did not answer on port {ODOO_PORT} (log: {log})")


def check_login():
    """Log in as admin/admin through the web client's own route (JSON-RPC on Odoo 18 and 19; Odoo 19 logs that
    /xmlrpc is deprecated)."""
    body = {"jsonrpc": "2.0", "method": "call", "params": {"db": DEMO_DB, "login": "admin", "password": "admin"}}
    request = urllib.request.Request(
        f"http://127.0.0.1:{ODOO_PORT}/web/session/authenticate",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            answer = json.loads(resp.read().decode())
    except (OSError, ValueError) as exc:
        warn(f"could not check the admin/admin login: {exc}")
        return
    if not (answer.get("result") or {}).get("uid"):
        warn(f"admin/admin does not log in to {DEMO_DB} (password changed? `make clean` starts over)")


def print_instructions(cluster, emulator):
    lines = [
        "",
        "=" * 78,
        " Outlook Calendar Sync demo is running",
        "=" * 78,
        f"  1. Open {BASE_URL} and log in as  admin / admin",
        "  2. Open the Calendar app",
        "  3. Click the  Outlook  button at the top of the calendar",
        f"  4. On the emulator's consent page ({emulator['base_url']}), click  Accept",
        "     (the emulator has its own certificate authority: let the browser proceed, or trust",
        f"      {emulator['ca_path']})",
        f"  5. You are back in Odoo, connected to {MAILBOX}: within seconds its ~50 events appear in",
        "     the calendar (next week has most of them). Events you create in Odoo reach the emulated",
        "     Outlook at the next sync (every 10 minutes, or at once with the Outlook button).",
        "",
        f"  database {DEMO_DB} | PostgreSQL 127.0.0.1:{cluster.port} (user odoo) | emulator {emulator['base_url']}",
        f"  Odoo {MAJOR} | logs: {DEMO_LOG.relative_to(REPO)}, {EMULATOR_LOG.relative_to(REPO)}",
        "  Press Ctrl-C to stop Odoo, the emulator and PostgreSQL.",
        "=" * 78,
        "",
    ]
    say("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description="Odoo + the Graph emulator, ready to click through.")
    parser.add_argument("--odoo", help="the Odoo major to run (make demo ODOO=19); default: the first one found")
    opts = parser.parse_args()
    try:
        major, reason = bootstrap.choose_major(opts.odoo)
    except bootstrap.SetupError as exc:
        major, reason = None, str(exc)
    if major is None:
        warn(f"make demo needs Odoo: {reason}")
        return 1
    bootstrap.work_for_major(major)  # this process again, for that major's venv and files (no return if another)
    RUN.mkdir(exist_ok=True)
    if not port_is_free(ODOO_PORT):
        warn(f"port {ODOO_PORT} is in use (another Odoo, or a running `make demo`?); the demo needs it")
        return 1
    timings = Timings()
    try:
        with timings.phase("setup"):
            plan = bootstrap.ensure()
    except bootstrap.SetupError as exc:
        warn(f"setup failed: {exc}")
        return 1
    if not plan["odoo_dir"]:
        warn(f"make demo needs Odoo: {plan['no_odoo_reason']}")
        return 1
    bindir, reason = ensure_binaries()
    if not bindir:
        warn(f"make demo needs PostgreSQL: {reason}")
        return 1
    cluster = Cluster(bindir)
    emulator_proc = odoo_proc = None
    stop_echo = threading.Event()
    try:
        with timings.phase("postgres start"):
            cluster.start()
        with timings.phase("emulator start"):
            emulator_proc, emulator = start_emulator()
        write_json(PIDS, {"launcher": os.getpid(), "emulator": emulator_proc.pid})
        odoo_env.link_addon()
        odoo_env.write_config(
            DEMO_CONF,
            plan,
            cluster,
            http_port=ODOO_PORT,
            workers=0,
            max_cron_threads=1,
            db_name=DEMO_DB,
            dbfilter=f"^{DEMO_DB}$",
        )
        with timings.phase("odoo install"):
            prepare_database(cluster)
        with timings.phase("settings"):
            set_parameters(emulator)
        log = DEMO_LOG
        step(f"starting Odoo {MAJOR} on {BASE_URL} (log: {log.relative_to(REPO)})")
        odoo_proc = spawn(odoo_env.odoo_cmd(DEMO_CONF), log, cwd=RUN)
        write_json(PIDS, {"launcher": os.getpid(), "emulator": emulator_proc.pid, "odoo": odoo_proc.pid})
        follow(log, "odoo", lambda line: important(line) or ADDON_NAME in line[:160], stop_echo)
        follow(EMULATOR_LOG, "emulator", important, stop_echo)
        with timings.phase("odoo start"):
            wait_for_odoo(odoo_proc, log)
            check_login()
        print_instructions(cluster, emulator)
        while odoo_proc.poll() is None and emulator_proc.poll() is None:
            time.sleep(0.5)
        who = "Odoo" if odoo_proc.poll() is not None else "the emulator"
        warn(f"{who} stopped on its own; stopping the rest")
        return 1
    except CommandError as exc:
        warn(str(exc))
        return 1
    except (KeyboardInterrupt, Terminated):
        return 0  # Ctrl-C is how the demo is meant to end
    finally:
        ignore_signals()  # a second Ctrl-C must not leave half of it running
        say("\n==> stopping the demo")
        stop_process(odoo_proc, "Odoo", grace=20)
        stop_process(emulator_proc, "emulator")
        stop_echo.set()
        cluster.stop_if_started_here()
        PIDS.unlink(missing_ok=True)
        say("==> demo stopped")


if __name__ == "__main__":
    exit_on_interrupt(main)
