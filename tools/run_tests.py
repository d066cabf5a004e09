#!/usr/bin/env python3
"""``make test``: set up what is missing, run every suite, print a summary, write ``.run/test-summary.json``.

Suites:
* ``engine`` — ``tests_engine/`` with plain pytest (``-p no:odoo``), no Odoo needed.
* ``odoo``   — the add-on's ``tests/`` with pytest-odoo in a real Odoo on a private PostgreSQL cluster, after a
  fresh install of the add-on in database ``outlook_test``. Skipped (with the reason) when no Odoo is found
  or PostgreSQL is missing and cannot be installed.
* ``browser`` — the add-on's ``tests/test_ui_*.py`` (Odoo tours in headless Chromium) on the same database;
  Chromium comes from Debian's ``chromium`` package (installed when root). Skipped with the reason otherwise.

Exit status: 0 when no suite failed (skipped suites do not fail the run), 1 otherwise.
"""

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap  # noqa: E402
import odoo_env  # noqa: E402
from _common import (  # noqa: E402
    ADDON_NAME,
    LOGS,
    REPO,
    RUN,
    CommandError,
    Terminated,
    Timings,
    apt_install,
    exit_on_interrupt,
    fmt_seconds,
    ignore_signals,
    say,
    step,
    venv_python,
    warn,
    which,
    write_json,
)
from pgcluster import Cluster, ensure_binaries  # noqa: E402

TOOLS = REPO / "tools"
ODOO_INFO_KEYS = (("mode", "mode"), ("version", "odoo_version"), ("dir", "odoo_dir"))
SUMMARY = RUN / "test-summary.json"
TEST_DB = "outlook_test"
TEST_CONF = RUN / "odoo-test.conf"
PYTEST_EXIT = {
    2: "pytest was interrupted (collection errors?)",
    3: "pytest internal error",
    4: "pytest usage error (bad arguments or missing path)",
    5: "no tests collected: a green suite must run at least one test",
}


class Suite:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = self.skipped = 0
        self.skip_reason = None
        self.error = None
        self.seconds = None

    def skip(self, reason):
        self.skip_reason = reason
        return self

    def fail(self, reason):
        self.error = reason
        self.failed = max(self.failed, 1)  # a suite that broke before its tests counts as one failure
        return self

    @property
    def status(self):
        if self.skip_reason:
            return "SKIPPED"
        return "FAILED" if self.failed else "passed"

    def as_json(self):
        return {"passed": self.passed, "failed": self.failed, "skipped": self.skipped, "skip_reason": self.skip_reason}


def parse_junit(path, suite):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return False
    nodes = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for node in nodes:
        tests = int(node.get("tests", 0))
        failed = int(node.get("failures", 0)) + int(node.get("errors", 0))
        skipped = int(node.get("skipped", 0))
        suite.failed += failed
        suite.skipped += skipped
        suite.passed += tests - failed - skipped
    return True


def run_pytest(suite, args, cwd, pythonpath=None):
    """Run pytest in ``cwd`` (.run/: what plugins drop in the working directory stays out of the clone)."""
    junit = RUN / f"junit-{suite.name}.xml"
    junit.unlink(missing_ok=True)
    cmd = [str(venv_python()), "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}", *map(str, args)]
    step(f"{suite.name} suite: python {' '.join(cmd[1:])}")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, env=env, check=False)
    parse_junit(junit, suite)
    if proc.returncode == 1 and not suite.failed:
        suite.fail("pytest reported failures but the junit report shows none")
    elif proc.returncode not in (0, 1):
        suite.fail(PYTEST_EXIT.get(proc.returncode, f"pytest exited with code {proc.returncode}"))
    return suite


# ---------------------------------------------------------------------------
# suites
# ---------------------------------------------------------------------------
def engine_suite(timings):
    suite = Suite("engine")
    with timings.phase("engine suite"):
        start = time.monotonic()
        if not (REPO / "tests_engine").is_dir():
            suite.fail("tests_engine/ does not exist")
        else:
            # rootdir tests_engine/: the repository root is an add-on package that imports odoo
            run_pytest(suite, ["-p", "no:odoo", f"--rootdir={REPO / 'tests_engine'}", REPO / "tests_engine"], cwd=RUN)
        suite.seconds = time.monotonic() - start
    return suite


BROWSER_TESTS = "test_ui_*.py"
CHROME_NAMES = ("chromium", "google-chrome", "chromium-browser", "google-chrome-stable")  # as Odoo looks them up


def find_chrome():
    """Return ``(path, None)`` or ``(None, reason)``; installs Debian's ``chromium`` when root."""
    found = next((which(name) for name in CHROME_NAMES if which(name)), None)
    if not found:
        apt_install(["chromium"], log=LOGS / "setup.log")
        found = which("chromium")
    if found:
        return found, None
    return None, "no Chromium found for Odoo's tours (install Debian's chromium package; not root: not installed)"


def pytest_odoo_args(link, *extra):
    return [
        "-c",
        TOOLS / "pytest-odoo.ini",
        f"--rootdir={link}",
        "-p",
        "outlook_odoo_quiet",
        f"--odoo-config={TEST_CONF}",
        f"--odoo-database={TEST_DB}",
        "--odoo-http",
        "--odoo-log-level=warn",
        *extra,
    ]


