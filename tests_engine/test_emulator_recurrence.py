"""Emulator: recurrence expansion, instances, exceptions, cancelled occurrences (graph-reference G, A.2, D.2)."""

import pytest

from emulator import Emulator

ANNA, BOB = "anna@contoso.test", "bob@contoso.test"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA)
        emulator.add_mailbox(BOB)
        yield emulator


def series(graph, pattern, rng, start="2025-01-06T09:00:00", end="2025-01-06T10:00:00", tz="UTC", **extra):
    body = dict(
        {
            "subject": "Series",
            "start": {"dateTime": start, "timeZone": tz},
            "end": {"dateTime": end, "timeZone": tz},
            "recurrence": {"pattern": pattern, "range": rng},
        },
        **extra,
    )
    response = graph("POST", "/me/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def instances(graph, master_id, since="2024-12-01T00:00:00Z", until="2027-01-01T00:00:00Z", headers=None):
    found, params = [], {"startDateTime": since, "endDateTime": until, "$top": "1000"}
    response = graph("GET", f"/me/events/{master_id}/instances", params=params, headers=headers)
    assert response.status_code == 200, response.text
    found.extend(response.json()["value"])
    return found


def starts(items, tz_len=16):
    return [item["start"]["dateTime"][:tz_len] for item in items]


def test_master_carries_full_pattern_and_range(graph):
    master = series(
        graph,
        {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 3},
    )
    assert master["type"] == "seriesMaster"
    assert master["recurrence"] == {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": ["monday"],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "numbered",
            "startDate": "2025-01-06",
            "endDate": "0001-01-01",
            "recurrenceTimeZone": "UTC",
            "numberOfOccurrences": 3,
        },
    }


