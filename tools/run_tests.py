#!/usr/bin/env python3
"""``make test``: set up what is missing, run every suite on every Odoo major found, print a summary, write
``.run/test-summary.json``.

Suites:
* ``engine`` — ``tests_engine/`` with plain pytest (``-p no:odoo``), no Odoo needed; runs once.
* per Odoo major (18, 19), each in a process of its own (``OUTLOOK_ODOO_MAJOR``) with its own venv (``.venv``,
  ``.venv-19``) and its own PostgreSQL cluster (``.run/pg``, ``.run/pg-19``), reported as ``odoo@18``, ``odoo@19``:
  * ``odoo``   — the add-on's ``tests/`` with pytest-odoo in a real Odoo, after a fresh install of the add-on in
    database ``outlook_test``.
  * ``browser`` — the add-on's ``tests/test_ui_*.py`` (Odoo tours in headless Chromium) on the same database;
    Chromium comes from Debian's ``chromium`` package (installed when root). Skipped with the reason otherwise.
  * ``queue_job`` — ``tests/test_queue_job.py`` in a second database where OCA ``queue_job`` (pip package
    ``odoo-addon-queue_job`` of that major, put in ``.run/queue_job`` with ``pip install --target``) is installed
    next to the add-on: the cron hands mailboxes to queue jobs. Skipped with the reason when pip cannot get it.
  * ``calendar_core`` — Odoo's own ``calendar`` tests (pytest-odoo on the calendar add-on's ``tests/``) on the
    database where our add-on is installed: our overrides must not break Odoo's calendar.
  A major with no Odoo on this machine is reported skipped, with why (``ODOO19_SRC`` unset, no python3.N on PATH
  imports it). Odoo is found through ``ODOO<major>_SRC`` / ``ODOO_SRC`` or an interpreter that imports ``odoo``
  (tools/bootstrap.py). ``--odoo 19`` (``make test ODOO=19``) runs only that major.

Selecting tests while working (``make test ARGS="tests/test_access.py tests_engine/test_mapping.py::test_x"``):
only the given files or pytest node ids run, each in its own suite (on each major); the suites none of them belongs
to are reported skipped ("not selected"). CI runs everything.

Exit status: 0 when no suite failed (skipped suites do not fail the run), 1 otherwise.
"""

import argparse
import ast
import os
import signal
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
    MAJOR,
    REPO,
    RUN,
    SUFFIX,
    SUPPORTED_MAJORS,
    CommandError,
    Terminated,
    Timings,
    apt_install,
    exit_on_interrupt,
    fmt_seconds,
    free_port,
    ignore_signals,
    read_json,
    run,
    say,
    step,
    stop_process,
    tagged,
    venv_python,
    warn,
    which,
    write_json,
)
from pgcluster import Cluster, ensure_binaries  # noqa: E402

TOOLS = REPO / "tools"
ODOO_INFO_KEYS = (("mode", "mode"), ("version", "odoo_version"), ("dir", "odoo_dir"))
SUMMARY = RUN / "test-summary.json"
MAJOR_RESULT = RUN / f"test-summary-odoo{MAJOR}.json"  # what the process of one major hands back
ODOO_SUITES = ("odoo", "browser", "queue_job", "calendar_core")
TEST_DB = "outlook_test"
TEST_CONF = RUN / f"{tagged('odoo-test')}.conf"
INSTALL_LOG = LOGS / f"{tagged('odoo-test-install')}.log"
QUEUE_JOB_DB = "outlook_test_queue_job"
QUEUE_JOB_CONF = RUN / f"{tagged('odoo-test-queue-job')}.conf"
QUEUE_JOB_LOG = LOGS / f"{tagged('odoo-test-queue-job-install')}.log"
QUEUE_JOB_TARGET = RUN / tagged("queue_job")  # pip install --target: the add-on lands in odoo/addons/queue_job
QUEUE_JOB_REQUIREMENT = f"odoo-addon-queue_job>={MAJOR}.0,<{MAJOR}.1"
QUEUE_JOB_TESTS = "test_queue_job.py"
SETUP_LOG = bootstrap.SETUP_LOG
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
        return {
            "name": self.name,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "skip_reason": self.skip_reason,
            "error": self.error,
            "seconds": round(self.seconds, 2) if self.seconds is not None else None,
        }


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
    junit = RUN / f"junit-{suite.name}{SUFFIX}.xml"
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
        apt_install(["chromium"], log=SETUP_LOG)
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
        return addons, ensure_python_dependencies(addons / "queue_job" / "__manifest__.py")
    log = SETUP_LOG
    step(f"pip install --no-deps --target {QUEUE_JOB_TARGET.relative_to(REPO)} '{QUEUE_JOB_REQUIREMENT}'")
    cmd = [str(venv_python()), "-m", "pip", "install", "--no-deps", "--upgrade", "--target", str(QUEUE_JOB_TARGET)]
    try:
        run([*cmd, QUEUE_JOB_REQUIREMENT], log=log, quiet=True, timeout=300)
    except (CommandError, OSError, subprocess.TimeoutExpired) as exc:
        return None, f"OCA queue_job could not be installed with pip ({exc}); see {log.relative_to(REPO)}"
    if not (addons / "queue_job" / "__manifest__.py").is_file():
        return None, f"pip installed {QUEUE_JOB_REQUIREMENT} but {addons}/queue_job is missing"
    reason = ensure_python_dependencies(addons / "queue_job" / "__manifest__.py")
    return (None, reason) if reason else (addons, None)


