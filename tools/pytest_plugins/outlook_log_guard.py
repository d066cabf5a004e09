"""pytest plugin: no credential the emulator issued may appear in any log record of the run.

Loaded by the Odoo suites through ``outlook_odoo_quiet`` (``tools/run_tests.py`` passes ``-p outlook_odoo_quiet``);
it needs neither Odoo nor the add-on, so ``tests_engine/test_log_guard.py`` runs it in a suite of its own to prove
it fails a run that leaks.

What is checked: every log record of every logger, at INFO and above (``odoo`` and ``werkzeug`` are lowered to INFO
for that while the console keeps the level the run asked for), from every thread (the HTTP server's, the
emulator's), including the records a test muted (``mute_logger``) or captured (``assertLogs``): they would be written
in production. It looks at the record as handlers receive it: after the filters of its logger (the add-on's
redaction of Odoo's SQL, werkzeug and http loggers, ``graph/redact.py``) and before the handlers' own filters, so the
handler-level backstop of that redaction never hides a leak from the guard.

What is looked for: what the emulators of this process issued (``emulator/issued.py``): authorization codes,
access, refresh and ID tokens (their payload and signature), and registered client secrets, also percent-encoded.

A hit fails the test during which it was logged (an error in its teardown, naming the logger, the level and the
line with the secret replaced; what pytest prints of a failed test, its captured log and traceback, is scrubbed
the same way); a hit outside any test fails the run at its end. A self-check that logs a secret
on purpose wraps it in ``GUARD.expect_leak()``, which fails unless the guard caught it.
"""

import contextlib
import logging
import re
import sys
import threading
from urllib.parse import quote, quote_plus

import pytest

REGISTRY_MODULES = ("odoo.addons.outlook_calendar_sync.emulator.issued", "emulator.issued")
WINDOW = 12  # a fragment of a secret is found by its first WINDOW characters, then compared whole
RUNS = re.compile(rf"[A-Za-z0-9_-]{{{WINDOW},}}")
FRAGMENT = re.compile(r"[A-Za-z0-9_-]+")
LINE_MAX = 400  # characters of a finding's line shown
GUARDED_LOGGERS = ("odoo", "werkzeug")  # lowered to INFO so that their INFO lines are checked too


def fragments(kind, value):
    """The pieces of ``value`` a log line cannot contain by chance: its dot-separated parts of WINDOW characters or
    more (a JWT's header is the same for every ID token: only its payload and signature count). ``[]`` when the
    value has other characters or is short: it is then looked for as a plain substring."""
    parts = value.split(".")
    if kind == "id_token" and len(parts) == 3:
        parts = parts[1:]
    if not all(FRAGMENT.fullmatch(part) for part in parts if part):
        return []
    return [part for part in parts if len(part) >= WINDOW]


class SecretIndex:
    """Every value the emulators issued so far, searchable in a text in one pass over its token-like runs."""

    def __init__(self):
        self._by_prefix = {}  # first WINDOW characters of a fragment: [(fragment, kind)]
        self._plain = []  # (kind, forms of the value: raw, percent-encoded)
        self._registries = []
        self._modules_seen = 0
        self._read = {}  # id(registry): items already indexed

    def refresh(self):
        if len(sys.modules) != self._modules_seen:
            self._modules_seen = len(sys.modules)
            found = [sys.modules[name] for name in REGISTRY_MODULES if name in sys.modules]
            self._registries = [module.ISSUED for module in found if hasattr(module, "ISSUED")]
        for registry in self._registries:
            start = self._read.get(id(registry), 0)
            items = registry.since(start)
            self._read[id(registry)] = start + len(items)
            for kind, value in items:
                self.add(kind, value)

    def add(self, kind, value):
        pieces = fragments(kind, value)
        for piece in pieces:
            self._by_prefix.setdefault(piece[:WINDOW], []).append((piece, kind))
        if not pieces:
            self._plain.append((kind, {value, quote(value, safe=""), quote_plus(value)}))

    def find(self, text):
        """``[(fragment or value found, kind)]`` in ``text``."""
        hits = []
        if self._by_prefix:
            for match in RUNS.finditer(text):
                run = match.group()
                for start in range(len(run) - WINDOW + 1):
                    for piece, kind in self._by_prefix.get(run[start : start + WINDOW], ()):
                        if run.startswith(piece, start):
                            hits.append((piece, kind))
        for kind, forms in self._plain:
            hits.extend((form, kind) for form in forms if form and form in text)
        return hits


def record_text(record):
    """What handlers would write of ``record``: its message, traceback and stack (without changing the record)."""
    try:
        text = record.getMessage()
    except Exception as exc:  # noqa: BLE001 - a malformed record: check what it holds
        text = f"{record.msg!r} % {record.args!r} ({exc})"
    if record.exc_text:
        text += "\n" + record.exc_text
    elif record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


