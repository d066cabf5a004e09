#!/usr/bin/env python3
"""``make test``: set up what is missing, run every suite, print a summary, write ``.run/test-summary.json``.

Suites:
* ``engine`` — ``tests_engine/`` with plain pytest (``-p no:odoo``), no Odoo needed.
* ``odoo``   — the add-on's ``tests/`` with pytest-odoo in a real Odoo on a private PostgreSQL cluster, after a
  fresh install of the add-on in database ``outlook_test``. Skipped (with the reason) when no Odoo is found
  or PostgreSQL is missing and cannot be installed.
* ``browser`` — the add-on's ``tests/test_ui_*.py`` (Odoo tours in headless Chromium) on the same database;
  Chromium comes from Debian's ``chromium`` package (installed when root). Skipped with the reason otherwise.
* ``queue_job`` — ``tests/test_queue_job.py`` in a second database where OCA ``queue_job`` (pip package
  ``odoo-addon-queue_job``, put in ``.run/queue_job`` with ``pip install --target``) is installed next to the
  add-on: the cron hands mailboxes to queue jobs. Skipped with the reason when pip cannot get it.

Selecting tests while working (``make test ARGS="tests/test_access.py tests_engine/test_mapping.py::test_x"``):
only the given files or pytest node ids run, each in its own suite; the suites none of them belongs to are
reported skipped ("not selected"). CI runs everything.

Exit status: 0 when no suite failed (skipped suites do not fail the run), 1 otherwise.
"""

import argparse
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
    free_port,
    ignore_signals,
    run,
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
QUEUE_JOB_DB = "outlook_test_queue_job"
QUEUE_JOB_CONF = RUN / "odoo-test-queue-job.conf"
QUEUE_JOB_TARGET = RUN / "queue_job"  # pip install --target: the add-on lands in odoo/addons/queue_job
QUEUE_JOB_REQUIREMENT = "odoo-addon-queue_job>=18.0,<18.1"
QUEUE_JOB_TESTS = "test_queue_job.py"
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
class Selection:
    """The tests named on the command line, by suite; ``None`` for a suite means all of its tests."""

    def __init__(self, names=()):
        self.names = list(names)

    def _of(self, folder, pattern=None):
        picked = []
        for name in self.names:
            path = name.split("::", 1)[0]
            parts = Path(path).parts
            if parts and parts[0] == folder and (pattern is None or Path(path).match(pattern)):
                picked.append(name)
        return picked

    def pick(self, folder, base, pattern=None, exclude=None):
        """``(pytest arguments, None)`` for this suite, or ``(None, skip reason)`` when nothing of it was named."""
        if not self.names:
            return None, None
        picked = [n for n in self._of(folder, pattern) if not (exclude and Path(n.split("::", 1)[0]).match(exclude))]
        if not picked:
            return [], "not selected on the command line"
        return [f"{base}/{name.split('/', 1)[1]}" for name in picked], None


SELECTION = Selection()


def engine_suite(timings):
    suite = Suite("engine")
    picked, reason = SELECTION.pick("tests_engine", REPO / "tests_engine")
    if reason:
        return suite.skip(reason)
    with timings.phase("engine suite"):
        start = time.monotonic()
        if not (REPO / "tests_engine").is_dir():
            suite.fail("tests_engine/ does not exist")
        else:
            # rootdir tests_engine/: the repository root is an add-on package that imports odoo
            targets = picked or [REPO / "tests_engine"]
            run_pytest(suite, ["-p", "no:odoo", f"--rootdir={REPO / 'tests_engine'}", *targets], cwd=RUN)
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


def pytest_odoo_args(link, *extra, conf=TEST_CONF, db=TEST_DB):
    return [
        "-c",
        TOOLS / "pytest-odoo.ini",
        f"--rootdir={link}",
        "-p",
        "outlook_odoo_quiet",
        f"--odoo-config={conf}",
        f"--odoo-database={db}",
        "--odoo-http",
        "--odoo-log-level=warn",
        *extra,
    ]


def browser_suite(link, timings):
    suite = Suite("browser")
    tests = sorted((link / "tests").glob(BROWSER_TESTS))
    if not tests:
        return suite.skip(f"no tests/{BROWSER_TESTS} yet")
    picked, reason = SELECTION.pick("tests", link / "tests", pattern=BROWSER_TESTS)
    if reason:
        return suite.skip(reason)
    tests = picked or tests
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


def ensure_queue_job():
    """Return ``(addons folder holding queue_job, None)`` or ``(None, reason)``."""
    addons = QUEUE_JOB_TARGET / "odoo" / "addons"
    if (addons / "queue_job" / "__manifest__.py").is_file():
        return addons, None
    log = LOGS / "setup.log"
    step(f"pip install --no-deps --target {QUEUE_JOB_TARGET.relative_to(REPO)} '{QUEUE_JOB_REQUIREMENT}'")
    cmd = [str(venv_python()), "-m", "pip", "install", "--no-deps", "--upgrade", "--target", str(QUEUE_JOB_TARGET)]
    try:
        run([*cmd, QUEUE_JOB_REQUIREMENT], log=log, quiet=True, timeout=300)
    except (CommandError, OSError, subprocess.TimeoutExpired) as exc:
        return None, f"OCA queue_job could not be installed with pip ({exc}); see {log.relative_to(REPO)}"
    if not (addons / "queue_job" / "__manifest__.py").is_file():
        return None, f"pip installed {QUEUE_JOB_REQUIREMENT} but {addons}/queue_job is missing"
    return addons, None