@pytest.mark.parametrize(
    "pattern, rng, start, expected",
    [
        (
            {"type": "daily", "interval": 2},
            {"type": "numbered", "numberOfOccurrences": 4},
            "2025-01-06",
            ["2025-01-06", "2025-01-08", "2025-01-10", "2025-01-12"],
        ),
        (
            {"type": "weekly", "interval": 2, "daysOfWeek": ["tuesday", "thursday"], "firstDayOfWeek": "monday"},
            {"type": "endDate", "endDate": "2025-01-30"},
            "2025-01-07",
            ["2025-01-07", "2025-01-09", "2025-01-21", "2025-01-23"],
        ),
        (
            {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
            {"type": "numbered", "numberOfOccurrences": 4},
            "2025-01-31",
            ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"],
        ),
        (
            {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["thursday"], "index": "second"},
            {"type": "numbered", "numberOfOccurrences": 3},
            "2025-01-09",
            ["2025-01-09", "2025-02-13", "2025-03-13"],
        ),
        (
            {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["friday"], "index": "last"},
            {"type": "numbered", "numberOfOccurrences": 3},
            "2025-01-31",
            ["2025-01-31", "2025-03-28", "2025-05-30"],
        ),
        (
            {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["saturday", "sunday"], "index": "first"},
            {"type": "numbered", "numberOfOccurrences": 3},
            "2025-01-04",
            ["2025-01-04", "2025-02-01", "2025-03-01"],
        ),
        (
            {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 29, "month": 2},
            {"type": "numbered", "numberOfOccurrences": 3},
            "2024-02-29",
            ["2024-02-29", "2025-02-28", "2026-02-28"],
        ),
        (
            {"type": "relativeYearly", "interval": 1, "daysOfWeek": ["thursday"], "index": "fourth", "month": 11},
            {"type": "endDate", "endDate": "2026-12-31"},
            "2025-11-27",
            ["2025-11-27", "2026-11-26"],
        ),
    ],
)
def test_pattern_expansion(graph, pattern, rng, start, expected):
    master = series(graph, pattern, dict(rng, startDate=start), start=f"{start}T09:00:00", end=f"{start}T10:00:00")
    found = instances(graph, master["id"], since="2024-01-01T00:00:00Z")
    assert starts(found, 10) == expected
    assert all(i["type"] == "occurrence" and i["seriesMasterId"] == master["id"] for i in found)
    assert all(i["start"]["dateTime"][11:16] == "09:00" for i in found)


def test_no_end_series_is_bounded_by_the_window(graph):
    master = series(graph, {"type": "daily", "interval": 1}, {"type": "noEnd", "startDate": "2025-01-06"})
    found = instances(graph, master["id"], since="2026-03-01T00:00:00Z", until="2026-03-04T00:00:00Z")
    assert starts(found, 10) == ["2026-03-01", "2026-03-02", "2026-03-03"]


def test_end_date_range_is_inclusive(graph):
    master = series(
        graph, {"type": "daily", "interval": 1}, {"type": "endDate", "startDate": "2025-01-06", "endDate": "2025-01-08"}
    )
    assert starts(instances(graph, master["id"]), 10) == ["2025-01-06", "2025-01-07", "2025-01-08"]


def test_master_snaps_to_first_occurrence(graph):
    master = series(
        graph,
        {"type": "weekly", "interval": 1, "daysOfWeek": ["wednesday"]},
        {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 2},
    )
    assert master["start"]["dateTime"].startswith("2025-01-08T09:00")


def test_wall_clock_is_kept_across_dst(graph):
    master = series(
        graph,
        {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        {"type": "numbered", "startDate": "2025-03-17", "numberOfOccurrences": 3},
        start="2025-03-17T09:00:00",
        end="2025-03-17T10:00:00",
        tz="Europe/Paris",
    )
    utc = instances(graph, master["id"])
    assert starts(utc) == ["2025-03-17T08:00", "2025-03-24T08:00", "2025-03-31T07:00"]
    assert [i["end"]["dateTime"][:16] for i in utc] == ["2025-03-17T09:00", "2025-03-24T09:00", "2025-03-31T08:00"]
    paris = instances(graph, master["id"], headers={"Prefer": 'outlook.timezone="Romance Standard Time"'})
    assert starts(paris) == ["2025-03-17T09:00", "2025-03-24T09:00", "2025-03-31T09:00"]


def test_occurrence_ids_ical_uids_and_original_start(graph):
    master = series(
        graph,
        {"type": "daily", "interval": 1},
        {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 3},
    )
    found = instances(graph, master["id"])
    assert len({i["id"] for i in found}) == 3 and len({i["iCalUId"] for i in found}) == 3
    assert master["iCalUId"] not in {i["iCalUId"] for i in found}
    assert found[1]["originalStart"] == "2025-01-07T09:00:00Z"
    single = graph("GET", f"/me/events/{found[1]['id']}").json()
    assert single["type"] == "occurrence" and single["subject"] == "Series" and single["recurrence"] is None
    assert instances(graph, master["id"])[1]["id"] == found[1]["id"]  # stable


def test_exception_and_cancelled_occurrence(graph):
    master = series(
        graph,
        {"type": "daily", "interval": 1},
        {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 4},
    )
    first, second, third, _fourth = instances(graph, master["id"])
    moved = graph(
        "PATCH",
        f"/me/events/{second['id']}",
        json={
            "subject": "Moved one",
            "start": {"dateTime": "2025-01-07T15:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-01-07T16:00:00", "timeZone": "UTC"},
        },
    )
    assert moved.status_code == 200, moved.text
    exception = moved.json()
    assert exception["type"] == "exception" and exception["id"] == second["id"]
    assert exception["originalStart"] == "2025-01-07T09:00:00Z" and exception["seriesMasterId"] == master["id"]
    assert graph("DELETE", f"/me/events/{third['id']}").status_code == 204
    after = instances(graph, master["id"])
    assert [(i["type"], i["start"]["dateTime"][:16]) for i in after] == [
        ("occurrence", "2025-01-06T09:00"),
        ("exception", "2025-01-07T15:00"),
        ("occurrence", "2025-01-09T09:00"),
    ]
    assert graph("GET", f"/me/events/{third['id']}").status_code == 404
    assert graph("GET", f"/me/events/{master['id']}").json()["changeKey"] != master["changeKey"]
    crossing = graph(
        "PATCH",
        f"/me/events/{first['id']}",
        json={
            "start": {"dateTime": "2025-01-08T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-01-08T11:00:00", "timeZone": "UTC"},
        },
    )
    assert crossing.status_code == 400 and crossing.json()["error"]["code"] == "ErrorOccurrenceCrossingBoundary"
    assert instances(graph, master["id"])[0]["type"] == "occurrence"  # the failed PATCH left nothing behind


def test_calendar_view_expands_without_master(graph):
    master = series(
        graph,
        {"type": "daily", "interval": 1},
        {"type": "numbered", "startDate": "2031-01-06", "numberOfOccurrences": 3},
        start="2031-01-06T09:00:00",
        end="2031-01-06T10:00:00",
    )
    everything = graph(
        "GET",
        "/me/calendarView",
        params={"startDateTime": "2031-01-01T00:00:00Z", "endDateTime": "2031-02-01T00:00:00Z", "$top": "500"},
    )
    view = [i for i in everything.json()["value"] if i["iCalUId"][40:] == master["iCalUId"][40:]]
    assert [i["type"] for i in view] == ["occurrence"] * 3
    assert all(i["seriesMasterId"] == master["id"] for i in view)
    assert all(i["subject"] == "Series" and i["attendees"] == [] for i in view)
    assert master["id"] not in [i["id"] for i in view]
    missing = graph("GET", "/me/calendarView")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "ErrorInvalidParameter"
    assert missing.json()["error"]["message"].startswith("This request requires a time window")


def test_master_time_change_regenerates_occurrence_ids(graph):
    master = series(
        graph,
        {"type": "daily", "interval": 1},
        {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 3},
    )
    before = instances(graph, master["id"])
    graph("PATCH", f"/me/events/{before[0]['id']}", json={"subject": "exception"})
    patched = graph(
        "PATCH",
        f"/me/events/{master['id']}",
        json={
            "start": {"dateTime": "2025-01-06T11:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-01-06T12:00:00", "timeZone": "UTC"},
        },
    ).json()
    assert patched["id"] == master["id"] and patched["iCalUId"] == master["iCalUId"]
    after = instances(graph, master["id"])
    assert starts(after) == ["2025-01-06T11:00", "2025-01-07T11:00", "2025-01-08T11:00"]
    assert not {i["id"] for i in after} & {i["id"] for i in before}
    assert all(i["type"] == "occurrence" for i in after)
    assert graph("GET", f"/me/events/{before[1]['id']}").status_code == 404


def test_single_becomes_series_and_back(graph):
    single = graph(
        "POST",
        "/me/events",
        json={
            "subject": "s",
            "start": {"dateTime": "2025-01-06T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-01-06T10:00:00", "timeZone": "UTC"},
        },
    ).json()
    made = graph(
        "PATCH",
        f"/me/events/{single['id']}",
        json={
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 2},
            }
        },
    ).json()
    assert made["type"] == "seriesMaster" and made["id"] == single["id"] and made["iCalUId"] == single["iCalUId"]
    assert len(instances(graph, single["id"])) == 2
    back = graph("PATCH", f"/me/events/{single['id']}", json={"recurrence": None}).json()
    assert back["type"] == "singleInstance" and instances(graph, single["id"]) == []