class ConsoleLevels(logging.Filter):
    """On the handlers the run configured: keep below the level a guarded logger was lowered from only what its
    own configuration already let through (the console shows what it showed before the guard)."""

    def __init__(self, levels):
        super().__init__()
        self.levels = levels

    def filter(self, record):
        name = record.name
        while name:
            if name in self.levels:
                return record.levelno >= self.levels[name]
            logger = logging.Logger.manager.loggerDict.get(name)
            if isinstance(logger, logging.Logger) and logger.level:
                return True  # this logger's own level let the record through
            name = name.rpartition(".")[0]
        return True


def excerpt(text):
    """``text``, or LINE_MAX characters of it around its first replaced secret."""
    if len(text) <= LINE_MAX:
        return text
    start = max(0, text.find(" issued by the emulator>") - LINE_MAX // 2)
    return ("..." if start else "") + text[start : start + LINE_MAX] + "..."


class LogSecretGuard:
    def __init__(self):
        self.index = SecretIndex()
        self.findings = []  # dicts: test, logger, level, line, kinds
        self.lock = threading.RLock()
        self.current_test = None
        self._expecting = {}  # thread id: the list an expect_leak() block collects into
        self._original_call_handlers = None
        self._console = None
        self._lowered = {}

    # ------------------------------------------------------------ capture
    def install(self):
        if self._original_call_handlers is not None:
            return
        for name in GUARDED_LOGGERS:
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() > logging.INFO:
                self._lowered[name] = logger.level
                logger.setLevel(logging.INFO)
        self._console = ConsoleLevels(
            {name: level or logging.getLogger().level for name, level in self._lowered.items()}
        )
        for handler in logging.getLogger().handlers:
            handler.addFilter(self._console)
        original = self._original_call_handlers = logging.Logger.callHandlers
        guard = self

        def call_handlers(logger, record):
            if record.levelno >= logging.INFO:
                guard.observe(record)
            return original(logger, record)

        logging.Logger.callHandlers = call_handlers

    def uninstall(self):
        if self._original_call_handlers is None:
            return
        logging.Logger.callHandlers = self._original_call_handlers
        self._original_call_handlers = None
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self._console)
        for name, level in self._lowered.items():
            logging.getLogger(name).setLevel(level)
        self._lowered = {}

    def observe(self, record):
        try:
            with self.lock:
                self.index.refresh()
                text = record_text(record)
                hits = self.index.find(text)
                if not hits:
                    return
                for found, kind in sorted(set(hits), key=lambda hit: -len(hit[0])):
                    text = text.replace(found, f"<{kind} issued by the emulator>")
                finding = {
                    "test": self.current_test,
                    "logger": record.name,
                    "level": record.levelname,
                    "line": excerpt(text),
                    "kinds": sorted({kind for _found, kind in hits}),
                }
                expecting = self._expecting.get(threading.get_ident())
                (expecting if expecting is not None else self.findings).append(finding)
        except Exception:  # noqa: BLE001 - the guard must never break logging itself
            return

    def scrub(self, text):
        """``text`` with every issued value in it replaced (pytest's report of a test prints its captured log)."""
        with self.lock:
            self.index.refresh()
            for found, kind in sorted(set(self.index.find(text)), key=lambda hit: -len(hit[0])):
                text = text.replace(found, f"<{kind} issued by the emulator>")
        return text

    @contextlib.contextmanager
    def expect_leak(self):
        """Within this block, this thread's findings are expected (a self-check logs a secret on purpose); the block
        fails unless at least one was found. :return: the list of those findings"""
        caught = []
        with self.lock:
            self._expecting[threading.get_ident()] = caught
        try:
            yield caught
        finally:
            with self.lock:
                self._expecting.pop(threading.get_ident(), None)
        if not caught:
            raise AssertionError("the log guard did not catch the secret logged on purpose")

    def take(self, since):
        with self.lock:
            return self.findings[since:]


GUARD = LogSecretGuard()


def describe(findings):
    lines = [f"{len(findings)} log line(s) hold a credential the emulator issued:"]
    for finding in findings:
        where = f" (during {finding['test']})" if finding["test"] else ""
        lines.append(f"- {finding['logger']} {finding['level']}{where}: {finding['line']}")
    return "\n".join(lines)


def pytest_configure(config):
    GUARD.install()
    config.outlook_log_guard_reported = 0


def pytest_unconfigure(config):
    GUARD.uninstall()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    GUARD.current_test = item.nodeid
    yield
    GUARD.current_test = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The teardown report of each test fails with the findings logged since the previous test's (its own, and any
    logged between the two tests: a class set-up, a request still running)."""
    outcome = yield
    report = outcome.get_result()
    # what pytest prints of a test (its captured log and output, a failure's traceback) shows raw values: scrubbed
    report.sections = [(title, GUARD.scrub(content)) for title, content in report.sections]
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = GUARD.scrub(text)
        if clean != text:
            report.longrepr = clean
    if call.when != "teardown":
        return
    leaks = GUARD.take(item.config.outlook_log_guard_reported)
    item.config.outlook_log_guard_reported += len(leaks)
    if leaks:
        report.outcome = "failed"
        report.longrepr = describe(leaks)


def pytest_sessionfinish(session, exitstatus):
    leftover = GUARD.take(session.config.outlook_log_guard_reported)
    if not leftover:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(describe(leftover), red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