def queue_job_suite(plan, cluster, link, timings):
    suite = Suite("queue_job")
    if not (link / "tests" / QUEUE_JOB_TESTS).is_file():
        return suite.skip(f"no tests/{QUEUE_JOB_TESTS}")
    picked, reason = SELECTION.pick("tests", link / "tests", pattern=QUEUE_JOB_TESTS)
    if reason:
        return suite.skip(reason)
    addons, reason = ensure_queue_job()
    if not addons:
        return suite.skip(reason)
    start = time.monotonic()
    odoo_env.write_config(
        QUEUE_JOB_CONF, plan, cluster, addons_path=f"{odoo_env.addons_path(plan)},{addons}", **test_ports()
    )
    with timings.phase("queue_job install"):
        odoo_env.drop_database(cluster, QUEUE_JOB_DB)
        ok, problems = odoo_env.install_addon(
            QUEUE_JOB_CONF, QUEUE_JOB_DB, cluster, LOGS / "odoo-test-queue-job-install.log", extra_modules=["queue_job"]
        )
    if not ok:
        for block in problems:
            say(block)
        return suite.fail(f"installing {ADDON_NAME} with queue_job failed ({len(problems)} problem(s), see above)")
    with timings.phase("queue_job suite"):
        targets = picked or [link / "tests" / QUEUE_JOB_TESTS]
        args = pytest_odoo_args(link, *targets, conf=QUEUE_JOB_CONF, db=QUEUE_JOB_DB)
        run_pytest(suite, args, cwd=RUN, pythonpath=TOOLS / "pytest_plugins")
    suite.seconds = time.monotonic() - start
    if suite.skipped and not suite.passed:
        suite.fail("every queue_job test was skipped although queue_job is installed")
    odoo_env.drop_database(cluster, QUEUE_JOB_DB)
    return suite


def test_ports():
    """Free ports for the test HTTP server: two checkouts (or a demo) can run their suites side by side."""
    return {"http_port": free_port(), "gevent_port": free_port()}


def odoo_suites(plan, timings):
    """The odoo, browser and queue_job suites, which share one PostgreSQL cluster (the first two one fresh
    database, the last its own)."""
    suite, browser, queue_job = Suite("odoo"), Suite("browser"), Suite("queue_job")
    if not plan["odoo_dir"]:
        return [
            suite.skip(plan["no_odoo_reason"]),
            browser.skip(plan["no_odoo_reason"]),
            queue_job.skip(plan["no_odoo_reason"]),
        ]
    if SELECTION.names and not SELECTION.pick("tests", "tests")[0]:
        reason = "not selected on the command line"
        return [suite.skip(reason), browser.skip(reason), queue_job.skip(reason)]
    bindir, reason = ensure_binaries()
    if not bindir:
        return [suite.skip(reason), browser.skip(reason), queue_job.skip(reason)]
    cluster = Cluster(bindir)
    start = time.monotonic()
    try:
        with timings.phase("postgres start"):
            cluster.start()
        link = odoo_env.link_addon()
        odoo_env.write_config(TEST_CONF, plan, cluster, **test_ports())
        with timings.phase("odoo install"):
            odoo_env.drop_database(cluster, TEST_DB)
            ok, problems = odoo_env.install_addon(TEST_CONF, TEST_DB, cluster, LOGS / "odoo-test-install.log")
            if not ok:
                warn(f"installing {ADDON_NAME} failed:")
                for block in problems:
                    say(block)
                browser.skip("the add-on did not install")
                queue_job.skip("the add-on did not install")
                failed = suite.fail(f"installing {ADDON_NAME} failed ({len(problems)} problem(s), see above)")
                return [failed, browser, queue_job]
            odoo_env.addon_warnings(LOGS / "odoo-test-install.log")
        picked, reason = SELECTION.pick("tests", link / "tests", exclude=BROWSER_TESTS)
        if reason:
            suite.skip(reason)
        else:
            with timings.phase("odoo suite"):
                # through the symlink: pytest-odoo maps files to odoo.addons.<addon>.tests.*
                targets = picked or [link / "tests"]
                args = pytest_odoo_args(link, f"--ignore-glob=*/tests/{BROWSER_TESTS}", *targets)
                run_pytest(suite, args, cwd=RUN, pythonpath=TOOLS / "pytest_plugins")
        suite.seconds = time.monotonic() - start
        browser = browser_suite(link, timings)
        queue_job = queue_job_suite(plan, cluster, link, timings)
    except (CommandError, RuntimeError) as exc:
        suite.fail(str(exc))
    finally:
        suite.seconds = suite.seconds or time.monotonic() - start
        if cluster.started_here:
            ignore_signals()  # a second Ctrl-C must not leave the server running
        with timings.phase("postgres stop"):
            cluster.stop_if_started_here()
    return [suite, browser, queue_job]


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
    say(f"{'suite':<9} {'passed':>7} {'failed':>7} {'skipped':>8}  {'time':>8}  result")
    for s in suites:
        say(f"{s.name:<9} {s.passed:>7} {s.failed:>7} {s.skipped:>8}  {fmt_seconds(s.seconds):>8}  {s.status}")
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
    parser = argparse.ArgumentParser(description="Set up what is missing and run the test suites.")
    parser.add_argument("tests", nargs="*", help="only these test files or node ids (tests/..., tests_engine/...)")
    SELECTION.names = parser.parse_args().tests
    RUN.mkdir(exist_ok=True)
    timings = Timings()
    plan = None
    with timings.phase("setup"):
        try:
            plan = bootstrap.ensure()
        except bootstrap.SetupError as exc:
            warn(f"setup failed: {exc}")
            suites = [Suite(name).skip("setup failed") for name in ("engine", "odoo", "browser", "queue_job")]
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
