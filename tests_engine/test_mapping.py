"""engine.mapping and engine.timezones: the mapping table one row at a time, each way (Graph -> Odoo with
``from_graph``, Odoo -> Graph with ``to_graph`` / ``graph_patch``), time zones east and west of UTC, all-day
events on DST edges, fingerprints and snapshots; then round trips through the emulator (graph-reference A, F, H)."""

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from emulator import Emulator
from engine.errors import MappingError, UnknownTimeZone
from engine.mapping import (
    DEFAULT_ATTENDEE_CAP,
    MEETING_FIELDS,
    RESPONSE_TO_STATE,
    Attendee,
    EventData,
    fingerprint,
    from_graph,
    from_snapshot,
    graph_patch,
    snapshot,
    to_graph,
    without_private_details,
)
from engine.timezones import WINDOWS_TO_IANA, to_iana, utc_naive, zone

ANNA, BOB, CAROL, DAVE = "anna@contoso.test", "bob@fabrikam.test", "carol@fabrikam.test", "dave@fabrikam.test"
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"
# (label a Prefer'd response carries, IANA name, 09:00 local on 2025-03-10 in UTC)
ZONES = {
    "honolulu": ("Hawaiian Standard Time", "Pacific/Honolulu", datetime(2025, 3, 10, 19, 0)),
    "utc": ("UTC", "UTC", datetime(2025, 3, 10, 9, 0)),
    "tonga": ("Tonga Standard Time", "Pacific/Tongatapu", datetime(2025, 3, 9, 20, 0)),
}
# spring-forward and fall-back days
DST_EDGES = [
    ("Romance Standard Time", "Europe/Paris", date(2025, 3, 30)),
    ("Romance Standard Time", "Europe/Paris", date(2025, 10, 26)),
    ("Eastern Standard Time", "America/New_York", date(2025, 3, 9)),
    ("Eastern Standard Time", "America/New_York", date(2025, 11, 2)),
]


