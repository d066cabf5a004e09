"""The log-secret guard of the Odoo suites (tools/pytest_plugins/outlook_log_guard.py) fails a test run whose log
holds a credential the emulator issued, says where without printing it, and passes a clean one."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tools" / "pytest_plugins"
sys.path.insert(0, str(PLUGINS))

import outlook_log_guard as guard  # noqa: E402

CONFTEST = """
import logging

# as Odoo's --log-level=warn configures the loggers
logging.getLogger("odoo").setLevel(logging.WARNING)
logging.getLogger("werkzeug").setLevel(logging.WARNING)
"""

SUITE = """
import json, logging, os, threading
import pytest
from emulator import Emulator
from odoo_like import mute

@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.start()
        emulator.register_app("guard-test-app", "a-client-secret-of-the-app")
        emulator.add_mailbox("anna@contoso.test")
        yield emulator
        with open(os.environ["ISSUED_FILE"], "w") as out:
            json.dump(emulator.issued_secrets(), out)

def test_clean(emu):
    token = emu.issue_token("anna@contoso.test")
    logging.getLogger("odoo.addons.x").warning("a token of %d characters", len(token))

def test_leaks_at_info(emu):
    logging.getLogger("odoo.addons.x").info("token %s", emu.issue_token("anna@contoso.test"))

def test_leaks_from_another_thread_into_a_muted_logger(emu):
    token = emu.issue_token("anna@contoso.test")
    def log():
        with mute("werkzeug"):
            logging.getLogger("werkzeug").info('"GET /x/%s HTTP/1.1" 200 -', token)
    thread = threading.Thread(target=log)
    thread.start()
    thread.join()

def test_leaks_the_client_secret_and_fails_too(emu):
    logging.getLogger("urllib3").warning("client_secret=a-client-secret-of-the-app")
    assert False, "a failure of its own"

def test_clean_again(emu):
    logging.getLogger("odoo").error("nothing secret here")
"""

ODOO_LIKE = """
import contextlib, logging

@contextlib.contextmanager
def mute(name):
    # what odoo.tools.mute_logger does: the logger's handlers replaced by one that drops everything
    logger = logging.getLogger(name)
    saved = logger.handlers, logger.propagate
    logger.handlers, logger.propagate = [logging.NullHandler()], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved
"""


def run_suite(tmp_path, suite):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "odoo_like.py").write_text(ODOO_LIKE)
    (tmp_path / "test_suite.py").write_text(suite)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(ROOT), str(tmp_path)]),
        "ISSUED_FILE": str(tmp_path / "issued.json"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:odoo",
            "-p",
            "no:cacheprovider",
            "-p",
            "outlook_log_guard",
            "-rA",
            f"--rootdir={tmp_path}",
            str(tmp_path / "test_suite.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    issued = json.loads((tmp_path / "issued.json").read_text()) if (tmp_path / "issued.json").exists() else []
    return proc, proc.stdout + proc.stderr, [value for _kind, value in issued]


def test_a_run_that_leaks_fails_at_the_leaking_tests_only(tmp_path):
    proc, output, issued = run_suite(tmp_path, SUITE)
    assert proc.returncode == 1, output
    assert issued, output
    assert "PASSED test_suite.py::test_clean\n" in output
    assert "PASSED test_suite.py::test_clean_again\n" in output
    assert "ERROR test_suite.py::test_leaks_at_info" in output
    assert "ERROR test_suite.py::test_leaks_from_another_thread_into_a_muted_logger" in output
    assert "FAILED test_suite.py::test_leaks_the_client_secret_and_fails_too" in output
    assert "ERROR test_suite.py::test_leaks_the_client_secret_and_fails_too" in output
    assert (
        "- odoo.addons.x INFO (during test_suite.py::test_leaks_at_info): token <access_token issued by the emulator>"
        in output
    )
    assert "- werkzeug INFO" in output
    assert "- urllib3 WARNING" in output
    assert "client_secret=<client_secret issued by the emulator>" in output
    for value in issued:
        assert value not in output, "the guard's report (and pytest's captured log) must not print the secret"


def test_a_clean_run_passes(tmp_path):
    clean = SUITE.split("def test_leaks_at_info")[0]
    proc, output, _issued = run_suite(tmp_path, clean)
    assert proc.returncode == 0, output
    assert "1 passed" in output


# ---------------------------------------------------------------- its parts

urlsafe = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), min_size=40)
around = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(secret=urlsafe, prefix=st.sampled_from(["0.A", "1.A", "EwA", ""]), before=around, after=around)
def test_an_issued_token_is_found_wherever_it_stands(secret, prefix, before, after):
    index = guard.SecretIndex()
    value = prefix + secret
    index.add("refresh_token", value)
    found = index.find(before + value + after)
    assert found and all(kind == "refresh_token" for _piece, kind in found)


@given(text=st.text(max_size=400), secret=urlsafe)
def test_a_text_without_it_is_clean(text, secret):
    index = guard.SecretIndex()
    index.add("access_token", "EwA" + secret)
    if secret[: guard.WINDOW] not in text:
        assert index.find(text) == []


def test_the_console_keeps_the_level_the_run_asked_for():
    console = guard.ConsoleLevels({"odoo": logging.WARNING, "werkzeug": logging.WARNING})
    record = logging.LogRecord("odoo.addons.x", logging.INFO, __file__, 1, "line", (), None)
    assert not console.filter(record)
    record.levelno = logging.WARNING
    assert console.filter(record)
    assert console.filter(logging.LogRecord("urllib3", logging.INFO, __file__, 1, "line", (), None))
