"""Throttling and transient failures against the emulator (graph-reference C.2): Retry-After honoured,
long waits handed back to the sync, backoff, time-outs and dropped connections retried."""

import time

import pytest

from emulator import Emulator
from graph.client import CalendarClient
from graph.errors import Throttled
from graph.http import MAX_RETRY_AFTER, make_session

ANNA = "anna@contoso.test"
ME = "GET /v1.0/me"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA, display_name="Anna")
        yield emulator


@pytest.fixture()
def client(emu):
    emu.clear_faults()
    emu.reset_counters()
    token = emu.issue_token(ANNA)
    yield CalendarClient(make_session(emu.ca_path, timeout=5), emu.graph_url, lambda: token)
    emu.clear_faults()


def test_short_retry_after_is_honoured_inside_the_run(emu, client):
    emu.inject_fault("status", path=r"^/v1\.0/me$", status=429, retry_after=1, count=2)
    started = time.monotonic()
    assert client.me()["mail"] == ANNA
    assert time.monotonic() - started >= 2  # waited what Graph asked, twice
    assert emu.counters()["requests"][ME] == 3
    assert emu.counters()["status"]["429"] == 2


def test_long_retry_after_goes_back_to_the_sync(emu, client):
    emu.inject_fault("status", path=r"^/v1\.0/me$", status=429, retry_after=MAX_RETRY_AFTER + 90, count=1)
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        client.me()
    assert caught.value.retry_after == MAX_RETRY_AFTER + 90
    assert time.monotonic() - started < 5  # not slept: the mailbox is parked instead
    assert emu.counters()["requests"][ME] == 1


def test_server_errors_back_off_and_recover(emu, client):
    emu.inject_fault("status", path=r"^/v1\.0/me$", status=503, count=2)
    assert client.me()["mail"] == ANNA
    assert emu.counters()["requests"][ME] == 3


def test_throttled_create_is_retried_once_created(emu, client):
    emu.inject_fault("status", method="POST", path=r"^/v1\.0/me/events$", status=429, retry_after=1, count=1)
    body = {
        "subject": "Retried",
        "start": {"dateTime": "2030-01-02T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-02T10:00:00", "timeZone": "UTC"},
    }
    created = client.create_event(body, "odoo-test-1", "odoo-test-1")
    assert created["subject"] == "Retried"
    assert [e["subject"] for e in emu.outlook.list_events(ANNA)].count("Retried") == 1


def test_dropped_connection_and_time_out_are_retried(emu, client):
    emu.inject_fault("drop", path=r"^/v1\.0/me$", count=1)
    assert client.me()["mail"] == ANNA
    emu.inject_fault("latency", path=r"^/v1\.0/me$", delay=7, count=1)  # beyond the 5 s time-out
    assert client.me()["mail"] == ANNA
    assert emu.counters()["faults_fired"] == 2  # both faults hit, both calls still answered


def test_create_whose_answer_is_lost_is_not_duplicated(emu, client):
    emu.inject_fault("drop", method="POST", path=r"^/v1\.0/me/events$", when="after", count=1)
    body = {
        "subject": "Once",
        "start": {"dateTime": "2030-01-03T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-03T10:00:00", "timeZone": "UTC"},
    }
    created = client.create_event(body, "odoo-test-2", "odoo-test-2")
    assert created["subject"] == "Once"
    assert [e["subject"] for e in emu.outlook.list_events(ANNA)].count("Once") == 1
