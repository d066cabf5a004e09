"""Emulator: $batch (C.3), throttling per app + mailbox (C.1/C.2) and injected faults (B.5, C.2)."""

import threading
import time

import pytest
import requests

from emulator import Emulator

ANNA, BOB = "anna@contoso.test", "bob@contoso.test"
WINDOW = {"startDateTime": "2025-04-01T00:00:00Z", "endDateTime": "2025-07-01T00:00:00Z"}


@pytest.fixture()
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA)
        emulator.add_mailbox(BOB)
        emulator.register_app("app-1", "secret-1")
        yield emulator


def event(subject="Batch", day="2025-05-01"):
    return {
        "subject": subject,
        "start": {"dateTime": f"{day}T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"{day}T11:00:00", "timeZone": "UTC"},
    }


def post_item(item_id, body, **extra):
    return dict(
        {
            "id": item_id,
            "method": "POST",
            "url": "/me/events",
            "headers": {"Content-Type": "application/json"},
            "body": body,
        },
        **extra,
    )


# ---------------------------------------------------------------- $batch


def test_batch_runs_items_through_the_normal_handlers(emu, graph_as):
    graph = graph_as(ANNA)
    emu.reset_counters()
    response = graph(
        "POST",
        "/$batch",
        json={
            "requests": [
                post_item("1", event("one")),
                post_item("2", event("two")),
                {
                    "id": "3",
                    "method": "GET",
                    "url": "/me/calendarView?startDateTime=2025-04-01T00:00:00Z&endDateTime=2025-07-01T00:00:00Z",
                    "dependsOn": ["1", "2"],
                },
            ]
        },
    )
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == by_id["2"]["status"] == 201
    assert by_id["1"]["body"]["subject"] == "one" and by_id["1"]["headers"]["Location"]
    assert sorted(e["subject"] for e in by_id["3"]["body"]["value"]) == ["one", "two"]
    counters = emu.counters()
    assert counters["requests"] == {"POST /v1.0/$batch": 1, "POST /v1.0/me/events": 2, "GET /v1.0/me/calendarView": 1}
    assert counters["batch_items"] == 3 and counters["by_mailbox"] == {ANNA: 3}


def test_batch_limits_and_validation(emu, graph_as):
    graph = graph_as(ANNA)
    too_many = graph(
        "POST", "/$batch", json={"requests": [{"id": str(i), "method": "GET", "url": "/me"} for i in range(21)]}
    )
    assert too_many.status_code == 400 and "maximum of 20" in too_many.json()["error"]["message"]
    duplicate = graph(
        "POST",
        "/$batch",
        json={"requests": [{"id": "a", "method": "GET", "url": "/me"}, {"id": "A", "method": "GET", "url": "/me"}]},
    )
    assert duplicate.status_code == 400
    no_type = graph(
        "POST", "/$batch", json={"requests": [{"id": "1", "method": "POST", "url": "/me/events", "body": event()}]}
    )
    assert no_type.status_code == 400
    assert (
        graph(
            "POST",
            "/$batch",
            json={"requests": [{"id": "1", "method": "GET", "url": "/me"}]},
            headers={"Authorization": "Bearer nope"},
        ).status_code
        == 401
    )


def test_failed_dependency_gives_424(emu, graph_as):
    graph = graph_as(ANNA)
    response = graph(
        "POST",
        "/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": "/me/events/not-an-id"},
                post_item("2", event(), dependsOn=["1"]),
                {"id": "3", "method": "GET", "url": "/me", "dependsOn": ["2"]},
            ]
        },
    )
    statuses = {r["id"]: r["status"] for r in response.json()["responses"]}
    assert statuses == {"1": 400, "2": 424, "3": 424}
    assert graph("GET", "/me/events").json()["value"] == []


