"""Helpers shared by the tooling scripts (stdlib only: they run on the machine's python3)."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / ".run"
LOGS = RUN / "logs"
ADDON_NAME = "outlook_calendar_sync"

# The Odoo majors the add-on supports. One process works for one of them, OUTLOOK_ODOO_MAJOR (the tools set it when
# they start a process for another major; default: the first). Each major has its own venv and its own files under
# .run/: the first major keeps the plain names (.venv, .run/pg, .run/odoo-test.conf), another one gets its number
# appended (.venv-19, .run/pg-19, .run/odoo-test-19.conf).
SUPPORTED_MAJORS = (18, 19)
PRIMARY_MAJOR = SUPPORTED_MAJORS[0]
MAJOR_ENV = "OUTLOOK_ODOO_MAJOR"


def _selected_major():
    value = os.environ.get(MAJOR_ENV, "").strip()
    if not value:
        return PRIMARY_MAJOR
    if not value.isdigit() or int(value) not in SUPPORTED_MAJORS:
        raise SystemExit(f"{MAJOR_ENV}={value}: supported Odoo majors are {', '.join(map(str, SUPPORTED_MAJORS))}")
    return int(value)


MAJOR = _selected_major()
SUFFIX = "" if MAJOR == PRIMARY_MAJOR else f"-{MAJOR}"
VENV = REPO / f".venv{SUFFIX}"


def tagged(name, major=None):
    """``name`` for this process's Odoo major (or ``major``): ``name`` itself for the first one, else ``name-19``."""
    major = MAJOR if major is None else major
    return name if major == PRIMARY_MAJOR else f"{name}-{major}"


def say(msg=""):
    print(msg, flush=True)


def step(msg):
    say(f"==> {msg}")


def warn(msg):
    say(f"!!! {msg}")


def fmt_seconds(seconds):
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


class Timings:
    """Records how long each phase took and prints it as it ends."""

    def __init__(self):
        self.phases = {}

    @contextlib.contextmanager
    def phase(self, name):
        start = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = time.monotonic() - start
            say(f"    [{name}: {fmt_seconds(self.phases[name])}]")


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def free_port(preferred=None):
    """Return ``preferred`` if it is free on 127.0.0.1, else a port the kernel hands out."""
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def run(cmd, *, check=True, quiet=False, log=None, env=None, cwd=None, timeout=None):
    """Run ``cmd`` with no stdin. ``quiet`` captures output (shown on failure); ``log`` appends it to a file."""
    cmd = [str(c) for c in cmd]
    kwargs = {"stdin": subprocess.DEVNULL, "env": env, "cwd": cwd, "timeout": timeout, "text": True}
    if log is not None:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"\n$ {' '.join(cmd)}\n")
            fh.flush()
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False, **kwargs)
    elif quiet:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, **kwargs)
    else:
        proc = subprocess.run(cmd, check=False, **kwargs)
    if check and proc.returncode != 0:
        if quiet and proc.stdout:
            say(proc.stdout.rstrip())
        if log is not None:
            say(tail(log, 40))
        raise CommandError(f"command failed (exit {proc.returncode}): {' '.join(cmd)}")
    return proc


class CommandError(RuntimeError):
    pass


def tail(path, lines=30):
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def venv_python():
    return VENV / "bin" / "python"


def read_json(path, default=None):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def which(name):
    return shutil.which(name)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM/SIGHUP so ``finally`` blocks clean up."""


def install_signal_handlers():
    """Turn SIGTERM/SIGHUP into an exception; SIGINT already raises KeyboardInterrupt."""

    def handler(signum, _frame):
        raise Terminated(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
    # a shell without job control starts background commands with SIGINT ignored; we want Ctrl-C semantics anyway
    signal.signal(signal.SIGINT, signal.default_int_handler)


def ignore_signals():
    """Used while cleaning up: a second Ctrl-C must not abort the cleanup half-way."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def stop_process(proc, name, first=signal.SIGINT, grace=15.0):
    """Stop a ``subprocess.Popen`` child: ``first`` signal, then SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((first, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            warn(f"{name} (pid {proc.pid}) still running after {signal.Signals(sig).name}")


def deadline_loop(seconds, interval=0.25):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        yield
        time.sleep(interval)


def python_ok(python):
    """True if ``python`` runs (pyenv shims exist on PATH but may refuse to run)."""
    try:
        proc = subprocess.run(
            [python, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


def exit_on_interrupt(main):
    """Run ``main`` and map interruptions to the usual exit codes."""
    install_signal_handlers()
    try:
        code = main()
    except KeyboardInterrupt:
        say("\ninterrupted")
        code = 130
    except Terminated as exc:
        say(f"\nterminated ({exc})")
        code = 143
    sys.exit(code)


# ---------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------
_APT_UPDATED = False


def missing_debs(packages):
    """The packages dpkg does not list as installed ([] when this is no Debian-like system)."""
    if not which("dpkg-query"):
        return []
    missing = []
    for pkg in packages:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return missing


def apt_install(packages, *, log, no_service_start=False):
    """``apt-get install`` the packages that are missing, when root. Returns the ones still missing."""
    global _APT_UPDATED
    missing = missing_debs(packages)
    if not missing:
        return []
    if not (is_root() and which("apt-get")):
        warn(f"Debian packages missing and not root, not installing: {' '.join(missing)}")
        return missing
    step(f"apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    created_policy = False
    if no_service_start and not policy.exists():
        # the standard Debian switch that keeps maintainer scripts from starting services
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        created_policy = True
    try:
        if not _APT_UPDATED:
            run(["apt-get", "update", "-qq"], log=log, env=env, check=False)
            _APT_UPDATED = True
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], log=log, env=env, check=False)
    finally:
        if created_policy:
            policy.unlink(missing_ok=True)
    still = missing_debs(missing)
    if still:
        warn(f"apt-get could not install: {' '.join(still)} (see {log})")
    return still
