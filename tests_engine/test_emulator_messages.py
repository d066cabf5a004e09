"""Emulator: the mail Exchange would send (graph-reference H) and attendee copies in other emulator mailboxes."""

import pytest

from emulator import Emulator

ANNA, BOB, CAROL = "anna@contoso.test", "bob@contoso.test", "carol@contoso.test"
EXT = "partner@fabrikam.test"


@pytest.fixture()
def emu():
    with Emulator() as emulator:
        for address in (ANNA, BOB, CAROL):
            emulator.add_mailbox(address)
        yield emulator


@pytest.fixture()
def as_user(graph_as):
    callers = {}

    def call(address, method, path, **kw):
        if address not in callers:
            callers[address] = graph_as(address)
        return callers[address](method, path, **kw)

    return call


def meeting(*attendees, subject="Sync meeting", **extra):
    return dict(
        {
            "subject": subject,
            "start": {"dateTime": "2025-05-05T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-05-05T11:00:00", "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": a}, "type": "required"} for a in attendees],
        },
        **extra,
    )


def sent(emu):
    return [(m["kind"], m["to"]) for m in emu.counters()["messages"]]


def copy_of(as_user, address, ical_uid):
    events = as_user(address, "GET", "/me/events").json()["value"]
    return next((e for e in events if e["iCalUId"] == ical_uid), None)


def test_create_with_attendees_sends_one_invitation_each(emu, as_user):
    as_user(ANNA, "POST", "/me/events", json=meeting(BOB, EXT))
    assert sent(emu) == [("invitation", BOB), ("invitation", EXT)]
    message = emu.counters()["messages"][0]
    assert message["from"] == ANNA and message["subject"] == "Sync meeting" and message["event_id"]


def test_appointment_without_attendees_sends_nothing(emu, as_user):
    event = as_user(ANNA, "POST", "/me/events", json=meeting()).json()
    as_user(ANNA, "PATCH", f"/me/events/{event['id']}", json={"subject": "still alone"})
    as_user(ANNA, "DELETE", f"/me/events/{event['id']}")
    assert emu.counters()["messages_sent"] == 0


def test_organizer_patch_meeting_fields_updates_everyone(emu, as_user):
    event = as_user(ANNA, "POST", "/me/events", json=meeting(BOB, EXT)).json()
    emu.reset_counters()
    as_user(ANNA, "PATCH", f"/me/events/{event['id']}", json={"subject": "Moved", "location": {"displayName": "B2"}})
    assert sent(emu) == [("update", BOB), ("update", EXT)]


@pytest.mark.parametrize(
    "patch",
    [{"categories": ["Blue"]}, {"reminderMinutesBeforeStart": 30}, {"isReminderOn": False}, {"showAs": "tentative"}],
)
def test_local_only_fields_send_nothing(emu, as_user, patch):
    event = as_user(ANNA, "POST", "/me/events", json=meeting(BOB, EXT)).json()
    emu.reset_counters()
    assert as_user(ANNA, "PATCH", f"/me/events/{event['id']}", json=patch).status_code == 200
    assert emu.counters()["messages_sent"] == 0


def test_attendees_only_patch_notifies_changed_attendees(emu, as_user):
    event = as_user(ANNA, "POST", "/me/events", json=meeting(BOB, EXT)).json()
    emu.reset_counters()
    new_attendees = meeting(EXT, CAROL)["attendees"]
    as_user(ANNA, "PATCH", f"/me/events/{event['id']}", json={"attendees": new_attendees})
    assert sorted(sent(emu)) == [("cancellation", BOB), ("invitation", CAROL)]


def test_organizer_delete_and_cancel_send_cancellations(emu, as_user):
    first = as_user(ANNA, "POST", "/me/events", json=meeting(BOB, EXT)).json()
    second = as_user(ANNA, "POST", "/me/events", json=meeting(BOB)).json()
    emu.reset_counters()
    assert as_user(ANNA, "DELETE", f"/me/events/{first['id']}").status_code == 204
    assert as_user(ANNA, "POST", f"/me/events/{second['id']}/cancel", json={"comment": "sorry"}).status_code == 202
    assert sent(emu) == [("cancellation", BOB), ("cancellation", EXT), ("cancellation", BOB)]
    assert as_user(ANNA, "GET", f"/me/events/{second['id']}").status_code == 404


