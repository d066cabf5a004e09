"""Occurrences from a delta page: details from the series master, a stable identity (graph-reference B.4)."""

from datetime import date, datetime

from engine.mapping import EventData
from engine.records import OCCURRENCE, occurrence_payload, occurrence_start_utc, occurrence_uid, remote_item

MASTER = {
    "id": "AAMkMaster",
    "type": "seriesMaster",
    "iCalUId": "040000008200E00074C5B7101A82E008000000001",
    "changeKey": "master-ck",
    "@odata.etag": 'W/"master-ck"',
    "subject": "Weekly review",
    "body": {"contentType": "html", "content": "<p>Agenda</p>"},
    "location": {"displayName": "Room 4"},
    "start": {"dateTime": "2026-11-23T09:00:00.0000000", "timeZone": "UTC"},
    "end": {"dateTime": "2026-11-23T10:00:00.0000000", "timeZone": "UTC"},
    "originalStartTimeZone": "W. Europe Standard Time",
    "recurrence": {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        "range": {"type": "noEnd", "startDate": "2026-11-23", "recurrenceTimeZone": "W. Europe Standard Time"},
    },
    "organizer": {"emailAddress": {"address": "anna@contoso.test", "name": "Anna"}},
    "isOrganizer": True,
    "attendees": [],
}
BARE = {
    "id": "AAMkOccurrence2",
    "type": "occurrence",
    "seriesMasterId": "AAMkMaster",
    "@odata.etag": 'W/"occ-ck"',
    "start": {"dateTime": "2026-11-30T09:00:00.0000000", "timeZone": "UTC"},
    "end": {"dateTime": "2026-11-30T10:00:00.0000000", "timeZone": "UTC"},
}


def test_bare_occurrence_takes_the_masters_details_and_keeps_its_own_id_times_and_change_key():
    payload = occurrence_payload(MASTER, BARE)
    assert "recurrence" not in payload and "@odata.etag" not in payload
    assert (payload["id"], payload["type"], payload["seriesMasterId"]) == ("AAMkOccurrence2", OCCURRENCE, "AAMkMaster")
    assert payload["changeKey"] == "occ-ck"
    item = remote_item(payload)
    assert not item.error and not item.bare
    assert (item.data.name, item.data.location) == ("Weekly review", "Room 4")
    assert item.data.start == datetime(2026, 11, 30, 9, 0)
    assert MASTER["subject"] == "Weekly review" and "recurrence" in MASTER, "the master payload is not changed"


def test_bare_occurrence_is_recognised_as_bare_until_completed():
    assert remote_item(BARE).bare
    assert not remote_item(occurrence_payload(MASTER, BARE)).bare


def test_occurrence_identity_is_the_series_uid_and_the_utc_original_start():
    assert occurrence_uid("UID", datetime(2026, 11, 30, 9, 0)) == "UID-20261130T090000"
    assert occurrence_uid("UID", datetime(2026, 11, 30, 9, 0)) != occurrence_uid("UID", datetime(2026, 12, 7, 9, 0))


def test_occurrence_start_of_an_all_day_occurrence_is_midnight_in_its_own_zone():
    paris = EventData(
        "Holiday", allday=True, start_date=date(2026, 12, 24), stop_date=date(2026, 12, 24), timezone="Europe/Paris"
    )
    assert occurrence_start_utc(paris) == datetime(2026, 12, 23, 23, 0)
    timed = EventData("Call", start=datetime(2026, 12, 24, 15, 30), stop=datetime(2026, 12, 24, 16, 0))
    assert occurrence_start_utc(timed) == datetime(2026, 12, 24, 15, 30)
