"""The benchmark's emulator process: ``python -m emulator`` plus one benchmark knob, a throttling schedule.

    python bench/emulator_server.py --state-dir DIR [--port 0] [--setting key=value ...]

Serves the repository's emulator unchanged (same routes, settings, counters; ``DIR/emulator.json`` as the CLI writes
it) and adds two control routes (not counted, not throttled):

* ``POST /_emulator/bench/throttle`` ``{"every": N, "count": M, "retry_after": R, "mailbox": ADDRESS|null}``:
  the N-th, 2N-th, ... Graph request (``$batch`` items included) of that mailbox answers ``429 TooManyRequests`` with
  ``Retry-After: R``, M times at most. Until those R seconds have passed, every further request of the mailbox
  answers 429 with the seconds left, as Graph keeps throttling a client that does not wait (graph-reference C.2).
  ``{"every": 0}`` switches it off.
* ``GET /_emulator/bench/throttle``: the schedule and what it did: ``fired`` (scheduled 429s),
  ``early`` (429s for requests sent before the Retry-After had passed), ``imposed_s`` (sum of the scheduled
  Retry-After values: the least time a client that honours them must wait).

Deterministic, unlike the budget throttle (which depends on timing), so both sync modules face the same schedule.
"""

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

# the emulator of the measured source: the work tree, or the snapshot ``bench/run.py --ref`` extracted
sys.path.insert(0, os.environ.get("BENCH_SOURCE") or str(Path(__file__).resolve().parent.parent))

from emulator import Emulator  # noqa: E402
from emulator.middleware import Throttle, _throttled  # noqa: E402

_logger = logging.getLogger("bench.emulator")


class ScheduledThrottle(Throttle):
    """The emulator's throttle, plus the benchmark's schedule of 429s (see the module docstring)."""

    def __init__(self, settings):
        super().__init__(settings)
        self._schedule_lock = threading.Lock()
        self.set_schedule({"every": 0})

    def set_schedule(self, schedule):
        with self._schedule_lock:
            self.schedule = {
                "every": int(schedule.get("every") or 0),
                "count": int(schedule.get("count") or 0),
                "retry_after": float(schedule.get("retry_after") or 1),
                "mailbox": (schedule.get("mailbox") or "").lower() or None,
                "seen": 0,
                "fired": 0,
                "early": 0,
                "imposed_s": 0.0,
                "blocked_until": 0.0,
            }
            return self.status()

    def status(self):
        return {key: value for key, value in self.schedule.items() if key != "blocked_until"}

    def acquire(self, key):
        with self._schedule_lock:
            plan = self.schedule
            if plan["every"] and (plan["mailbox"] is None or key[1] == plan["mailbox"]):
                now = time.monotonic()
                if now < plan["blocked_until"]:
                    plan["early"] += 1
                    raise _throttled(max(1, math.ceil(plan["blocked_until"] - now)), "TooManyRequests")
                plan["seen"] += 1
                if plan["fired"] < plan["count"] and plan["seen"] % plan["every"] == 0:
                    plan["fired"] += 1
                    plan["imposed_s"] += plan["retry_after"]
                    plan["blocked_until"] = now + plan["retry_after"]
                    raise _throttled(_header_seconds(plan["retry_after"]), "TooManyRequests")
        super().acquire(key)


def _header_seconds(value):
    return int(value) if float(value).is_integer() else value


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an emulator setting (JSON value, or a plain string)",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def _settings(pairs):
    settings = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            settings[key] = json.loads(value)
        except ValueError:
            settings[key] = value
    return settings


def main(argv=None):
    args = _parse(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state_dir = os.path.abspath(args.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    emu = Emulator(host=args.host, port=args.port, state_dir=state_dir, **_settings(args.setting))
    emu.throttle = ScheduledThrottle(emu.settings)
    emu.router.add("POST", "/_emulator/bench/throttle", lambda body: emu.throttle.set_schedule(body), "control")
    emu.router.add("GET", "/_emulator/bench/throttle", lambda body: emu.throttle.status(), "control")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    emu.start()
    info_path = os.path.join(state_dir, "emulator.json")
    try:
        with open(info_path, "w", encoding="utf-8") as handle:
            json.dump(dict(emu.info(), pid=os.getpid()), handle, indent=2)
        _logger.warning("bench emulator: serving %s", emu.base_url)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
        if os.path.exists(info_path):
            os.remove(info_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