def test_per_item_throttling_inside_a_batch(emu, graph_as):
    graph = graph_as(ANNA)
    emu.inject_fault("status", method="GET", path=r"/v1\.0/me/calendar$", status=429, retry_after=7)
    response = graph(
        "POST",
        "/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": "/me"},
                {"id": "2", "method": "GET", "url": "/me/calendar"},
                {"id": "3", "method": "GET", "url": "/me/calendars"},
            ]
        },
    )
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == by_id["3"]["status"] == 200
    assert by_id["2"]["status"] == 429 and by_id["2"]["headers"]["Retry-After"] == "7"
    assert by_id["2"]["body"]["error"]["code"] == "TooManyRequests"


def test_request_budget_counts_batch_items(emu, graph_as):
    emu.configure(request_budget=3, budget_window=60)
    graph = graph_as(ANNA)
    response = graph(
        "POST",
        "/$batch",
        json={
            "requests": [
                {"id": str(i), "method": "GET", "url": "/me", "dependsOn": [str(i - 1)] if i else []} for i in range(4)
            ]
        },
    )
    statuses = [r["status"] for r in sorted(response.json()["responses"], key=lambda r: r["id"])]
    assert statuses == [200, 200, 200, 429]


# ---------------------------------------------------------------- throttling


def _wait_in_flight(emu, expected, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(emu.throttle._in_flight.values()) >= expected:
            return
        time.sleep(0.01)
    raise AssertionError("requests never became concurrent")


def test_fifth_concurrent_request_is_throttled(emu, graph_as):
    emu.inject_fault("latency", path=r"/v1\.0/me$", delay=1.5, count=4)
    slow = [graph_as(ANNA) for _ in range(4)]
    results = []
    threads = [threading.Thread(target=lambda c=c: results.append(c("GET", "/me").status_code)) for c in slow]
    for thread in threads:
        thread.start()
    _wait_in_flight(emu, 4)
    fifth = graph_as(ANNA)("GET", "/me/calendar")
    other_mailbox = graph_as(BOB)("GET", "/me/calendar")
    other_app = graph_as(ANNA, client_id="another-app")("GET", "/me/calendar")
    for thread in threads:
        thread.join()
    assert fifth.status_code == 429
    assert fifth.json()["error"] == dict(
        fifth.json()["error"], code="ApplicationThrottled", message="Application is over its MailboxConcurrency limit."
    )
    assert fifth.headers["Retry-After"] == "1"
    assert other_mailbox.status_code == 200 and other_app.status_code == 200  # per app AND mailbox
    assert sorted(results) == [200, 200, 200, 200]
    assert emu.counters()["throttled"] == 1 and emu.counters()["status"]["429"] == 1


def test_request_budget_per_window(emu, graph_as):
    emu.configure(request_budget=5, budget_window=30)
    graph = graph_as(ANNA)
    statuses = [graph("GET", "/me").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    response = graph("GET", "/me")
    assert response.json()["error"]["code"] == "TooManyRequests"
    assert response.json()["error"]["message"] == "Please retry again later."
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert graph_as(BOB)("GET", "/me").status_code == 200
    emu.reset_throttling()
    assert graph("GET", "/me").status_code == 200


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("status, code", [(503, "UnknownError"), (504, "UnknownError"), (429, "TooManyRequests")])
def test_status_faults_are_graph_shaped_and_count_down(emu, graph_as, status, code):
    graph = graph_as(ANNA)
    emu.inject_fault("status", method="GET", path="/me$", status=status, retry_after=3, count=2)
    first, second, third = (graph("GET", "/me") for _ in range(3))
    assert first.status_code == second.status_code == status and third.status_code == 200
    assert first.json()["error"]["code"] == code and first.headers["Retry-After"] == "3"
    assert {"date", "request-id", "client-request-id"} <= set(first.json()["error"]["innerError"])
    assert graph("POST", "/me/events", json=event()).status_code == 201  # other method untouched
    assert emu.counters()["faults_fired"] == 2


def test_fault_filtered_by_mailbox(emu, graph_as):
    emu.inject_fault("status", mailbox=BOB, status=503)
    assert graph_as(ANNA)("GET", "/me").status_code == 200
    assert graph_as(BOB)("GET", "/me").status_code == 503


def test_latency_fault(emu, graph_as):
    graph = graph_as(ANNA)
    emu.inject_fault("latency", path="/me$", delay=0.6)
    started = time.monotonic()
    assert graph("GET", "/me").status_code == 200
    assert time.monotonic() - started >= 0.6


def test_drop_fault_closes_the_connection(emu, graph_as):
    graph = graph_as(ANNA)
    emu.inject_fault("drop", path="/me$")
    with pytest.raises(requests.exceptions.ConnectionError):
        graph("GET", "/me")
    assert graph("GET", "/me").status_code == 200
    assert emu.counters()["status"]["dropped"] == 1


def test_drop_after_processing_then_retry_is_deduped(emu, graph_as):
    graph = graph_as(ANNA)
    emu.inject_fault("drop", method="POST", path="/me/events$", when="after")
    body = dict(
        event("timeout victim"), transactionId="odoo:1:42", attendees=[{"emailAddress": {"address": "x@fabrikam.test"}}]
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        graph("POST", "/me/events", json=body)
    retry = graph("POST", "/me/events", json=body)
    assert retry.status_code == 201
    assert [e["subject"] for e in graph("GET", "/me/events").json()["value"]] == ["timeout victim"]
    assert emu.counters()["messages_sent"] == 1


def test_malformed_fault(emu, graph_as):
    graph = graph_as(ANNA)
    emu.inject_fault("malformed", path="/me$")
    response = graph("GET", "/me")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_item_malformed_fault_breaks_one_delta_item(emu, graph_as):
    graph = graph_as(ANNA)
    for day in ("2025-05-01", "2025-05-02"):
        emu.outlook.create_event(ANNA, event(day=day))
    emu.inject_fault("item_malformed", path="calendarView/delta")
    values = graph("GET", "/me/calendarView/delta", params=WINDOW).json()["value"]
    assert values[0]["start"]["dateTime"].startswith("not-a-date")
    assert values[1]["start"]["dateTime"].startswith("2025-05-02")
    again = graph("GET", "/me/calendarView/delta", params=WINDOW).json()["value"]
    assert all(v["start"]["dateTime"].startswith("2025") for v in again)


def test_faults_apply_to_the_token_endpoint(emu):
    emu.inject_fault("status", path="/oauth2/v2.0/token$", status=503, retry_after=2)
    url = f"{emu.authority_url}/{emu.tenant_id}/oauth2/v2.0/token"
    form = {
        "client_id": "app-1",
        "client_secret": "secret-1",
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
    }
    failed = requests.post(url, data=form, verify=emu.ca_path, timeout=10)
    assert failed.status_code == 503 and failed.json()["error"] == "temporarily_unavailable"
    assert failed.headers["Retry-After"] == "2"
    assert requests.post(url, data=form, verify=emu.ca_path, timeout=10).status_code == 200


def test_faults_inside_a_batch_and_drop_item(emu, graph_as):
    graph = graph_as(ANNA)
    emu.inject_fault("drop", path="/me/calendars$")
    emu.inject_fault("status", path="/me/calendar$", status=503)
    response = graph(
        "POST",
        "/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": "/me/calendars"},
                {"id": "2", "method": "GET", "url": "/me/calendar"},
                {"id": "3", "method": "GET", "url": "/me"},
            ]
        },
    )
    statuses = {r["id"]: r["status"] for r in response.json()["responses"]}
    assert statuses == {"1": 504, "2": 503, "3": 200}


def test_invalid_fault_kind_is_rejected(emu, graph_as):
    with pytest.raises(ValueError):
        emu.inject_fault("explode")
    emu.inject_fault("status", status=503)
    emu.clear_faults()
    assert graph_as(ANNA)("GET", "/me").status_code == 200