def test_invalid_recurrence(graph):
    for recurrence in (
        {"pattern": {"type": "weekly", "interval": 1}, "range": {"type": "noEnd", "startDate": "2025-01-06"}},
        {"pattern": {"type": "monthlyish", "interval": 1}, "range": {"type": "noEnd", "startDate": "2025-01-06"}},
        {"pattern": {"type": "daily", "interval": 1}, "range": {"type": "numbered", "startDate": "2025-01-06"}},
        {
            "pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 32},
            "range": {"type": "noEnd", "startDate": "2025-01-06"},
        },
    ):
        response = graph(
            "POST",
            "/me/events",
            json={
                "subject": "bad",
                "start": {"dateTime": "2025-01-06T09:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2025-01-06T10:00:00", "timeZone": "UTC"},
                "recurrence": recurrence,
            },
        )
        assert response.status_code == 400, recurrence


def test_series_messages_and_attendee_copy(emu, graph):
    master = series(
        graph,
        {"type": "daily", "interval": 1},
        {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 3},
        attendees=[{"emailAddress": {"address": BOB}}],
    )
    occurrences = instances(graph, master["id"])
    graph("PATCH", f"/me/events/{occurrences[0]['id']}", json={"subject": "First is special"})
    emu.reset_counters()
    graph("PATCH", f"/me/events/{master['id']}", json={"subject": "Renamed series"})
    assert [m["kind"] for m in emu.counters()["messages"]] == ["update", "update"]  # master + one modified instance
    emu.reset_counters()
    graph("DELETE", f"/me/events/{occurrences[2]['id']}")
    assert [(m["kind"], m["to"]) for m in emu.counters()["messages"]] == [("cancellation", BOB)]
    bob_master = next(e for e in emu.outlook.list_events(BOB) if e["type"] == "seriesMaster")
    assert bob_master["iCalUId"] == master["iCalUId"] and bob_master["subject"] == "Renamed series"
    bob_instances = [(e["type"], e["subject"]) for e in emu.outlook.list_events(BOB) if e["type"] == "exception"]
    assert bob_instances == [("exception", "First is special")]
    assert bob_master["cancelledOccurrences"] and len(bob_master["cancelledOccurrences"]) == 1


