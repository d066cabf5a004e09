#!/usr/bin/env python3
"""A private PostgreSQL cluster for the tests and the demo.

Lives under ``.run/pg/`` (data, unix socket, log), listens on 127.0.0.1 on a free port, superuser ``odoo``
with trust authentication (Odoo refuses the user ``postgres``). When run as root, the server runs as the
``postgres`` system user; if that user cannot reach the clone's folder, the cluster goes to a folder of
its own under the temp dir (recorded in ``.run/pg/cluster.json``).

    python3 tools/pgcluster.py start|stop|status
"""

import glob
import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    LOGS,
    REPO,
    RUN,
    CommandError,
    apt_install,
    free_port,
    is_root,
    process_alive,
    read_json,
    say,
    step,
    tagged,
    tail,
    warn,
    which,
    write_json,
)

STATE = RUN / "pg" / "cluster.json"
DB_USER = "odoo"
SETTINGS_FILE = "outlook_run.conf"


def find_bindir():
    """The folder holding initdb + pg_ctl + postgres: from PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    initdb = which("initdb")
    if initdb:
        bindir = Path(initdb).parent
        if all((bindir / tool).exists() or which(tool) for tool in ("pg_ctl", "postgres")):
            return bindir

    def version_key(path):
        match = re.search(r"/(\d+)/bin$", path)
        return int(match.group(1)) if match else 0

    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True):
        if all(Path(bindir, tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(bindir)
    return None


def ensure_binaries():
    """Return ``(bindir, None)`` or ``(None, reason)``; installs Debian's ``postgresql`` when root."""
    bindir = find_bindir()
    if bindir:
        return bindir, None
    if is_root() and which("apt-get"):
        apt_install(["postgresql"], log=LOGS / "setup.log", no_service_start=True)
        bindir = find_bindir()
        if bindir:
            return bindir, None
        return None, "PostgreSQL server binaries (initdb, pg_ctl) not found and apt-get install postgresql failed"
    return None, "PostgreSQL server binaries (initdb, pg_ctl) not found (install postgresql; not root: not installed)"


def _tool(bindir, name):
    path = Path(bindir) / name
    return str(path) if path.exists() else which(name) or name


