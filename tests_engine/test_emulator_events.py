"""Emulator, Graph events: CRUD, ids, change keys, Prefer headers, extended properties, validation
(graph-reference A, D, F)."""

import pytest

from emulator import Emulator

ANNA, BOB = "anna@contoso.test", "bob@contoso.test"
PROP = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name OdooEventId"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA, "Anna Smith")
        emulator.add_mailbox(BOB, "Bob Jones")
        yield emulator


def payload(subject="Review", start="2025-03-10T09:00:00", end="2025-03-10T10:00:00", tz="UTC", **extra):
    return dict(
        {"subject": subject, "start": {"dateTime": start, "timeZone": tz}, "end": {"dateTime": end, "timeZone": tz}},
        **extra,
    )


def create(graph, **kw):
    response = graph("POST", "/me/events", json=payload(**kw))
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_full_event(graph, emu):
    event = create(
        graph,
        tz="Romance Standard Time",
        body={"contentType": "text", "content": "Agenda\nline 2"},
        location={"displayName": "Room 1"},
        categories=["Red category"],
    )
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["type"] == "singleInstance" and event["seriesMasterId"] is None and event["recurrence"] is None
    assert event["start"] == {"dateTime": "2025-03-10T08:00:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == "Romance Standard Time"
    assert event["createdDateTime"].endswith("Z") and len(event["createdDateTime"].split(".")[1]) == 8
    assert event["body"]["contentType"] == "html" and "Agenda<br>" in event["body"]["content"]
    assert event["bodyPreview"] == "Agenda line 2"
    assert event["location"]["displayName"] == "Room 1"
    assert [place["displayName"] for place in event["locations"]] == ["Room 1"]
    assert event["responseStatus"]["response"] == "organizer" and event["isOrganizer"] is True
    assert event["organizer"]["emailAddress"]["address"] == ANNA
    assert event["showAs"] == "busy" and event["reminderMinutesBeforeStart"] == 15 and event["isDraft"] is False
    assert "transactionId" not in event and "singleValueExtendedProperties" not in event
    assert event["categories"] == ["Red category"]


def test_get_patch_delete_with_change_keys(graph):
    event = create(graph)
    fetched = graph("GET", f"/me/events/{event['id']}").json()
    assert fetched["changeKey"] == event["changeKey"]
    patched = graph(
        "PATCH", f"/me/events/{event['id']}", json={"subject": "Renamed", "iCalUId": "ignored", "id": "ignored-too"}
    )
    assert patched.status_code == 200
    data = patched.json()
    assert data["subject"] == "Renamed" and data["id"] == event["id"] and data["iCalUId"] == event["iCalUId"]
    assert data["changeKey"] != event["changeKey"] and data["lastModifiedDateTime"] >= event["lastModifiedDateTime"]
    stale = graph(
        "PATCH", f"/me/events/{event['id']}", json={"subject": "x"}, headers={"If-Match": event["@odata.etag"]}
    )
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "ErrorIrresolvableConflict"
    fresh = graph(
        "PATCH", f"/me/events/{event['id']}", json={"subject": "y"}, headers={"If-Match": data["@odata.etag"]}
    )
    assert fresh.status_code == 200
    assert graph("DELETE", f"/me/events/{event['id']}").status_code == 204
    missing = graph("GET", f"/me/events/{event['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"] == dict(
        missing.json()["error"], code="ErrorItemNotFound", message="The specified object was not found in the store."
    )
    assert graph("DELETE", f"/me/events/{event['id']}").status_code == 404


def test_malformed_id_and_unknown_property(graph):
    bad = graph("GET", "/me/events/not-an-id")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ErrorInvalidIdMalformed"
    unknown = graph("POST", "/me/events", json=payload(colour="red"))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "RequestBodyRead"
    enum = graph("POST", "/me/events", json=payload(showAs="sleeping"))
    assert enum.status_code == 400
    backwards = graph("POST", "/me/events", json=payload(start="2025-03-10T11:00:00"))
    assert backwards.json()["error"]["code"] == "ErrorCalendarEndDateIsEarlierThanStartDate"
    broken = graph("POST", "/me/events", data=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_transaction_id_dedupes_retried_posts(graph, emu):
    emu.reset_counters()
    body = payload(transactionId="odoo:db:7:1", attendees=[{"emailAddress": {"address": "x@fabrikam.test"}}])
    first = graph("POST", "/me/events", json=body)
    second = graph("POST", "/me/events", json=dict(body, subject="retry with other subject"))
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"] and second.json()["subject"] == "Review"
    assert first.json()["transactionId"] == "odoo:db:7:1"
    assert emu.counters()["messages_sent"] == 1  # one invitation, not two
    listed = graph("GET", "/me/events", params={"$filter": "transactionId eq 'odoo:db:7:1'"}).json()["value"]
    assert [e["id"] for e in listed] == [first.json()["id"]]


def test_immutable_and_rest_ids(graph):
    rest = create(graph)
    immutable = graph("GET", f"/me/events/{rest['id']}", headers={"Prefer": 'IdType="ImmutableId"'})
    assert immutable.headers["Preference-Applied"] == 'IdType="ImmutableId"'
    immutable_id = immutable.json()["id"]
    assert immutable_id != rest["id"]
    assert graph("GET", f"/me/events/{immutable_id}").json()["id"] == rest["id"]  # both forms accepted as input
    assert graph("GET", f"/me/events/{immutable_id.swapcase()}").status_code in (400, 404)  # ids are case-sensitive
    created = graph("POST", "/me/events", json=payload(), headers={"Prefer": 'IdType="ImmutableId"'}).json()
    assert created["id"].startswith(immutable_id[:20])


def test_extended_property_filter_and_expand(graph):
    stamped = create(graph, singleValueExtendedProperties=[{"id": PROP, "value": "odoo:4242"}])
    create(graph, singleValueExtendedProperties=[{"id": PROP, "value": "odoo:9999"}])
    wanted = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'ODOO:4242')"
    found = graph("GET", "/me/events", params={"$filter": wanted}).json()["value"]
    assert [e["id"] for e in found] == [stamped["id"]]
    assert "singleValueExtendedProperties" not in found[0]
    lowered_keyword = PROP.replace("Name", "name").replace("{66F5", "{66f5")
    expanded = graph(
        "GET",
        f"/me/events/{stamped['id']}",
        params={"$expand": f"singleValueExtendedProperties($filter=id eq '{lowered_keyword}')"},
    ).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": PROP, "value": "odoo:4242"}]
    other_name = PROP.replace("OdooEventId", "odooeventid")  # the name part is case-sensitive (D.3)
    assert graph("GET", "/me/events", params={"$filter": wanted.replace(PROP, other_name)}).json()["value"] == []
    bad = graph("GET", "/me/events", params={"$filter": "singleValueExtendedProperties/Any(ep: ep/id eq)"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ErrorInvalidUrlQueryFilter"
    assert (
        graph("GET", f"/me/events/{stamped['id']}", params={"$expand": "singleValueExtendedProperties"}).status_code
        == 400
    )


def test_select_and_paging(graph):
    for index in range(3):
        create(graph, subject=f"page-{index}")
    first = graph("GET", "/me/events", params={"$top": "2", "$select": "subject,start"}).json()
    assert len(first["value"]) == 2 and set(first["value"][0]) == {"@odata.etag", "id", "subject", "start"}
    seen = [e["id"] for e in first["value"]]
    link = first["@odata.nextLink"]
    while link:
        assert link.startswith("https://127.0.0.1:")
        page = graph("GET", link[link.index("/v1.0") + len("/v1.0") :]).json()
        seen += [e["id"] for e in page["value"]]
        link = page.get("@odata.nextLink")
    assert len(seen) == len(set(seen)) >= 3
    assert graph("GET", "/me/events", params={"$select": "nope"}).status_code == 400


def test_all_day_validation_and_shape(graph):
    bad = graph(
        "POST", "/me/events", json=payload(start="2025-03-10T09:00:00", end="2025-03-11T09:00:00", isAllDay=True)
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "The duration of an event marked as All day must be at least 24 hours."
    short = graph(
        "POST", "/me/events", json=payload(start="2025-03-10T00:00:00", end="2025-03-10T12:00:00", isAllDay=True)
    )
    assert short.status_code == 400
    ok = graph(
        "POST",
        "/me/events",
        json=payload(start="2025-03-10", end="2025-03-12", tz="Pacific Standard Time", isAllDay=True),
    )
    assert ok.status_code == 201, ok.text
    event = ok.json()
    assert event["isAllDay"] is True
    assert event["start"] == {"dateTime": "2025-03-10T00:00:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2025-03-12T00:00:00.0000000", "timeZone": "UTC"}
    tokyo = graph("GET", f"/me/events/{event['id']}", headers={"Prefer": 'outlook.timezone="Tokyo Standard Time"'})
    assert tokyo.json()["start"] == {"dateTime": "2025-03-10T00:00:00.0000000", "timeZone": "Tokyo Standard Time"}


def test_time_zone_conversion_with_prefer(graph):
    event = create(graph, start="2025-07-01T09:00:00", end="2025-07-01T09:30:00", tz="Europe/Paris")
    assert event["start"]["dateTime"] == "2025-07-01T07:00:00.0000000"
    prefer = 'outlook.timezone="Pacific Standard Time", outlook.body-content-type="text"'
    response = graph("GET", f"/me/events/{event['id']}", headers={"Prefer": prefer})
    assert response.json()["start"] == {"dateTime": "2025-07-01T00:00:00.0000000", "timeZone": "Pacific Standard Time"}
    assert 'outlook.timezone="Pacific Standard Time"' in response.headers["Preference-Applied"]
    assert response.json()["body"]["contentType"] == "text"
    iana = graph("GET", f"/me/events/{event['id']}", headers={"Prefer": 'outlook.timezone="Asia/Kolkata"'}).json()
    assert iana["start"]["dateTime"] == "2025-07-01T12:30:00.0000000"
    unknown = graph("POST", "/me/events", json=payload(tz="Mars/Olympus"))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "TimeZoneNotSupportedException"


@pytest.mark.parametrize(
    "zone",
    [
        "W. Europe Standard Time",
        "GMT Standard Time",
        "Eastern Standard Time",
        "India Standard Time",
        "AUS Eastern Standard Time",
        "E. South America Standard Time",
        "Newfoundland Standard Time",
        "Central America Standard Time",
        "UTC",
    ],
)
def test_windows_time_zones_are_accepted(graph, zone):
    assert graph("POST", "/me/events", json=payload(tz=zone)).status_code == 201


def test_online_meeting_gets_a_teams_join_url(graph):
    event = create(
        graph,
        isOnlineMeeting=True,
        onlineMeetingProvider="teamsForBusiness",
        body={"contentType": "html", "content": "<p>Hi</p>"},
    )
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    join = event["onlineMeeting"]["joinUrl"]
    assert join.startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert join in event["body"]["content"]
    later = graph("PATCH", f"/me/events/{event['id']}", json={"isOnlineMeeting": False}).json()
    assert later["isOnlineMeeting"] is True and later["onlineMeeting"]["joinUrl"] == join  # changes ignored (A.1)


def test_users_path_and_calendar_paths(graph, emu):
    event = create(graph)
    calendar_id = graph("GET", "/me/calendar").json()["id"]
    assert graph("GET", f"/users/{ANNA}/events/{event['id']}").status_code == 200
    assert graph("GET", f"/me/calendar/events/{event['id']}").status_code == 200
    assert graph("GET", f"/me/calendars/{calendar_id}/events/{event['id']}").status_code == 200
    assert graph("GET", f"/me/calendars/other/events/{event['id']}").status_code == 404


def test_outlook_edits_bump_change_keys_without_app_messages(emu, graph):
    emu.reset_counters()
    created = emu.outlook.create_event(
        ANNA, payload(subject="From Outlook", attendees=[{"emailAddress": {"address": BOB}}])
    )
    assert created["id"].startswith("AAkALg")
    via_graph = graph("GET", f"/me/events/{created['id']}").json()
    updated = emu.outlook.update_event(ANNA, created["id"], {"subject": "Edited in Outlook"})
    assert updated["changeKey"] != via_graph["changeKey"]
    assert emu.outlook.get_event(ANNA, created["id"])["subject"] == "Edited in Outlook"
    counters = emu.counters()
    assert counters["messages_sent"] == 0
    assert [m["kind"] for m in counters["outlook_message_log"]] == ["invitation", "update"]
    raw = emu.outlook.list_events(ANNA)
    assert any(e["id"] == created["id"] for e in raw)
    emu.outlook.delete_event(ANNA, created["id"])
    assert graph("GET", f"/me/events/{created['id']}").status_code == 404
    assert emu.counters()["outlook_messages"] == 3


@pytest.mark.parametrize(
    "field, value",
    [
        ("attendees", ["not an object"]),
        ("attendees", [{"emailAddress": "x@y.z"}]),
        ("attendees", [{"emailAddress": {}}]),
        ("singleValueExtendedProperties", ["x"]),
        ("singleValueExtendedProperties", [{"id": "bogus", "value": "1"}]),
        ("transactionId", {"a": 1}),
        ("body", {"contentType": 5, "content": "x"}),
        ("start", {"dateTime": "2025-13-01"}),
        ("start", "tomorrow"),
        ("location", {"displayName": 5}),
        ("categories", "Red"),
        ("isReminderOn", "yes"),
        ("reminderMinutesBeforeStart", "15"),
        ("recurrence", {"pattern": {"type": "daily"}, "range": 5}),
    ],
)
def test_bad_payloads_are_graph_shaped_400s(graph, field, value):
    response = graph("POST", "/me/events", json=payload(**{field: value}))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"] and error["innerError"]["request-id"]


def test_next_link_keeps_the_filter(graph):
    for index in range(3):
        create(graph, subject=f"linked {index}", singleValueExtendedProperties=[{"id": PROP, "value": "odoo:link"}])
    wanted = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'odoo:link')"
    page = graph("GET", "/me/events", params={"$filter": wanted, "$top": "2"}).json()
    link = page["@odata.nextLink"]
    assert "%20" in link and "+" not in link and "$top=2" in link and "$skip=2" in link
    rest = graph("GET", link[link.index("/v1.0") + len("/v1.0") :]).json()
    assert sorted(e["subject"] for e in page["value"] + rest["value"]) == [f"linked {i}" for i in range(3)]
    assert "@odata.nextLink" not in rest
