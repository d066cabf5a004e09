"""``python -m emulator``: serve the emulator until SIGINT/SIGTERM.

Writes ``STATE_DIR/emulator.json`` = {base_url, ca_path, ca_bundle_path, graph_url, authority_url, tenant_id, pid} so
launchers (``make demo``, benchmark harness) can find it; the file is removed on a clean exit.
"""

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .core import Emulator

_logger = logging.getLogger("emulator")


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8443, help="port (0 = any free port)")
    parser.add_argument("--state-dir", default=".run/emulator", help="CA, certificates, emulator.json")
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="CLIENT_ID:SECRET[:REDIRECT_URI]",
        help="register an app (repeatable); without REDIRECT_URI any redirect URI is accepted",
    )
    parser.add_argument("--mailbox", action="append", default=[], metavar="ADDRESS", help="add a mailbox (repeatable)")
    parser.add_argument(
        "--seed-demo",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="add the mailbox and seed ~50 demo events (repeatable)",
    )
    parser.add_argument(
        "--link-host", default=None, help="host for nextLink/deltaLink (e.g. https://graph.microsoft.com)"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _setup(emu, args):
    for spec in args.app:
        parts = spec.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise SystemExit(f"--app expects CLIENT_ID:SECRET[:REDIRECT_URI], got {spec!r}")
        emu.register_app(parts[0], parts[1], [parts[2]] if len(parts) == 3 else None)
        _logger.info("emulator: app %s registered (redirect URI %s)", parts[0], parts[2] if len(parts) == 3 else "any")
    for address in args.mailbox + args.seed_demo:
        emu.add_mailbox(address)
        _logger.info("emulator: mailbox %s", address)
    for address in args.seed_demo:
        events = emu.outlook.seed_demo(address)
        _logger.info("emulator: seeded %d demo events into %s", len(events), address)


def main(argv=None):
    args = _parse(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state_dir = os.path.abspath(args.state_dir)
    emu = Emulator(host=args.host, port=args.port, state_dir=state_dir, link_host=args.link_host)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    emu.start()
    info_path = os.path.join(state_dir, "emulator.json")
    try:
        _setup(emu, args)
        with open(info_path, "w", encoding="utf-8") as handle:
            json.dump(dict(emu.info(), pid=os.getpid()), handle, indent=2)
        _logger.info(
            "emulator: authority %s/<tenant>, Graph %s, tenant id %s", emu.authority_url, emu.graph_url, emu.tenant_id
        )
        _logger.info("emulator: trust %s (or %s); state in %s", emu.ca_path, emu.ca_bundle_path, info_path)
        while not stop.wait(0.5):
            pass
    finally:
        _logger.info("emulator: shutting down")
        emu.stop()
        if os.path.exists(info_path):
            os.remove(info_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