class Cluster:
    """``name`` picks the cluster's folder under ``.run/`` (``pg`` for tests and demo, ``bench-pg`` for the
    benchmark, so ``make bench`` never shares a server with a concurrent ``make test``)."""

    def __init__(self, bindir=None, name=None):
        self.bindir = Path(bindir) if bindir else find_bindir()
        self.name = name or tagged("pg")  # one cluster per Odoo major: .run/pg, .run/pg-19
        self.state_path = RUN / self.name / "cluster.json"
        self.started_here = False
        self.state = read_json(self.state_path, {}) or {}

    # -- who runs the server ------------------------------------------------
    @staticmethod
    def server_user():
        """None when not root (the server runs as us), else a system user to run it as."""
        if not is_root():
            return None
        for name in ("postgres", "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise CommandError("running as root and no 'postgres' (or 'nobody') user to run PostgreSQL as")

    def _as_server_user(self, cmd):
        user = self.server_user()
        cmd = [str(c) for c in cmd]
        if user is None:
            return cmd
        if which("runuser"):
            return ["runuser", "-u", user.pw_name, "--", *cmd]
        return ["su", user.pw_name, "-s", "/bin/sh", "-c", " ".join(map(_shquote, cmd))]

    def _chown(self, path):
        user = self.server_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _user_can_use(self, path):
        user = self.server_user()
        if user is None:
            return True
        proc = subprocess.run(
            self._as_server_user(["test", "-w", path, "-a", "-x", path]), stdin=subprocess.DEVNULL, check=False
        )
        return proc.returncode == 0

    # -- layout -------------------------------------------------------------
    def _layout(self):
        base = RUN / self.name
        base.mkdir(parents=True, exist_ok=True)
        self._chown(base)
        if not self._user_can_use(base):
            tag = hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
            base = Path(tempfile.gettempdir()) / f"outlook-{self.name}-{tag}"
            user = self.server_user()
            warn(f"user {user.pw_name} cannot reach {RUN / self.name}: the cluster lives in {base}")
            base.mkdir(mode=0o700, exist_ok=True)
            self._chown(base)
        sock = base / "sock"
        if len(str(sock)) > 90:  # unix socket paths are limited to ~107 bytes
            tag = hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
            sock = Path(tempfile.gettempdir()) / f"outlook-{self.name}-sock-{tag}"
        for path in (sock,):
            path.mkdir(mode=0o700, exist_ok=True)
            self._chown(path)
        return {"base": str(base), "data": str(base / "data"), "sock": str(sock), "log": str(base / "postgres.log")}

    # -- status -------------------------------------------------------------
    def running(self):
        data = self.state.get("data")
        if not data or not self.bindir:
            return False
        pid = self.postmaster_pid(data)
        if not pid or not process_alive(pid):
            return False
        proc = subprocess.run(
            self._as_server_user([_tool(self.bindir, "pg_ctl"), "status", "-D", data]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    @staticmethod
    def postmaster_pid(data):
        try:
            return int(Path(data, "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    @property
    def port(self):
        return self.state["port"]

    @property
    def host(self):
        return "127.0.0.1"

    # -- start / stop -------------------------------------------------------
    def start(self):
        if not self.bindir:
            raise CommandError("PostgreSQL binaries not found")
        if self.running():
            step(f"PostgreSQL already running on 127.0.0.1:{self.port} (data {self.state['data']}): reusing it")
            return self
        layout = self._layout()
        data = Path(layout["data"])
        if not (data / "PG_VERSION").exists():
            if data.exists():
                shutil.rmtree(data)
            step(f"initdb {data}")
            self._run(
                [_tool(self.bindir, "initdb"), "-D", data, "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--locale=C"],
                layout,
            )
            with open(data / "postgresql.conf", "a", encoding="utf-8") as fh:
                fh.write(f"\n# test/demo settings (tools/pgcluster.py)\ninclude_if_exists = '{SETTINGS_FILE}'\n")
        stale = self.postmaster_pid(data)
        if stale and not process_alive(stale):
            (data / "postmaster.pid").unlink(missing_ok=True)
        port = free_port()
        settings = data / SETTINGS_FILE
        settings.write_text(
            f"port = {port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{layout['sock']}'\n"
            "# throw-away data: durability off makes Odoo installs much faster\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
        self._chown(settings)
        step(f"starting PostgreSQL on 127.0.0.1:{port} (data {data})")
        # recorded before pg_ctl runs, so that an interruption during the start still stops the server
        self.state = dict(layout, port=port, user=DB_USER, bindir=str(self.bindir))
        write_json(self.state_path, self.state)
        self.started_here = True
        cmd = [_tool(self.bindir, "pg_ctl"), "-D", data, "-l", layout["log"], "-w", "-t", "60", "start"]
        # own session: a Ctrl-C in the terminal reaches us, and we stop the server in order
        proc = subprocess.run(
            self._as_server_user(cmd),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            start_new_session=True,
            check=False,
        )
        if proc.returncode != 0:
            say(proc.stdout + proc.stderr)
            say(tail(layout["log"], 20))
            raise CommandError(f"PostgreSQL did not start (log: {layout['log']})")
        self.state["pid"] = self.postmaster_pid(data)
        write_json(self.state_path, self.state)
        return self

    def _run(self, cmd, layout):
        proc = subprocess.run(
            self._as_server_user(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            say(proc.stdout + proc.stderr)
            raise CommandError(f"{Path(cmd[0]).name} failed")

    def stop(self):
        data = self.state.get("data")
        if not data:
            return
        # interrupted while starting: give the server a moment to write its pid file
        pid = self._wait_for_pid(data) if self.started_here else self.postmaster_pid(data)
        if not pid or not process_alive(pid):
            return
        step("stopping PostgreSQL")
        proc = subprocess.run(
            self._as_server_user([_tool(self.bindir, "pg_ctl"), "-D", data, "-m", "fast", "-w", "-t", "30", "stop"]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or process_alive(pid):
            warn(f"pg_ctl stop failed ({(proc.stdout + proc.stderr).strip()}); killing postmaster {pid}")
            for sig in (signal.SIGQUIT, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
                for _ in range(50):
                    if not process_alive(pid):
                        break
                    time.sleep(0.1)

    def _wait_for_pid(self, data, seconds=5.0):
        end = time.monotonic() + seconds
        while True:
            pid = self.postmaster_pid(data)
            if pid or time.monotonic() > end:
                return pid
            time.sleep(0.25)

    def stop_if_started_here(self):
        if self.started_here:
            self.stop()

    def dsn_args(self):
        """Arguments for tools/pgq.py."""
        return ["--host", self.host, "--port", str(self.port), "--user", DB_USER]


def _shquote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "status"
    if cmd == "start":
        bindir, reason = ensure_binaries()
        if not bindir:
            warn(reason)
            return 1
        cluster = Cluster(bindir).start()
        say(f"PostgreSQL on 127.0.0.1:{cluster.port}, user {DB_USER}, socket dir {cluster.state['sock']}")
        return 0
    cluster = Cluster()
    if cmd == "stop":
        cluster.stop()
        return 0
    if cmd == "status":
        if cluster.running():
            say(f"running on 127.0.0.1:{cluster.port} (data {cluster.state['data']})")
            return 0
        say("not running")
        return 3
    say(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
