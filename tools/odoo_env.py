"""Odoo plumbing shared by the test runner and the demo: addons path, config file, database install."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from _common import ADDON_NAME, REPO, RUN, say, step, tagged, venv_python, warn
from pgcluster import DB_USER

ADDONS = RUN / "addons"
DATA_DIR = RUN / tagged("odoo-data")
WITHOUT_DEMO = "--without-demo=True"  # no demo data: Odoo 18 takes any value, Odoo 19 a boolean ("all" is not)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def link_addon():
    """``.run/addons/outlook_calendar_sync`` -> the clone, whatever the clone's folder is called."""
    ADDONS.mkdir(parents=True, exist_ok=True)
    link = ADDONS / ADDON_NAME
    if link.is_symlink() and Path(os.readlink(link)) == REPO:
        return link
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    link.symlink_to(REPO, target_is_directory=True)
    return link


def addons_path(plan):
    """``.run/addons`` + the Odoo package's ``addons`` + the tree's ``addons`` (a git checkout has both)."""
    odoo_dir = Path(plan["odoo_dir"])
    paths = [ADDONS]
    for cand in (odoo_dir / "addons", odoo_dir.parent / "addons"):
        if cand.is_dir() and cand not in paths and any(cand.glob("*/__manifest__.py")):
            paths.append(cand)
    return ",".join(str(p) for p in paths)


def write_config(path, plan, cluster, **options):
    values = {
        "db_host": cluster.host,
        "db_port": cluster.port,
        "db_user": DB_USER,
        "addons_path": addons_path(plan),
        "data_dir": DATA_DIR,
        "admin_passwd": "admin",
        "list_db": "False",
        "without_demo": "True",  # Odoo 18 reads any non-empty value, Odoo 19 a boolean
        "log_level": "info",
    }
    values.update(options)
    text = "[options]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")
    return path


def pgq(cluster, *args):
    proc = subprocess.run(
        [str(venv_python()), str(REPO / "tools" / "pgq.py"), *cluster.dsn_args(), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pgq {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
    return proc.stdout.strip()


def drop_database(cluster, db):
    pgq(cluster, "drop", db)
    shutil.rmtree(DATA_DIR / "filestore" / db, ignore_errors=True)


def odoo_cmd(conf, *args):
    return [str(venv_python()), "-m", "odoo", "-c", str(conf), *args]


def install_addon(conf, db, cluster, log, update=False, extra_modules=()):
    """Install (or update) the add-on (and ``extra_modules``) in ``db`` with ``--stop-after-init``.

    Odoo can exit 0 although a module failed to load, so success also needs the modules' state to be
    ``installed`` and no ERROR/CRITICAL line in the log. Returns ``(ok, problems)``.
    """
    flag = "-u" if update else "-i"
    modules = [ADDON_NAME, *extra_modules]
    names = ",".join(modules)
    cmd = odoo_cmd(conf, "-d", db, flag, names, "--stop-after-init", WITHOUT_DEMO, "--log-level=info")
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    step(f"odoo {flag} {names} on database {db} (log: {Path(log).relative_to(REPO)})")
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, cwd=RUN)
        try:
            next_beat = 30
            while proc.poll() is None:
                time.sleep(0.5)
                elapsed = time.monotonic() - start
                if elapsed >= next_beat:
                    say(f"    ... {int(elapsed)}s: {last_log_message(log)}")
                    next_beat += 30
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    problems = error_blocks(log)
    if proc.returncode != 0:
        problems.append(f"odoo exited with code {proc.returncode}")
    for module in modules:
        state = pgq(cluster, "module-state", db, module)
        if state != "installed":
            problems.append(f"module {module} is '{state}' after the install, not 'installed'")
    return not problems, problems


def last_log_message(log, width=100):
    lines = [line for line in Path(log).read_text(errors="replace").splitlines() if LOG_LINE.match(line)]
    if not lines:
        return "starting"
    return lines[-1].split(" ", 4)[-1][:width]


def error_blocks(log, max_lines=40):
    """Each ERROR/CRITICAL log line with the traceback lines that follow it (long ones: head and tail)."""

    def shorten(lines):
        if len(lines) <= max_lines:
            return "\n".join(lines)
        cut = len(lines) - max_lines + 4
        return "\n".join([*lines[:3], f"    ... ({cut} lines, see {Path(log).name})", *lines[3 + cut :]])

    blocks, current = [], None
    for line in Path(log).read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if match:
            if current:
                blocks.append(shorten(current))
                current = None
            if match.group(1) in ("ERROR", "CRITICAL"):
                current = [line]
        elif current is not None:
            current.append(line)
    if current:
        blocks.append(shorten(current))
    return blocks


def addon_warnings(log, limit=15):
    """WARNING lines that come from the add-on itself (shown after an install; Odoo's own are left in the log)."""
    found = [
        line
        for line in Path(log).read_text(errors="replace").splitlines()
        if " WARNING " in line[:60] and ADDON_NAME in line and LOG_LINE.match(line)
    ]
    if found:
        warn(f"{len(found)} warning(s) from {ADDON_NAME} during the install:")
        for line in found[:limit]:
            say(f"    {line}")
    return found