def wire(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000")


def graph_event(**overrides):
    """A Graph event as Exchange returns it without ``Prefer: outlook.timezone`` (times in UTC)."""
    payload = {
        "id": "AAMkAGI1-1",
        "iCalUId": "040000008200E00074C5B7101A82E00800000000-1",
        "changeKey": "ck-1",
        "subject": "Quarterly review",
        "body": {"contentType": "html", "content": "<p>Agenda</p>"},
        "start": {"dateTime": "2025-03-10T19:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-10T20:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Hawaiian Standard Time",
        "originalEndTimeZone": "Hawaiian Standard Time",
        "isAllDay": False,
        "location": {"displayName": "Room 1", "locationType": "default"},
        "attendees": [],
        "organizer": {"emailAddress": {"name": "Anna Smith", "address": ANNA}},
        "sensitivity": "normal",
        "showAs": "busy",
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "isOnlineMeeting": False,
        "onlineMeeting": None,
        "categories": [],
        "type": "singleInstance",
        "isOrganizer": True,
        "isCancelled": False,
        "isDraft": False,
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
    }
    payload.update(overrides)
    return payload


def person(address, response="none", kind="required", name=None):
    return {
        "type": kind,
        "status": {"response": response, "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"name": name if name is not None else address.split("@")[0].title(), "address": address},
    }


def event(**overrides):
    """The same meeting as Odoo sees it."""
    values = {
        "name": "Quarterly review",
        "start": datetime(2025, 3, 10, 19),
        "stop": datetime(2025, 3, 10, 20),
        "timezone": "Pacific/Honolulu",
        "description": "<p>Agenda</p>",
        "location": "Room 1",
        "organizer_email": ANNA,
        "organizer_name": "Anna Smith",
        "alarm_minutes": 15,
    }
    values.update(overrides)
    return EventData(**values)


def allday(first, last, tz="UTC", **overrides):
    return event(start=None, stop=None, allday=True, start_date=first, stop_date=last, timezone=tz, **overrides)


def test_the_base_payload_maps_to_the_base_event():
    assert from_graph(graph_event()) == event()


# ------------------------------------------------------------
# Graph -> Odoo, one row at a time
# ------------------------------------------------------------


@pytest.mark.parametrize(
    "subject, name",
    [
        ("Quarterly review", "Quarterly review"),
        ("  Budget  ", "Budget"),
        ("", "(No subject)"),
        (None, "(No subject)"),
    ],
)
def test_inbound_subject_is_the_name(subject, name):
    assert from_graph(graph_event(subject=subject)).name == name


def test_inbound_html_body_is_the_description_without_exchange_document_wrapper():
    wrapped = (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
        "</head>\r\n<body>\r\n<p>Agenda &amp; <b>notes</b></p>\r\n</body>\r\n</html>\r\n"
    )
    assert (
        from_graph(graph_event(body={"contentType": "html", "content": wrapped})).description
        == "<p>Agenda &amp; <b>notes</b></p>"
    )
    plain_html = "<div>Already <i>bare</i></div>"
    assert from_graph(graph_event(body={"contentType": "html", "content": plain_html})).description == plain_html


def test_inbound_text_body_becomes_escaped_html():
    body = {"contentType": "text", "content": "Bring <laptop> & charger\r\nRoom 2 > Room 1"}
    assert (
        from_graph(graph_event(body=body)).description
        == "<p>Bring &lt;laptop&gt; &amp; charger<br>Room 2 &gt; Room 1</p>"
    )


@pytest.mark.parametrize("body", [None, {}, {"contentType": "html", "content": ""}, {"contentType": "text"}])
def test_inbound_empty_body_is_an_empty_description(body):
    assert from_graph(graph_event(body=body)).description == ""


@pytest.mark.parametrize("where", ["honolulu", "utc", "tonga"])
def test_inbound_start_end_in_utc_from_a_prefer_time_zone(where):
    label, iana, start_utc = ZONES[where]
    payload = graph_event(
        start={"dateTime": "2025-03-10T09:00:00.0000000", "timeZone": label},
        end={"dateTime": "2025-03-10T10:30:00.0000000", "timeZone": label},
        originalStartTimeZone=label,
        originalEndTimeZone=label,
    )
    data = from_graph(payload)
    assert (data.start, data.stop) == (start_utc, start_utc + timedelta(minutes=90))
    assert data.timezone == iana and data.allday is False and data.start_date is None


@pytest.mark.parametrize("where", ["honolulu", "utc", "tonga"])
def test_inbound_start_end_already_in_utc_keep_the_event_time_zone(where):
    label, iana, start_utc = ZONES[where]
    payload = graph_event(
        start={"dateTime": wire(start_utc), "timeZone": "UTC"},
        end={"dateTime": wire(start_utc + timedelta(hours=1)), "timeZone": "UTC"},
        originalStartTimeZone=label,
    )
    data = from_graph(payload)
    assert (data.start, data.stop, data.timezone) == (start_utc, start_utc + timedelta(hours=1), iana)


def test_inbound_iana_labels_are_understood_too():
    payload = graph_event(
        start={"dateTime": "2025-03-10T09:00:00.0000000", "timeZone": "Pacific/Tongatapu"},
        end={"dateTime": "2025-03-10T10:00:00.0000000", "timeZone": "Pacific/Tongatapu"},
        originalStartTimeZone="Pacific/Tongatapu",
    )
    data = from_graph(payload)
    assert (data.start, data.timezone) == (datetime(2025, 3, 9, 20), "Pacific/Tongatapu")


def test_inbound_unknown_original_time_zone_falls_back_to_utc_label():
    data = from_graph(graph_event(originalStartTimeZone="tzone://Microsoft/Custom"))
    assert data.timezone == "UTC" and data.start == datetime(2025, 3, 10, 19)


@pytest.mark.parametrize("label", ["UTC", "Hawaiian Standard Time", "Tonga Standard Time"])
@pytest.mark.parametrize(
    "original, iana",
    [("Hawaiian Standard Time", "Pacific/Honolulu"), ("Tonga Standard Time", "Pacific/Tongatapu"), ("UTC", "UTC")],
)
def test_inbound_all_day_dates_never_shift(label, original, iana):
    # Exchange returns all-day events midnight to midnight whatever zone was asked for (graph-reference F)
    payload = graph_event(
        isAllDay=True,
        originalStartTimeZone=original,
        start={"dateTime": "2025-03-10T00:00:00.0000000", "timeZone": label},
        end={"dateTime": "2025-03-11T00:00:00.0000000", "timeZone": label},
    )
    data = from_graph(payload)
    assert data.allday is True and (data.start, data.stop) == (None, None)
    assert (data.start_date, data.stop_date, data.timezone) == (date(2025, 3, 10), date(2025, 3, 10), iana)


def test_inbound_all_day_end_is_exclusive_and_odoo_stop_date_inclusive():
    payload = graph_event(
        isAllDay=True,
        start={"dateTime": "2025-03-10", "timeZone": "UTC"},
        end={"dateTime": "2025-03-13", "timeZone": "UTC"},
    )
    data = from_graph(payload)
    assert (data.start_date, data.stop_date) == (date(2025, 3, 10), date(2025, 3, 12))


@pytest.mark.parametrize("windows, iana, day", DST_EDGES)
def test_inbound_all_day_on_dst_edges_keeps_its_dates(windows, iana, day):
    for label in ("UTC", windows, iana):
        one_day = graph_event(
            isAllDay=True,
            originalStartTimeZone=windows,
            start={"dateTime": f"{day}T00:00:00.0000000", "timeZone": label},
            end={"dateTime": f"{day + timedelta(days=1)}T00:00:00.0000000", "timeZone": label},
        )
        across = graph_event(
            isAllDay=True,
            originalStartTimeZone=windows,
            start={"dateTime": f"{day - timedelta(days=1)}T00:00:00.0000000", "timeZone": label},
            end={"dateTime": f"{day + timedelta(days=2)}T00:00:00.0000000", "timeZone": label},
        )
        assert (from_graph(one_day).start_date, from_graph(one_day).stop_date) == (day, day)
        assert (from_graph(across).start_date, from_graph(across).stop_date) == (
            day - timedelta(days=1),
            day + timedelta(days=1),
        )
        assert from_graph(one_day).timezone == iana


@pytest.mark.parametrize(
    "location, expected",
    [
        ({"displayName": "Room 1"}, "Room 1"),
        ({"displayName": "  Lobby  ", "address": {"city": "Lyon"}}, "Lobby"),
        ({"displayName": ""}, ""),
        (None, ""),
    ],
)
def test_inbound_location_display_name_is_the_location(location, expected):
    assert from_graph(graph_event(location=location)).location == expected


def test_inbound_attendees_lower_cased_sorted_with_names_and_optional_flag():
    attendees = [
        person("Carol@Fabrikam.TEST", "accepted", name="Carol C"),
        person("BOB@fabrikam.test", "declined", kind="optional", name=""),
    ]
    data = from_graph(graph_event(attendees=attendees))
    assert data.attendees == (
        Attendee(BOB, BOB, "declined", optional=True),
        Attendee(CAROL, "Carol C", "accepted", optional=False),
    )


@pytest.mark.parametrize("response, state", sorted(RESPONSE_TO_STATE.items()) + [("unheardOf", "needsAction")])
def test_inbound_attendee_response_is_the_attendee_state(response, state):
    data = from_graph(graph_event(attendees=[person(BOB, response)]))
    assert [a.state for a in data.attendees] == [state]


def test_inbound_response_table_is_the_documented_one():
    assert RESPONSE_TO_STATE == {
        "none": "needsAction",
        "notResponded": "needsAction",
        "organizer": "accepted",
        "accepted": "accepted",
        "tentativelyAccepted": "tentative",
        "declined": "declined",
    }


def test_inbound_attendee_without_status_needs_action():
    data = from_graph(graph_event(attendees=[{"type": "required", "emailAddress": {"address": BOB}}]))
    assert data.attendees == (Attendee(BOB, BOB, "needsAction"),)


def test_inbound_resource_attendees_and_addressless_entries_are_skipped():
    attendees = [
        person("room.1@contoso.test", "accepted", kind="resource"),
        person(BOB),
        {"type": "required", "emailAddress": {"name": "No address"}},
        {"type": "required", "emailAddress": {"address": "not-an-email"}},
        "junk",
    ]
    assert [a.email for a in from_graph(graph_event(attendees=attendees)).attendees] == [BOB]


def test_inbound_duplicate_attendees_collapse_to_one():
    data = from_graph(graph_event(attendees=[person(BOB, "none"), person(BOB.upper(), "accepted")]))
    assert [(a.email, a.state) for a in data.attendees] == [(BOB, "accepted")]


def test_inbound_attendee_cap_keeps_the_first_fifty_alphabetically_and_lists_the_rest():
    addresses = [f"guest{n:02d}@fabrikam.test" for n in range(DEFAULT_ATTENDEE_CAP + 3)]
    shuffled = addresses[1::2] + addresses[::2]
    data = from_graph(graph_event(attendees=[person(a, name=f"Guest {a[5:7]}") for a in shuffled]))
    assert DEFAULT_ATTENDEE_CAP == 50
    assert [a.email for a in data.attendees] == addresses[:50]
    assert (
        data.description == "<p>Agenda</p><p><em>Other attendees (3): Guest 50 &lt;guest50@fabrikam.test&gt;, "
        "Guest 51 &lt;guest51@fabrikam.test&gt;, Guest 52 &lt;guest52@fabrikam.test&gt;</em></p>"
    )


def test_inbound_attendee_cap_is_a_parameter_and_overflow_names_are_escaped():
    attendees = [person(BOB), person(CAROL, name="Carol <admin> & co"), person(DAVE, name="")]
    data = from_graph(graph_event(attendees=attendees), attendee_cap=1)
    assert [a.email for a in data.attendees] == [BOB]
    assert data.description.endswith(
        "<p><em>Other attendees (2): Carol &lt;admin&gt; &amp; co &lt;carol@fabrikam.test&gt;, "
        "dave@fabrikam.test</em></p>"
    )
    assert "<admin>" not in data.description


@pytest.mark.parametrize(
    "organizer, email, name",
    [
        ({"emailAddress": {"name": "Anna Smith", "address": "Anna@Contoso.TEST"}}, ANNA, "Anna Smith"),
        ({"emailAddress": {"address": "partner@fabrikam.test"}}, "partner@fabrikam.test", ""),
        (None, "", ""),
    ],
)
def test_inbound_organizer_is_organizer_email_and_name(organizer, email, name):
    data = from_graph(graph_event(organizer=organizer))
    assert (data.organizer_email, data.organizer_name) == (email, name)


@pytest.mark.parametrize(
    "sensitivity, privacy",
    [
        ("normal", "public"),
        ("personal", "public"),
        ("private", "private"),
        ("confidential", "private"),
        (None, "public"),
    ],
)
def test_inbound_sensitivity_is_the_privacy(sensitivity, privacy):
    assert from_graph(graph_event(sensitivity=sensitivity)).privacy == privacy


@pytest.mark.parametrize(
    "show_as, expected",
    [
        ("busy", "busy"),
        ("oof", "busy"),
        ("workingElsewhere", "busy"),
        ("free", "free"),
        ("tentative", "free"),
        ("unknown", "free"),
    ],
)
def test_inbound_show_as(show_as, expected):
    assert from_graph(graph_event(showAs=show_as)).show_as == expected


def test_inbound_missing_show_as_is_busy():
    payload = graph_event()
    del payload["showAs"]
    assert from_graph(payload).show_as == "busy"


@pytest.mark.parametrize(
    "on, minutes, alarm",
    [
        (True, 15, 15),
        (True, 0, 0),
        (True, 1440, 1440),
        (False, 15, None),
        (True, None, None),
    ],
)
def test_inbound_reminder_is_the_alarm(on, minutes, alarm):
    assert from_graph(graph_event(isReminderOn=on, reminderMinutesBeforeStart=minutes)).alarm_minutes == alarm


@pytest.mark.parametrize(
    "online, meeting, url",
    [
        (True, {"joinUrl": JOIN_URL, "conferenceId": "123"}, JOIN_URL),
        (False, {"joinUrl": JOIN_URL}, ""),  # a leftover link of a meeting that is no longer online
        (True, None, ""),  # online, link not minted yet
        (False, None, ""),
    ],
)
def test_inbound_online_meeting_is_the_videocall_location(online, meeting, url):
    assert from_graph(graph_event(isOnlineMeeting=online, onlineMeeting=meeting)).videocall_location == url


def test_inbound_categories_sorted_without_duplicates_or_blanks():
    data = from_graph(graph_event(categories=["Red category", "Blue category", " ", "Red category", "Green"]))
    assert data.categories == ("Blue category", "Green", "Red category")


# ------------------------------------------------------------
# Graph -> Odoo: broken payloads raise MappingError (never anything else)
# ------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"start": {"timeZone": "UTC"}}, "start has no dateTime"),
        ({"end": {"dateTime": "tomorrow", "timeZone": "UTC"}}, "end has an invalid dateTime"),
        ({"end": {"dateTime": "2025-03-10T18:00:00", "timeZone": "UTC"}}, "ends before it starts"),
        ({"start": "2025-03-10T19:00:00"}, "dateTimeTimeZone"),
        ({"start": {"dateTime": "2025-03-10T09:00:00", "timeZone": "Mars Standard Time"}}, "Mars Standard Time"),
        ({"isAllDay": True, "start": {"dateTime": "2025-3-1", "timeZone": "UTC"}}, "start has no date"),
        ({"isAllDay": True, "end": {"dateTime": "2025-13-45T00:00:00", "timeZone": "UTC"}}, "end has an invalid date"),
    ],
)
def test_inbound_broken_times_raise_mapping_error(overrides, message):
    with pytest.raises(MappingError, match=message):
        from_graph(graph_event(**overrides))


def test_inbound_unknown_zone_is_an_unknown_time_zone_error():
    with pytest.raises(UnknownTimeZone):
        from_graph(graph_event(start={"dateTime": "2025-03-10T09:00:00", "timeZone": "Nowhere/Special"}))


@pytest.mark.parametrize("payload", [None, [], "event", 42])
def test_inbound_non_object_raises_mapping_error(payload):
    with pytest.raises(MappingError):
        from_graph(payload)


WRONG_VALUES = [None, 0, 7, True, "text", [], ["x"], [1, {}], {}, {"a": 1}, {"dateTime": 5, "timeZone": []}]
MAPPED_KEYS = [
    "subject",
    "body",
    "start",
    "end",
    "originalStartTimeZone",
    "isAllDay",
    "location",
    "attendees",
    "organizer",
    "sensitivity",
    "showAs",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "isOnlineMeeting",
    "onlineMeeting",
    "categories",
]


@pytest.mark.parametrize("key", MAPPED_KEYS)
def test_inbound_any_wrongly_typed_property_gives_data_or_mapping_error(key):
    base = graph_event(attendees=[person(BOB)], isOnlineMeeting=True, onlineMeeting={"joinUrl": JOIN_URL})
    for value in WRONG_VALUES:
        for payload in (
            dict(base, **{key: value}),
            dict(base, attendees=[dict(person(BOB), **{"status": value})]),
            dict(base, attendees=[{"emailAddress": value}]),
            dict(base, organizer={"emailAddress": value}),
        ):
            try:
                data = from_graph(payload)
            except MappingError:
                continue
            assert isinstance(data, EventData)
            assert all(
                isinstance(getattr(data, name), str)
                for name in (
                    "name",
                    "description",
                    "location",
                    "videocall_location",
                    "organizer_email",
                    "organizer_name",
                )
            )
            assert all(isinstance(c, str) for c in data.categories)
            assert data.alarm_minutes is None or type(data.alarm_minutes) is int


# ------------------------------------------------------------
# Odoo -> Graph, one row at a time
# ------------------------------------------------------------


def test_outbound_body_has_every_synced_property_and_nothing_read_only():
    body = to_graph(event(attendees=(Attendee(BOB, "Bob"),), categories=("Blue",)))
    assert set(body) == {
        "subject",
        "body",
        "location",
        "sensitivity",
        "showAs",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "categories",
        "attendees",
        "isAllDay",
        "start",
        "end",
    }
    assert json.loads(json.dumps(body)) == body


def test_outbound_name_is_the_subject():
    assert to_graph(event(name="Budget")).get("subject") == "Budget"
    assert graph_patch(event(), event(name="Budget")) == {"subject": "Budget"}


def test_outbound_description_is_an_html_body():
    assert to_graph(event(description="<p>Hi &amp; bye</p>"))["body"] == {
        "contentType": "html",
        "content": "<p>Hi &amp; bye</p>",
    }
    assert to_graph(event(description=""))["body"] == {"contentType": "html", "content": ""}
    assert graph_patch(event(), event(description="<p>New</p>")) == {
        "body": {"contentType": "html", "content": "<p>New</p>"}
    }


@pytest.mark.parametrize("where", ["honolulu", "utc", "tonga"])
def test_outbound_start_stop_in_the_event_time_zone(where):
    _label, iana, start_utc = ZONES[where]
    body = to_graph(event(start=start_utc, stop=start_utc + timedelta(minutes=90), timezone=iana))
    assert body["isAllDay"] is False
    assert body["start"] == {"dateTime": "2025-03-10T09:00:00.0000000", "timeZone": iana}
    assert body["end"] == {"dateTime": "2025-03-10T10:30:00.0000000", "timeZone": iana}


@pytest.mark.parametrize("where", ["honolulu", "utc", "tonga"])
def test_outbound_moved_event_patches_start_end_and_all_day_together(where):
    _label, iana, start_utc = ZONES[where]
    before = event(start=start_utc, stop=start_utc + timedelta(hours=1), timezone=iana)
    after = replace(before, stop=start_utc + timedelta(hours=2))
    assert graph_patch(before, after) == {
        "isAllDay": False,
        "start": {"dateTime": "2025-03-10T09:00:00.0000000", "timeZone": iana},
        "end": {"dateTime": "2025-03-10T11:00:00.0000000", "timeZone": iana},
    }


def test_outbound_time_zone_change_alone_is_not_a_change():
    # the same instants written in another zone: nothing Exchange should mail the attendees about
    before = event(timezone="Pacific/Honolulu")
    assert graph_patch(before, replace(before, timezone="Europe/Paris")) == {}
    assert graph_patch(before, replace(before, timezone="UTC")) == {}


@pytest.mark.parametrize("tz", ["Pacific/Honolulu", "UTC", "Pacific/Tongatapu"])
def test_outbound_all_day_dates_with_exclusive_end_and_no_shift(tz):
    body = to_graph(allday(date(2025, 3, 10), date(2025, 3, 12), tz))
    assert body["isAllDay"] is True
    assert body["start"] == {"dateTime": "2025-03-10T00:00:00.0000000", "timeZone": tz}
    assert body["end"] == {"dateTime": "2025-03-13T00:00:00.0000000", "timeZone": tz}


@pytest.mark.parametrize("windows, iana, day", DST_EDGES)
def test_outbound_all_day_on_dst_edges_keeps_its_dates(windows, iana, day):
    body = to_graph(allday(day, day, iana))
    assert (body["start"]["dateTime"], body["end"]["dateTime"]) == (
        f"{day}T00:00:00.0000000",
        f"{day + timedelta(days=1)}T00:00:00.0000000",
    )
    assert from_graph(dict(body, organizer={"emailAddress": {"name": "Anna Smith", "address": ANNA}})) == allday(
        day, day, iana
    )


def test_outbound_timed_to_all_day_patches_the_three_time_properties():
    before = event()
    after = allday(date(2025, 3, 10), date(2025, 3, 10), "Pacific/Honolulu")
    patch = graph_patch(before, after)
    assert set(patch) == {"isAllDay", "start", "end"} and patch["isAllDay"] is True
    assert patch["start"]["dateTime"] == "2025-03-10T00:00:00.0000000"
    assert graph_patch(after, before)["isAllDay"] is False


def test_outbound_all_day_extended_by_a_day_patches_both_ends():
    before = allday(date(2025, 3, 30), date(2025, 3, 30), "Europe/Paris")
    patch = graph_patch(before, replace(before, stop_date=date(2025, 3, 31)))
    assert patch == {
        "isAllDay": True,
        "start": {"dateTime": "2025-03-30T00:00:00.0000000", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2025-04-01T00:00:00.0000000", "timeZone": "Europe/Paris"},
    }


@pytest.mark.parametrize("start_utc", [datetime(2025, 10, 26, 0, 30), datetime(2025, 10, 26, 1, 30)])
def test_outbound_repeated_fall_back_hour_keeps_the_instant(start_utc):
    # 00:30 and 01:30 UTC are both 02:30 in Paris that night: the wall-clock time alone is ambiguous
    data = event(start=start_utc, stop=start_utc + timedelta(minutes=30), timezone="Europe/Paris")
    mapped = from_graph(dict(to_graph(data), organizer=graph_event()["organizer"]))
    assert (mapped.start, mapped.stop) == (data.start, data.stop)


def test_outbound_location_is_the_display_name():
    assert to_graph(event(location="Room 9"))["location"] == {"displayName": "Room 9"}
    assert to_graph(event(location=""))["location"] == {"displayName": ""}
    assert graph_patch(event(), event(location="Lobby")) == {"location": {"displayName": "Lobby"}}


def test_outbound_attendees_without_the_organizer_and_without_answers():
    data = event(
        attendees=(
            Attendee(ANNA, "Anna Smith", "accepted"),
            Attendee(BOB, "Bob", "declined"),
            Attendee(CAROL, "", "tentative", optional=True),
        )
    )
    assert to_graph(data)["attendees"] == [
        {"type": "required", "emailAddress": {"address": BOB, "name": "Bob"}},
        {"type": "optional", "emailAddress": {"address": CAROL, "name": CAROL}},
    ]
    assert to_graph(data, with_attendees=False)["attendees"] == []


def test_outbound_attendee_answers_alone_are_no_patch():
    before = event(attendees=(Attendee(BOB, "Bob", "needsAction"),))
    assert graph_patch(before, replace(before, attendees=(Attendee(BOB, "Bob", "accepted"),))) == {}


def test_outbound_added_attendee_patches_the_attendee_list_only():
    before = event(attendees=(Attendee(BOB, "Bob"),))
    after = replace(before, attendees=(Attendee(BOB, "Bob"), Attendee(CAROL, "Carol")))
    assert graph_patch(before, after) == {
        "attendees": [
            {"type": "required", "emailAddress": {"address": BOB, "name": "Bob"}},
            {"type": "required", "emailAddress": {"address": CAROL, "name": "Carol"}},
        ]
    }
    assert graph_patch(before, after, with_attendees=False) == {}


def test_outbound_organizer_is_never_written():
    # organizer is read-only in Graph: the mailbox that creates the event is its organizer
    data = event(organizer_email=BOB, organizer_name="Bob", attendees=(Attendee(BOB, "Bob"), Attendee(CAROL)))
    body = to_graph(data)
    assert "organizer" not in body
    assert [a["emailAddress"]["address"] for a in body["attendees"]] == [CAROL]
    assert graph_patch(event(), replace(event(), organizer_email=BOB, organizer_name="Bob")) == {}


@pytest.mark.parametrize("privacy, sensitivity", [("public", "normal"), ("private", "private")])
def test_outbound_privacy_is_the_sensitivity(privacy, sensitivity):
    assert to_graph(event(privacy=privacy))["sensitivity"] == sensitivity
    other = "public" if privacy == "private" else "private"
    assert graph_patch(event(privacy=other), event(privacy=privacy)) == {"sensitivity": sensitivity}


@pytest.mark.parametrize("show_as", ["busy", "free"])
def test_outbound_show_as(show_as):
    assert to_graph(event(show_as=show_as))["showAs"] == show_as
    other = "free" if show_as == "busy" else "busy"
    assert graph_patch(event(show_as=other), event(show_as=show_as)) == {"showAs": show_as}
    assert to_graph(event(show_as="unheard-of"))["showAs"] == "free"


@pytest.mark.parametrize(
    "alarm, expected",
    [
        (30, {"isReminderOn": True, "reminderMinutesBeforeStart": 30}),
        (0, {"isReminderOn": True, "reminderMinutesBeforeStart": 0}),
        (None, {"isReminderOn": False}),
    ],
)
def test_outbound_alarm_is_the_reminder(alarm, expected):
    body = to_graph(event(alarm_minutes=alarm))
    assert {k: body[k] for k in ("isReminderOn", "reminderMinutesBeforeStart") if k in body} == expected
    assert graph_patch(event(alarm_minutes=None), event(alarm_minutes=alarm)) == (
        {"isReminderOn": True, "reminderMinutesBeforeStart": alarm} if alarm is not None else {}
    )
    assert graph_patch(event(alarm_minutes=15), event(alarm_minutes=alarm)) == {
        k: v for k, v in expected.items() if to_graph(event(alarm_minutes=15)).get(k) != v
    }


def test_outbound_videocall_location_is_not_written():
    # isOnlineMeeting would make Exchange mint its own Teams link (onlineMeeting is read-only): Odoo's link
    # stays in Odoo, Outlook's stays in Outlook
    body = to_graph(event(videocall_location=JOIN_URL))
    assert not {"isOnlineMeeting", "onlineMeeting", "onlineMeetingProvider", "onlineMeetingUrl"} & set(body)
    assert graph_patch(event(), event(videocall_location="https://odoo.test/calendar/join_videocall/x")) == {}


def test_outbound_categories():
    assert to_graph(event(categories=("Blue", "Red")))["categories"] == ["Blue", "Red"]
    assert to_graph(event())["categories"] == []
    assert graph_patch(event(), event(categories=("Blue",))) == {"categories": ["Blue"]}


def test_outbound_unchanged_event_is_an_empty_patch():
    data = event(attendees=(Attendee(BOB, "Bob"),), categories=("Blue",), privacy="private")
    assert graph_patch(data, replace(data)) == {}
    assert graph_patch(data, replace(data, extra={"anything": 1})) == {}


def test_outbound_unknown_time_zone_raises():
    with pytest.raises(UnknownTimeZone):
        to_graph(event(timezone="Nowhere/Special"))


@pytest.mark.parametrize(
    "data",
    [
        event(),
        event(
            timezone="Pacific/Tongatapu",
            attendees=(Attendee(BOB, "Bob"), Attendee(CAROL, "Carol", optional=True)),
            privacy="private",
            show_as="free",
            alarm_minutes=None,
            categories=("Blue", "Red"),
            location="",
        ),
        allday(date(2025, 3, 10), date(2025, 3, 12), "Pacific/Honolulu"),
        event(start=datetime(2025, 3, 30, 0, 30), stop=datetime(2025, 3, 30, 2, 30), timezone="Europe/Paris"),
    ],
)
def test_from_graph_reads_back_what_to_graph_writes(data):
    payload = dict(to_graph(data), organizer={"emailAddress": {"name": "Anna Smith", "address": ANNA}})
    assert from_graph(payload) == data


# ------------------------------------------------------------
# Fingerprints, snapshots, private events
# ------------------------------------------------------------

MEETING_CHANGES = {
    "name": {"name": "Other"},
    "start": {"start": datetime(2025, 3, 10, 18)},
    "stop": {"stop": datetime(2025, 3, 10, 21)},
    "description": {"description": "<p>x</p>"},
    "location": {"location": "Lobby"},
    "videocall_location": {"videocall_location": JOIN_URL},
    "privacy": {"privacy": "private"},
    "show_as": {"show_as": "free"},
    "organizer_email": {"organizer_email": BOB},
    "alarm_minutes": {"alarm_minutes": None},
    "categories": {"categories": ("Blue",)},
    "attendee added": {"attendees": (Attendee(BOB),)},
}


@pytest.mark.parametrize("change", sorted(MEETING_CHANGES))
def test_fingerprint_changes_with_each_meeting_field(change):
    assert fingerprint(replace(event(), **MEETING_CHANGES[change])) != fingerprint(event())


def test_fingerprint_covers_every_meeting_field():
    assert set(MEETING_FIELDS) == {
        "name",
        "start",
        "stop",
        "allday",
        "start_date",
        "stop_date",
        "description",
        "location",
        "videocall_location",
        "privacy",
        "show_as",
        "organizer_email",
        "alarm_minutes",
        "categories",
    }


def test_fingerprint_of_all_day_events_follows_their_dates():
    base = allday(date(2025, 3, 10), date(2025, 3, 10))
    assert fingerprint(replace(base, stop_date=date(2025, 3, 11))) != fingerprint(base)
    assert fingerprint(replace(base, start_date=date(2025, 3, 9))) != fingerprint(base)
    assert fingerprint(base) != fingerprint(event())


def test_fingerprint_ignores_answers_names_zone_and_extra_unless_answers_are_asked_for():
    base = event(attendees=(Attendee(BOB, "Bob", "needsAction"),))
    answered = replace(base, attendees=(Attendee(BOB, "Robert", "accepted"),))
    assert fingerprint(answered) == fingerprint(base)
    assert fingerprint(answered, with_attendee_states=True) != fingerprint(base, with_attendee_states=True)
    assert fingerprint(replace(base, organizer_name="Someone", timezone="UTC", extra={"x": 1})) == fingerprint(base)
    optional = replace(base, attendees=(Attendee(BOB, "Bob", "needsAction", optional=True),))
    assert fingerprint(optional) != fingerprint(base)


def test_fingerprint_is_a_stable_sha256():
    value = fingerprint(event())
    assert len(value) == 64 and int(value, 16) >= 0
    assert fingerprint(event()) == value == fingerprint(from_snapshot(snapshot(event())))


@pytest.mark.parametrize(
    "data",
    [
        event(
            attendees=(Attendee(BOB, "Bob", "accepted", True), Attendee(CAROL)),
            categories=("A", "B"),
            alarm_minutes=None,
            extra={"ignored": object()},
        ),
        allday(date(2025, 10, 26), date(2025, 10, 28), "Europe/Paris", privacy="private", show_as="free"),
    ],
)
def test_snapshot_is_json_and_rebuilds_the_event(data):
    values = snapshot(data)
    assert "extra" not in values
    assert json.loads(json.dumps(values)) == values
    assert from_snapshot(json.loads(json.dumps(values))) == data
    assert fingerprint(from_snapshot(values)) == fingerprint(data)


def test_without_private_details_keeps_times_and_subject_only_for_people():
    data = event(attendees=(Attendee(BOB),), description="<p>secret</p>", privacy="private")
    hidden = without_private_details(data)
    assert hidden.description == "" and hidden.attendees == ()
    assert (hidden.name, hidden.start, hidden.stop, hidden.privacy) == (data.name, data.start, data.stop, "private")
    assert data.description == "<p>secret</p>"  # the original is untouched


def test_ended_before():
    data = event(start=datetime(2025, 3, 10, 9), stop=datetime(2025, 3, 10, 10))
    assert data.ended_before(datetime(2025, 3, 10, 10)) and not data.ended_before(datetime(2025, 3, 10, 9, 59))
    day = allday(date(2025, 3, 10), date(2025, 3, 10))
    assert not day.ended_before(datetime(2025, 3, 10, 23, 59)) and day.ended_before(datetime(2025, 3, 11))


@pytest.mark.parametrize(
    "tz, last_moment_utc",
    [
        ("Pacific/Honolulu", datetime(2025, 3, 11, 9, 59)),  # Honolulu's 10 March ends at 10:00 UTC on the 11th
        ("Pacific/Tongatapu", datetime(2025, 3, 10, 10, 59)),  # Tonga's ends at 11:00 UTC on the 10th
    ],
)
def test_all_day_event_ends_at_midnight_in_its_own_zone(tz, last_moment_utc):
    day = allday(date(2025, 3, 10), date(2025, 3, 10), tz)
    assert not day.ended_before(last_moment_utc)
    assert day.ended_before(last_moment_utc + timedelta(minutes=1))


def test_all_day_event_in_an_unknown_zone_ends_at_midnight_utc():
    day = allday(date(2025, 3, 10), date(2025, 3, 10), "Nowhere/Special")
    assert not day.ended_before(datetime(2025, 3, 10, 23, 59)) and day.ended_before(datetime(2025, 3, 11))


# ------------------------------------------------------------
# engine.timezones
# ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, iana",
    [
        ("Hawaiian Standard Time", "Pacific/Honolulu"),
        ("Tonga Standard Time", "Pacific/Tongatapu"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("romance standard time", "Europe/Paris"),
        ("  Eastern Standard Time ", "America/New_York"),
        ("Europe/Paris", "Europe/Paris"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("GMT", "UTC"),
        ("Z", "UTC"),
        ("tzone://Microsoft/Utc", "UTC"),
    ],
)
def test_to_iana(name, iana):
    assert to_iana(name) == iana


@pytest.mark.parametrize("name", ["", None, "tzone://Microsoft/Custom", "Mars Standard Time", "../../etc/passwd"])
def test_to_iana_falls_back_to_the_default(name):
    assert to_iana(name) == "UTC"
    assert to_iana(name, default="Europe/Brussels") == "Europe/Brussels"


def test_every_windows_name_of_the_table_is_known():
    assert len(WINDOWS_TO_IANA) >= 130
    unknown = [name for name in WINDOWS_TO_IANA if to_iana(name, default=None) is None]
    assert unknown == []
    assert all(zone(name) is not None for name in WINDOWS_TO_IANA)


def test_zone():
    assert zone("UTC") is timezone.utc and zone("Etc/UTC") is timezone.utc
    assert zone("Tonga Standard Time").utcoffset(datetime(2025, 3, 10)) == timedelta(hours=13)
    assert zone("Pacific/Honolulu").utcoffset(datetime(2025, 7, 1)) == timedelta(hours=-10)
    for bad in ("Mars Standard Time", "", "tzone://Microsoft/Custom"):
        with pytest.raises(UnknownTimeZone, match="unknown time zone"):
            zone(bad)
    assert issubclass(UnknownTimeZone, MappingError)


def test_utc_naive():
    assert utc_naive(datetime(2025, 3, 10, 9), "Hawaiian Standard Time") == datetime(2025, 3, 10, 19)
    assert utc_naive(datetime(2025, 3, 10, 9), "Pacific/Tongatapu") == datetime(2025, 3, 9, 20)
    assert utc_naive(datetime(2025, 7, 1, 9), "Europe/Paris") == datetime(2025, 7, 1, 7)
    aware = datetime(2025, 3, 10, 9, tzinfo=timezone(timedelta(hours=2)))
    assert utc_naive(aware, "Pacific/Honolulu") == datetime(2025, 3, 10, 7)
    with pytest.raises(UnknownTimeZone, match="start: unknown time zone 'Nowhere'"):
        utc_naive(datetime(2025, 3, 10, 9), "Nowhere", "start")


# ------------------------------------------------------------
# Round trips through the emulator (Exchange's own rendering of what we send)
# ------------------------------------------------------------


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA, "Anna Smith")
        yield emulator


def organized(**overrides):
    """``event`` organized by the emulator's mailbox, attendees as Graph reports them before any answer."""
    values = {"attendees": (Attendee(BOB, "Bob"), Attendee(CAROL, "Carol", optional=True)), "categories": ("Blue",)}
    values.update(overrides)
    return event(**values)


ROUND_TRIPS = {
    "honolulu": organized(),
    "utc": organized(start=ZONES["utc"][2], stop=ZONES["utc"][2] + timedelta(hours=1), timezone="UTC"),
    "tonga": organized(
        start=ZONES["tonga"][2],
        stop=ZONES["tonga"][2] + timedelta(hours=1),
        timezone="Pacific/Tongatapu",
        privacy="private",
        show_as="free",
        alarm_minutes=None,
    ),
    "appointment": organized(attendees=(), categories=(), description="", location="", alarm_minutes=0),
    "allday honolulu": allday(date(2025, 3, 10), date(2025, 3, 12), "Pacific/Honolulu"),
    "allday tonga": allday(date(2025, 3, 10), date(2025, 3, 10), "Pacific/Tongatapu"),
    **{f"allday {iana} {day}": allday(day, day, iana) for _w, iana, day in DST_EDGES},
    **{
        f"allday across {iana} {day}": allday(day - timedelta(days=1), day + timedelta(days=1), iana)
        for _w, iana, day in DST_EDGES
    },
    "fall back first 02:30": organized(
        start=datetime(2025, 10, 26, 0, 30), stop=datetime(2025, 10, 26, 1), timezone="Europe/Paris"
    ),
    "fall back second 02:30": organized(
        start=datetime(2025, 10, 26, 1, 30), stop=datetime(2025, 10, 26, 2), timezone="Europe/Paris"
    ),
}


def prefer(tz):
    return {"Prefer": f'outlook.timezone="{tz}"'} if tz else {}


@pytest.mark.parametrize("case", sorted(ROUND_TRIPS))
@pytest.mark.parametrize("view_tz", [None, "Hawaiian Standard Time", "Tonga Standard Time", "Pacific/Honolulu"])
def test_round_trip_post_then_get(graph, case, view_tz):
    data = ROUND_TRIPS[case]
    created = graph("POST", "/me/events", json=to_graph(data), headers=prefer(view_tz))
    assert created.status_code == 201, created.text
    fetched = graph("GET", f"/me/events/{created.json()['id']}", headers=prefer(view_tz))
    assert fetched.status_code == 200
    for payload in (created.json(), fetched.json()):
        if view_tz and not data.allday:
            assert payload["start"]["timeZone"] == view_tz
        back = from_graph(payload)
        assert fingerprint(back) == fingerprint(data)
        if case.startswith("fall back"):  # written in UTC to stay unambiguous
            assert (back.start, back.stop) == (data.start, data.stop)
        else:
            assert back == data


def test_round_trip_text_body_comes_back_as_escaped_html(graph):
    body = dict(to_graph(organized(attendees=())), body={"contentType": "text", "content": "a < b & c\nnext"})
    created = graph("POST", "/me/events", json=body).json()
    as_text = graph("GET", f"/me/events/{created['id']}", headers={"Prefer": 'outlook.body-content-type="text"'}).json()
    assert as_text["body"]["contentType"] == "text"
    assert from_graph(as_text).description == "<p>a &lt; b &amp; c<br>next</p>"
    as_html = from_graph(graph("GET", f"/me/events/{created['id']}").json()).description
    assert as_html.startswith("<div>a &lt; b &amp; c<br>") and "<html" not in as_html


# graph_patch(a, b) changes only what changed; Exchange mails attendees only for meeting changes (graph-reference H)
PATCHES = {
    "categories": ({"categories": ("Green", "Red")}, {"categories"}, {}),
    "reminder": ({"alarm_minutes": 60}, {"reminderMinutesBeforeStart"}, {}),
    "reminder off": ({"alarm_minutes": None}, {"isReminderOn"}, {}),
    "show as": ({"show_as": "free"}, {"showAs"}, {}),
    "nothing": ({}, set(), {}),
    "time zone only": ({"timezone": "Europe/Paris"}, set(), {}),
    "answers only": (
        {"attendees": (Attendee(BOB, "Bob", "accepted"), Attendee(CAROL, "Carol", "declined", optional=True))},
        set(),
        {},
    ),
    "subject": ({"name": "Quarterly review (moved)"}, {"subject"}, {"update": [BOB, CAROL]}),
    "description": ({"description": "<p>New agenda</p>"}, {"body"}, {"update": [BOB, CAROL]}),
    "location": ({"location": "Lobby"}, {"location"}, {"update": [BOB, CAROL]}),
    "privacy": ({"privacy": "private"}, {"sensitivity"}, {"update": [BOB, CAROL]}),
    "moved": (
        {"start": datetime(2025, 3, 11, 19), "stop": datetime(2025, 3, 11, 20)},
        {"start", "end", "isAllDay"},
        {"update": [BOB, CAROL]},
    ),
    "to all day": (
        {"allday": True, "start": None, "stop": None, "start_date": date(2025, 3, 10), "stop_date": date(2025, 3, 10)},
        {"start", "end", "isAllDay"},
        {"update": [BOB, CAROL]},
    ),
    "attendee added": (
        {"attendees": (Attendee(BOB, "Bob"), Attendee(CAROL, "Carol", optional=True), Attendee(DAVE, "Dave"))},
        {"attendees"},
        {"invitation": [DAVE]},
    ),
    "attendee removed": ({"attendees": (Attendee(BOB, "Bob"),)}, {"attendees"}, {"cancellation": [CAROL]}),
}


@pytest.mark.parametrize("case", sorted(PATCHES))
def test_round_trip_patch_changes_only_what_changed_and_mails_only_what_it_must(emu, graph, case):
    changes, keys, mails = PATCHES[case]
    before = organized()
    created = graph("POST", "/me/events", json=to_graph(before))
    assert created.status_code == 201
    assert from_graph(created.json()) == before
    after = replace(before, **changes)
    patch = graph_patch(before, after)
    assert set(patch) == keys
    sent_before = len(emu.counters()["messages"])
    if patch:
        updated = graph("PATCH", f"/me/events/{created.json()['id']}", json=patch)
        assert updated.status_code == 200, updated.text
    back = from_graph(graph("GET", f"/me/events/{created.json()['id']}").json())
    assert fingerprint(back) == fingerprint(after)
    assert back == replace(
        after, attendees=tuple(replace(a, state="needsAction") for a in after.attendees), timezone=before.timezone
    )
    sent = emu.counters()["messages"][sent_before:]
    by_kind = {}
    for message in sent:
        by_kind.setdefault(message["kind"], []).append(message["to"])
    assert {kind: sorted(addresses) for kind, addresses in by_kind.items()} == mails


def test_round_trip_subject_change_mails_one_update_per_attendee_and_local_fields_none(emu, graph):
    before = organized()
    created = graph("POST", "/me/events", json=to_graph(before)).json()
    emu.reset_counters()
    local_only = replace(before, categories=("Green",), alarm_minutes=5)
    graph("PATCH", f"/me/events/{created['id']}", json=graph_patch(before, local_only))
    assert emu.counters()["messages_sent"] == 0
    renamed = replace(local_only, name="Renamed")
    graph("PATCH", f"/me/events/{created['id']}", json=graph_patch(local_only, renamed))
    assert emu.counters()["messages_sent"] == len(before.attendees) == 2


def test_round_trip_outlook_online_meeting_survives_our_patches(emu, graph):
    raw = emu.outlook.create_event(ANNA, dict(to_graph(organized(attendees=())), isOnlineMeeting=True))
    remote = from_graph(graph("GET", f"/me/events/{raw['id']}").json())
    assert remote.videocall_location.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert "Microsoft Teams meeting" in remote.description
    renamed = replace(remote, name="Renamed")
    assert graph_patch(remote, renamed) == {"subject": "Renamed"}
    graph("PATCH", f"/me/events/{raw['id']}", json=graph_patch(remote, renamed))
    assert from_graph(graph("GET", f"/me/events/{raw['id']}").json()) == renamed