def ensure_python_dependencies(manifest):
    """pip install into the venv the ``external_dependencies`` of an add-on that the venv lacks (queue_job 19.0
    needs ``openupgradelib``), keeping every package already there; the reason it failed, or None."""
    wanted = ast.literal_eval(manifest.read_text(encoding="utf-8")).get("external_dependencies", {}).get("python", [])
    check = "import importlib.metadata as md, sys\nfor name in sys.argv[1:]:\n    md.distribution(name)"
    missing = [name for name in wanted if run([venv_python(), "-c", check, name], quiet=True, check=False).returncode]
    if not missing:
        return None
    constraints = RUN / tagged("queue_job-constraints.txt")
    bootstrap.freeze_constraints(constraints)
    step(f"pip install {' '.join(missing)} (external dependencies of {manifest.parent.name})")
    try:
        bootstrap.pip("install", *missing, "-c", constraints)
    except CommandError as exc:
        return f"{manifest.parent.name} needs {', '.join(missing)}, which pip could not install ({exc})"
    return None


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
            QUEUE_JOB_CONF, QUEUE_JOB_DB, cluster, QUEUE_JOB_LOG, extra_modules=["queue_job"]
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


def calendar_tests_dir(plan):
    """The ``tests`` folder of Odoo's own ``calendar`` add-on in this Odoo, or None."""
    for folder in odoo_env.addons_path(plan).split(","):
        tests = Path(folder) / "calendar" / "tests"
        if (tests.parent / "__manifest__.py").is_file() and tests.is_dir():
            return tests
    return None


def calendar_core_suite(plan, timings):
    """Odoo's ``calendar`` tests on the database where our add-on is installed (``--no-calendar-core``: skipped)."""
    suite = Suite("calendar_core")
    if not CALENDAR_CORE["enabled"]:
        return suite.skip(CALENDAR_CORE["reason"])
    if SELECTION.names:
        return suite.skip("not selected on the command line (runs with the full suite)")
    tests = calendar_tests_dir(plan)
    if not tests:
        return suite.skip("this Odoo has no calendar/tests folder")
    start = time.monotonic()
    with timings.phase("calendar_core suite"):
        # rootdir: the calendar add-on, so that pytest-odoo maps its files to odoo.addons.calendar.tests.*
        args = pytest_odoo_args(tests.parent, tests)
        run_pytest(suite, args, cwd=RUN, pythonpath=TOOLS / "pytest_plugins")
    suite.seconds = time.monotonic() - start
    return suite


CALENDAR_CORE = {"enabled": True, "reason": None}


