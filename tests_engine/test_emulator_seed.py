"""Emulator: the demo calendar (seed_demo) and the control API's Outlook-side actions over HTTP."""

import datetime

import pytest
import requests

from emulator import Emulator
from emulator.control_client import EmulatorControl

DEMO, BOB = "demo@contoso.test", "bob@contoso.test"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(BOB)
        yield emulator


@pytest.fixture(scope="module")
def seeded(emu):
    return emu.outlook.seed_demo(DEMO)


def test_seed_demo_content(emu, seeded):
    today = datetime.date.today()
    raw = emu.outlook.list_events(DEMO)
    assert 45 <= len(raw) <= 60
    kinds = {e["type"] for e in raw}
    assert kinds == {"singleInstance", "seriesMaster", "exception"}
    assert sum(e["isAllDay"] for e in raw) >= 3
    multi_day = [
        e
        for e in raw
        if e["isAllDay"]
        and e["end"]["dateTime"][:10]
        > (datetime.date.fromisoformat(e["start"]["dateTime"][:10]) + datetime.timedelta(days=1)).isoformat()
    ]
    assert multi_day
    teams = [e for e in raw if e["isOnlineMeeting"]]
    assert teams and all(e["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/") for e in teams)
    externals = [
        e for e in raw if any(not a["emailAddress"]["address"].endswith("@contoso.test") for a in e["attendees"])
    ]
    assert len(externals) >= 2 and max(len(e["attendees"]) for e in raw) >= 3
    assert any(e["sensitivity"] == "private" for e in raw)
    assert any(e["categories"] for e in raw)
    assert any(not e["isOrganizer"] for e in raw)
    weekly = next(e for e in raw if e["type"] == "seriesMaster" and e["recurrence"]["pattern"]["type"] == "weekly")
    assert len(weekly["cancelledOccurrences"]) == 1
    assert any(e["type"] == "exception" and e["seriesMasterId"] == weekly["id"] for e in raw)
    starts = [datetime.date.fromisoformat(e["start"]["dateTime"][:10]) for e in raw if e["type"] == "singleInstance"]
    assert min(starts) >= today - datetime.timedelta(days=30) and max(starts) <= today + datetime.timedelta(days=40)
    assert any(s < today for s in starts) and any(s > today for s in starts)


def test_seed_demo_sends_no_app_messages_and_is_visible_in_delta(emu, seeded):
    counters = emu.counters()
    assert counters["messages_sent"] == 0 and counters["outlook_messages"] > 0
    token = emu.issue_token(DEMO)
    today = datetime.date.today()
    params = {
        "startDateTime": f"{today - datetime.timedelta(days=60)}T00:00:00Z",
        "endDateTime": f"{today + datetime.timedelta(days=90)}T00:00:00Z",
    }
    url, seen = emu.graph_url + "/me/calendarView/delta", []
    while url:
        page = requests.get(
            url,
            params=params,
            verify=emu.ca_path,
            timeout=10,
            headers={"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=100"},
        ).json()
        seen.extend(page["value"])
        url, params = page.get("@odata.nextLink"), None
    types = {item["type"] for item in seen}
    assert {"singleInstance", "seriesMaster", "occurrence", "exception"} <= types
    assert emu.counters()["messages_sent"] == 0


def test_outlook_actions_over_http(emu):
    control = EmulatorControl(emu.base_url, emu.ca_path)
    created = control.outlook.create_event(
        BOB,
        {
            "subject": "via control",
            "start": {"dateTime": "2025-05-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-05-01T11:00:00", "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2025-05-01", "numberOfOccurrences": 3},
            },
        },
    )
    assert created["type"] == "seriesMaster"
    occurrences = control.outlook.instances(BOB, created["id"], "2025-05-01T00:00:00Z", "2025-06-01T00:00:00Z")
    assert len(occurrences) == 3
    moved = control.outlook.update_event(BOB, occurrences[1]["id"], {"subject": "changed"})
    assert moved["type"] == "exception"
    control.outlook.delete_event(BOB, occurrences[2]["id"])
    assert control.outlook.get_event(BOB, created["id"])["cancelledOccurrences"]
    seeded = control.outlook.seed_events(
        BOB,
        [
            {
                "subject": "a",
                "start": {"dateTime": "2025-06-01T10:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2025-06-01T11:00:00", "timeZone": "UTC"},
            }
        ],
    )
    assert [e["subject"] for e in seeded] == ["a"]
    listed = [e["subject"] for e in control.outlook.list_events(BOB)]
    assert "via control" in listed and "changed" in listed and "a" in listed
    control.outlook.cancel_event(BOB, seeded[0]["id"])
    assert "a" not in [e["subject"] for e in control.outlook.list_events(BOB)]
    with pytest.raises(Exception) as info:
        control.outlook.get_event(BOB, seeded[0]["id"])
    assert getattr(info.value, "status", None) == 404
    assert len(control.outlook.seed_demo("other@contoso.test")) >= 45