def test_attendee_actions(emu, as_user):
    original = as_user(ANNA, "POST", "/me/events", json=meeting(BOB, CAROL)).json()
    bob_copy = copy_of(as_user, BOB, original["iCalUId"])
    carol_copy = copy_of(as_user, CAROL, original["iCalUId"])
    emu.reset_counters()
    cancel = as_user(BOB, "POST", f"/me/events/{bob_copy['id']}/cancel", json={})
    assert cancel.status_code == 400
    assert cancel.json()["error"]["message"].endswith("You need to be an organizer to cancel a meeting.")
    assert as_user(BOB, "POST", f"/me/events/{bob_copy['id']}/accept", json={"comment": "ok"}).status_code == 202
    assert (
        as_user(CAROL, "POST", f"/me/events/{carol_copy['id']}/decline", json={"sendResponse": False}).status_code
        == 202
    )
    assert sent(emu) == [("response", ANNA)]
    response_message = emu.counters()["messages"][0]
    assert response_message["from"] == BOB and response_message["subject"].startswith("Accepted")
    statuses = {
        a["emailAddress"]["address"]: a["status"]["response"]
        for a in as_user(ANNA, "GET", f"/me/events/{original['id']}").json()["attendees"]
    }
    assert statuses == {BOB: "accepted", CAROL: "none"}  # carol answered without telling the organizer
    assert as_user(BOB, "GET", f"/me/events/{bob_copy['id']}").json()["responseStatus"]["response"] == "accepted"
    assert as_user(ANNA, "POST", f"/me/events/{original['id']}/tentativelyAccept", json={}).status_code == 400
    emu.reset_counters()
    assert as_user(BOB, "DELETE", f"/me/events/{bob_copy['id']}").status_code == 204
    assert emu.counters()["messages_sent"] == 0  # attendee DELETE sends nothing


def test_read_only_traffic_sends_nothing(emu, as_user):
    emu.outlook.create_event(ANNA, meeting(BOB, EXT))
    emu.reset_counters()
    as_user(ANNA, "GET", "/me/events")
    as_user(
        ANNA,
        "GET",
        "/me/calendarView",
        params={"startDateTime": "2025-05-01T00:00:00Z", "endDateTime": "2025-06-01T00:00:00Z"},
    )
    counters = emu.counters()
    assert counters["messages_sent"] == 0 and counters["outlook_messages"] == 0 and counters["requests_total"] == 2


def test_copy_is_delivered_updated_and_cancelled(emu, as_user):
    original = as_user(ANNA, "POST", "/me/events", json=meeting(BOB, EXT)).json()
    bob_copy = copy_of(as_user, BOB, original["iCalUId"])
    assert bob_copy["id"] != original["id"]
    assert bob_copy["isOrganizer"] is False and bob_copy["responseStatus"]["response"] == "notResponded"
    assert bob_copy["organizer"]["emailAddress"]["address"] == ANNA
    assert bob_copy["subject"] == "Sync meeting" and bob_copy["start"] == original["start"]
    assert copy_of(as_user, CAROL, original["iCalUId"]) is None
    as_user(BOB, "PATCH", f"/me/events/{bob_copy['id']}", json={"categories": ["Mine"]})
    as_user(ANNA, "PATCH", f"/me/events/{original['id']}", json={"subject": "New title"})
    refreshed = copy_of(as_user, BOB, original["iCalUId"])
    assert refreshed["subject"] == "New title" and refreshed["categories"] == ["Mine"]
    assert refreshed["changeKey"] != bob_copy["changeKey"]
    as_user(ANNA, "DELETE", f"/me/events/{original['id']}")
    cancelled = copy_of(as_user, BOB, original["iCalUId"])
    assert cancelled["isCancelled"] is True and cancelled["subject"].startswith("Canceled: ")


def test_removed_attendee_copy_is_cancelled_and_added_attendee_gets_one(emu, as_user):
    original = as_user(ANNA, "POST", "/me/events", json=meeting(BOB)).json()
    as_user(ANNA, "PATCH", f"/me/events/{original['id']}", json={"attendees": meeting(CAROL)["attendees"]})
    assert copy_of(as_user, BOB, original["iCalUId"])["isCancelled"] is True
    assert copy_of(as_user, CAROL, original["iCalUId"])["isCancelled"] is False


def test_outlook_side_edits_propagate_but_count_as_outlook_messages(emu, as_user):
    created = emu.outlook.create_event(ANNA, meeting(BOB))
    bob_copy = copy_of(as_user, BOB, created["iCalUId"])
    emu.outlook.respond(BOB, bob_copy["id"], "tentativelyAccepted")
    statuses = {
        a["emailAddress"]["address"]: a["status"]["response"]
        for a in emu.outlook.get_event(ANNA, created["id"])["attendees"]
    }
    assert statuses[BOB] == "tentativelyAccepted"
    emu.outlook.cancel_event(ANNA, created["id"])
    assert copy_of(as_user, BOB, created["iCalUId"])["isCancelled"] is True
    counters = emu.counters()
    assert counters["messages_sent"] == 0
    assert [m["kind"] for m in counters["outlook_message_log"]] == ["invitation", "response", "cancellation"]


def test_external_meeting_seeded_as_attendee(emu, as_user):
    item = emu.outlook.create_event(BOB, dict(meeting(BOB), organizer={"emailAddress": {"address": EXT, "name": "P"}}))
    assert item["isOrganizer"] is False and item["responseStatus"]["response"] == "notResponded"
    assert as_user(BOB, "POST", f"/me/events/{item['id']}/accept", json={}).status_code == 202
    assert sent(emu) == [("response", EXT)]
