#!/usr/bin/env python3
"""``make clean``: stop whatever the tooling left running (demo processes, PostgreSQL), then remove .run/ and the venvs
(.venv, .venv-19)."""

import os
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, RUN, SUPPORTED_MAJORS, process_alive, read_json, step, tagged, warn  # noqa: E402
from pgcluster import Cluster  # noqa: E402


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pid(pid, name, expect):
    """Stop ``pid`` only if it still runs the program we started (pids get reused)."""
    if not pid or not process_alive(pid) or expect not in cmdline(pid):
        return
    step(f"stopping {name} (pid {pid})")
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not process_alive(pid):
                return
            time.sleep(0.2)


def main():
    for major in SUPPORTED_MAJORS:
        pids = read_json(RUN / f"{tagged('demo', major)}.json", {}) or {}
        stop_pid(pids.get("launcher"), "the demo launcher", "tools/demo.py")
        stop_pid(pids.get("odoo"), "Odoo", "odoo")
        stop_pid(pids.get("emulator"), "the emulator", "emulator")
        bench = read_json(RUN / f"{tagged('bench', major)}.pids.json", {}) or {}
        stop_pid(bench.get("launcher"), "the benchmark launcher", "bench/run.py")
        stop_pid(bench.get("emulator"), "the benchmark emulator", "emulator_server")
    outside = set()
    for major in SUPPORTED_MAJORS:  # each major's cluster for tests/demo, and make bench's own one
        for name in ("pg", "bench-pg"):
            cluster = Cluster(name=tagged(name, major))
            cluster.stop()
            outside |= {Path(p) for p in (cluster.state.get("base"), cluster.state.get("sock")) if p}
    venvs = {REPO / tagged(".venv", major) for major in SUPPORTED_MAJORS}
    for path in {RUN, *venvs, *outside}:
        if path.exists():
            step(f"removing {path}")
            shutil.rmtree(path, ignore_errors=True)
    if any(p.exists() for p in (RUN, *venvs)):
        warn("some files could not be removed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