def odoo_suites(plan, timings):
    """The odoo, browser, queue_job and calendar_core suites of this major, which share one PostgreSQL cluster (the
    odoo, browser and calendar_core suites one fresh database, queue_job its own)."""
    suite, browser, queue_job, calendar_core = (Suite(name) for name in ODOO_SUITES)
    every = [suite, browser, queue_job, calendar_core]
    if not plan["odoo_dir"]:
        return [s.skip(plan["no_odoo_reason"]) for s in every]
    if SELECTION.names and not SELECTION.pick("tests", "tests")[0]:
        return [s.skip("not selected on the command line") for s in every]
    bindir, reason = ensure_binaries()
    if not bindir:
        return [s.skip(reason) for s in every]
    cluster = Cluster(bindir, name=tagged("pg"))
    start = time.monotonic()
    try:
        with timings.phase("postgres start"):
            cluster.start()
        link = odoo_env.link_addon()
        odoo_env.write_config(TEST_CONF, plan, cluster, **test_ports())
        with timings.phase("odoo install"):
            odoo_env.drop_database(cluster, TEST_DB)
            ok, problems = odoo_env.install_addon(TEST_CONF, TEST_DB, cluster, INSTALL_LOG)
            if not ok:
                warn(f"installing {ADDON_NAME} failed:")
                for block in problems:
                    say(block)
                for other in (browser, queue_job, calendar_core):
                    other.skip("the add-on did not install")
                failed = suite.fail(f"installing {ADDON_NAME} failed ({len(problems)} problem(s), see above)")
                return [failed, browser, queue_job, calendar_core]
            odoo_env.addon_warnings(INSTALL_LOG)
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
        calendar_core = calendar_core_suite(plan, timings)
        queue_job = queue_job_suite(plan, cluster, link, timings)
    except (CommandError, RuntimeError) as exc:
        suite.fail(str(exc))
    finally:
        suite.seconds = suite.seconds or time.monotonic() - start
        if cluster.started_here:
            ignore_signals()  # a second Ctrl-C must not leave the server running
        with timings.phase("postgres stop"):
            cluster.stop_if_started_here()
    return [suite, browser, queue_job, calendar_core]


# ---------------------------------------------------------------------------
# one process per Odoo major
# ---------------------------------------------------------------------------
def major_main(opts):
    """The Odoo suites of this process's major (``OUTLOOK_ODOO_MAJOR``): their results go to :data:`MAJOR_RESULT`."""
    timings = Timings()
    MAJOR_RESULT.unlink(missing_ok=True)
    result = {"suites": [], "timings": timings.phases, "odoo": None}
    try:
        with timings.phase("setup"):
            try:
                plan = bootstrap.ensure()
            except bootstrap.SetupError as exc:
                warn(f"setup failed: {exc}")
                result["suites"] = [Suite(name).fail(f"setup failed: {exc}").as_json() for name in ODOO_SUITES]
                return 1
        result["odoo"] = {key: plan.get(src) for key, src in ODOO_INFO_KEYS}
        suites = []
        try:
            suites = odoo_suites(plan, timings)
        except (KeyboardInterrupt, Terminated):
            suites = [Suite("odoo").fail("interrupted")]
            raise
        finally:
            result["suites"] = [s.as_json() for s in suites]
        return 1 if any(s.failed for s in suites) else 0
    finally:
        write_json(MAJOR_RESULT, result)