def test_window_skipping_matches_full_expansion():
    """recurrence.slots jumps over whole daily/weekly periods before the window; it must not change the result."""
    import datetime
    import random
    from types import SimpleNamespace

    from emulator import recurrence as rec
    from emulator import timezones

    rng = random.Random(7)
    for _ in range(150):
        kind = rng.choice(["daily", "weekly"])
        pattern = {"type": kind, "interval": rng.randint(1, 4)}
        if kind == "weekly":
            pattern.update(daysOfWeek=rng.sample(rec.DAYS, rng.randint(1, 4)), firstDayOfWeek=rng.choice(rec.DAYS))
        start = datetime.datetime(2024, 1, 1, 9) + datetime.timedelta(days=rng.randint(0, 60))
        span = {
            "type": rng.choice(["numbered", "noEnd", "endDate"]),
            "startDate": start.date().isoformat(),
            "numberOfOccurrences": rng.randint(1, 300),
            "endDate": (start.date() + datetime.timedelta(days=rng.randint(0, 600))).isoformat(),
        }
        tz = rng.choice(["Europe/Paris", "UTC", "America/New_York"])
        start_utc = timezones.to_utc(start, tz)
        master = SimpleNamespace(
            recurrence=rec.normalize({"pattern": pattern, "range": span}, start_utc, tz),
            start_utc=start_utc,
            end_utc=start_utc + datetime.timedelta(hours=rng.choice([1, 30])),
        )
        since = datetime.datetime(2024, 1, 1, tzinfo=timezones.UTC) + datetime.timedelta(days=rng.randint(0, 500))
        until = since + datetime.timedelta(days=rng.randint(1, 200))
        fast = [s.original_start for s in rec.slots(master, until_utc=until, since_utc=since)]
        slow = [
            s.original_start for s in rec.slots(master, until_utc=until) if s.end_utc > since or s.start_utc >= since
        ]
        assert fast == slow, (pattern, span, since, until)