def browser_suite(link, timings):
    suite = Suite("browser")
    tests = sorted((link / "tests").glob(BROWSER_TESTS))
    if not tests:
        return suite.skip(f"no tests/{BROWSER_TESTS} yet")
    chrome, reason = find_chrome()
    if not chrome:
        return suite.skip(reason)
    start = time.monotonic()
    with timings.phase("browser suite"):
        # through the symlink, as the odoo suite: pytest-odoo maps files to odoo.addons.<addon>.tests.*
        run_pytest(suite, pytest_odoo_args(link, *tests), cwd=RUN, pythonpath=TOOLS / "pytest_plugins")
    suite.seconds = time.monotonic() - start
    if suite.skipped and not suite.passed:
        suite.fail("every browser test was skipped (Chromium or websocket-client unusable?)")
    return suite


def odoo_suites(plan, timings):
    """The odoo and browser suites, which share one PostgreSQL cluster and one fresh database."""
    suite, browser = Suite("odoo"), Suite("browser")
    if not plan["odoo_dir"]:
        return [suite.skip(plan["no_odoo_reason"]), browser.skip(plan["no_odoo_reason"])]
    bindir, reason = ensure_binaries()
    if not bindir:
        return [suite.skip(reason), browser.skip(reason)]
    cluster = Cluster(bindir)
    start = time.monotonic()
    try:
        with timings.phase("postgres start"):
            cluster.start()
        link = odoo_env.link_addon()
        odoo_env.write_config(TEST_CONF, plan, cluster)
        with timings.phase("odoo install"):
            odoo_env.drop_database(cluster, TEST_DB)
            ok, problems = odoo_env.install_addon(TEST_CONF, TEST_DB, cluster, LOGS / "odoo-test-install.log")
            if not ok:
                warn(f"installing {ADDON_NAME} failed:")
                for block in problems:
                    say(block)
                browser.skip("the add-on did not install")
                return [suite.fail(f"installing {ADDON_NAME} failed ({len(problems)} problem(s), see above)"), browser]
            odoo_env.addon_warnings(LOGS / "odoo-test-install.log")
        with timings.phase("odoo suite"):
            # through the symlink: pytest-odoo maps files to odoo.addons.<addon>.tests.*
            args = pytest_odoo_args(link, f"--ignore-glob=*/tests/{BROWSER_TESTS}", link / "tests")
            run_pytest(suite, args, cwd=RUN, pythonpath=TOOLS / "pytest_plugins")
        suite.seconds = time.monotonic() - start
        browser = browser_suite(link, timings)
    except (CommandError, RuntimeError) as exc:
        suite.fail(str(exc))
    finally:
        suite.seconds = suite.seconds or time.monotonic() - start
        if cluster.started_here:
            ignore_signals()  # a second Ctrl-C must not leave the server running
        with timings.phase("postgres stop"):
            cluster.stop_if_started_here()
    return [suite, browser]


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def report(suites, timings, plan, setup_error=None):
    summary = {
        "suites": {s.name: s.as_json() for s in suites},
        "errors": {s.name: s.error for s in suites if s.error},
        "timings": {name: round(sec, 2) for name, sec in timings.phases.items()},
        "odoo": {key: (plan or {}).get(src) for key, src in ODOO_INFO_KEYS},
    }
    if setup_error:
        summary["errors"]["setup"] = setup_error
    write_json(SUMMARY, summary)
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed for s in suites) + (1 if setup_error else 0)
    skipped = sum(s.skipped for s in suites)
    say()
    say("=" * 30 + " outlook_calendar_sync: test summary " + "=" * 30)
    say(f"{'suite':<8} {'passed':>7} {'failed':>7} {'skipped':>8}  {'time':>8}  result")
    for s in suites:
        say(f"{s.name:<8} {s.passed:>7} {s.failed:>7} {s.skipped:>8}  {fmt_seconds(s.seconds):>8}  {s.status}")
    say("timings: " + " | ".join(f"{k} {fmt_seconds(v)}" for k, v in timings.phases.items()))
    say(f"written: {SUMMARY.relative_to(REPO)}")
    if setup_error:
        say(f"setup: FAILED — {setup_error}")
    for s in suites:
        if s.error:
            say(f"{s.name} suite: FAILED — {s.error}")
        elif s.skip_reason:
            say(f"{s.name} suite: SKIPPED — {s.skip_reason}")
    say(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


def main():
    RUN.mkdir(exist_ok=True)
    timings = Timings()
    plan = None
    with timings.phase("setup"):
        try:
            plan = bootstrap.ensure()
        except bootstrap.SetupError as exc:
            warn(f"setup failed: {exc}")
            suites = [Suite(name).skip("setup failed") for name in ("engine", "odoo", "browser")]
            setup_error = str(exc)
    if plan is None:
        return report(suites, timings, plan, setup_error)
    suites = [engine_suite(timings)]
    try:
        suites.extend(odoo_suites(plan, timings))
    except (KeyboardInterrupt, Terminated):
        report(suites + [Suite("odoo").fail("interrupted")], timings, plan)
        raise
    return report(suites, timings, plan)


if __name__ == "__main__":
    exit_on_interrupt(main)