def run_major(major, opts, timings):
    """Run :func:`major_main` for ``major`` in a child process; its suites, named ``odoo@19`` etc."""
    result_file = RUN / f"test-summary-odoo{major}.json"
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--major-only", *opts.tests]
    if not CALENDAR_CORE["enabled"]:
        cmd.insert(3, "--no-calendar-core")
    say()
    step(
        f"Odoo {major}: the Odoo suites in their own process (venv {tagged('.venv', major)}, cluster "
        f".run/{tagged('pg', major)})"
    )
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=bootstrap.child_env(major), stdin=subprocess.DEVNULL)
    try:
        code = proc.wait()
    except (KeyboardInterrupt, Terminated):
        ignore_signals()  # the child got the Ctrl-C too: let it stop its PostgreSQL, then make sure it is gone
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop_process(proc, f"the Odoo {major} suites", first=signal.SIGTERM, grace=30)
        raise
    finally:
        timings.phases[f"odoo {major}"] = time.monotonic() - started
    data = read_json(result_file) or {}
    suites = []
    for item in data.get("suites") or []:
        suite = Suite(f"{item['name']}@{major}")
        suite.passed, suite.failed, suite.skipped = item["passed"], item["failed"], item["skipped"]
        suite.skip_reason, suite.error, suite.seconds = item["skip_reason"], item.get("error"), item.get("seconds")
        suites.append(suite)
    if not suites:
        suites = [Suite(f"odoo@{major}").fail(f"the Odoo {major} process ended without results (exit {code})")]
    for name, seconds in (data.get("timings") or {}).items():
        timings.phases[f"{name}@{major}"] = seconds
    return suites, data.get("odoo")


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def report(suites, timings, odoo, setup_error=None, skipped_majors=None):
    summary = {
        "suites": {s.name: s.as_json() for s in suites},
        "errors": {s.name: s.error for s in suites if s.error},
        "timings": {name: round(sec, 2) for name, sec in timings.phases.items()},
        "odoo": odoo,
        "skipped_majors": skipped_majors or {},
    }
    if setup_error:
        summary["errors"]["setup"] = setup_error
    write_json(SUMMARY, summary)
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed for s in suites) + (1 if setup_error else 0)
    skipped = sum(s.skipped for s in suites)
    width = max([5, *(len(s.name) for s in suites)])
    say()
    say("=" * 30 + " outlook_calendar_sync: test summary " + "=" * 30)
    say(f"{'suite':<{width}} {'passed':>7} {'failed':>7} {'skipped':>8}  {'time':>8}  result")
    for s in suites:
        say(f"{s.name:<{width}} {s.passed:>7} {s.failed:>7} {s.skipped:>8}  {fmt_seconds(s.seconds):>8}  {s.status}")
    say("timings: " + " | ".join(f"{k} {fmt_seconds(v)}" for k, v in timings.phases.items()))
    for major, info in sorted((odoo or {}).items()):
        if info:
            say(f"Odoo {major}: {info.get('version')} from {info.get('dir')} (mode {info.get('mode')})")
    for major, reason in sorted((skipped_majors or {}).items()):
        say(f"Odoo {major}: SKIPPED — {reason}")
    say(f"written: {SUMMARY.relative_to(REPO)}")
    if setup_error:
        say(f"setup: FAILED — {setup_error}")
    for s in suites:
        if s.error:
            say(f"{s.name} suite: FAILED — {s.error}")
        elif s.skip_reason and not (skipped_majors and s.name.rpartition("@")[2] in skipped_majors):
            say(f"{s.name} suite: SKIPPED — {s.skip_reason}")
    say(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


def parse_args():
    parser = argparse.ArgumentParser(description="Set up what is missing and run the test suites.")
    parser.add_argument("tests", nargs="*", help="only these test files or node ids (tests/..., tests_engine/...)")
    parser.add_argument(
        "--odoo", action="append", type=int, choices=SUPPORTED_MAJORS, help="only this Odoo major (repeatable)"
    )
    parser.add_argument(
        "--no-calendar-core", action="store_true", help="skip Odoo's own calendar tests (the calendar_core suites)"
    )
    parser.add_argument("--major-only", action="store_true", help=argparse.SUPPRESS)  # the child of run_major
    return parser.parse_args()


def main():
    opts = parse_args()
    SELECTION.names = opts.tests
    if opts.no_calendar_core:
        CALENDAR_CORE.update(enabled=False, reason="--no-calendar-core")
    RUN.mkdir(exist_ok=True)
    if opts.major_only:
        return major_main(opts)
    timings = Timings()
    with timings.phase("setup"):
        try:
            bootstrap.ensure()  # the first major's venv (or one without Odoo): the engine suite runs in it
            found, notes = bootstrap.discover(os.environ)
        except bootstrap.SetupError as exc:
            warn(f"setup failed: {exc}")
            suites = [Suite("engine").skip("setup failed")]
            return report(suites, timings, None, setup_error=str(exc))
    for note in notes:
        warn(note)
    suites = [engine_suite(timings)]
    odoo, skipped_majors = {}, {}
    try:
        for major in SUPPORTED_MAJORS:
            if opts.odoo and major not in opts.odoo:
                reason = f"not selected (--odoo {' --odoo '.join(map(str, opts.odoo))})"
            elif major not in found:
                reason = bootstrap.no_odoo_reason(major, found, notes)
            else:
                major_suites, odoo[str(major)] = run_major(major, opts, timings)
                suites.extend(major_suites)
                continue
            skipped_majors[str(major)] = reason
            suites.extend(Suite(f"{name}@{major}").skip(reason) for name in ODOO_SUITES)
    except (KeyboardInterrupt, Terminated):
        report(suites + [Suite("odoo").fail("interrupted")], timings, odoo, skipped_majors=skipped_majors)
        raise
    return report(suites, timings, odoo, skipped_majors=skipped_majors)


if __name__ == "__main__":
    exit_on_interrupt(main)
