"""Finding 2 of the robustness issue, example by example: what PostgreSQL or Odoo cannot store is cleaned, or
fails that one item with a MappingError (the property tests in test_fuzz_inbound.py generate the rest)."""

import pytest

from engine import recurrence as rules
from engine.errors import MappingError
from engine.mapping import from_graph
from engine.records import remote_item


def event(**overrides):
    payload = {
        "id": "AAMk-1",
        "subject": "Planning",
        "start": {"dateTime": "2026-03-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-10T10:00:00.0000000", "timeZone": "UTC"},
    }
    payload.update(overrides)
    return payload


def test_nul_and_lone_surrogates_are_removed_from_every_text():
    data = from_graph(
        event(
            subject="Budget\x00 review\ud800",
            body={"contentType": "text", "content": "a\x00b"},
            location={"displayName": "Room\x00 1"},
            categories=["Cust\x00omers"],
            attendees=[{"emailAddress": {"address": "guest@example.com", "name": "Gu\x00est\udfff"}}],
        )
    )
    assert (data.name, data.location, data.categories) == ("Budget review", "Room 1", ("Customers",))
    assert data.description == "<p>ab</p>"
    assert data.attendees[0].name == "Guest"


@pytest.mark.parametrize(
    ("start", "end", "zone"),
    [
        ("9999-12-31T22:00:00", "9999-12-31T23:00:00", "Hawaiian Standard Time"),  # UTC-10: beyond year 9999
        ("0001-01-01T00:00:00", "0001-01-01T01:00:00", "Tokyo Standard Time"),  # UTC+9: before year 1
        ("1600-12-31T10:00:00", "1600-12-31T11:00:00", "UTC"),  # before Outlook's first day
    ],
)
def test_instants_beyond_what_odoo_can_hold_fail_that_item(start, end, zone):
    payload = event(start={"dateTime": start, "timeZone": zone}, end={"dateTime": end, "timeZone": zone})
    with pytest.raises(MappingError, match="out of range|outside the dates"):
        from_graph(payload)
    assert "could not be read" in remote_item(payload).error


def test_all_day_event_in_year_one_fails_that_item():
    payload = event(
        isAllDay=True,
        start={"dateTime": "0001-01-01T00:00:00", "timeZone": "UTC"},
        end={"dateTime": "0001-01-01T00:00:00", "timeZone": "UTC"},
    )
    assert "outside the dates Outlook supports" in remote_item(payload).error


@pytest.mark.parametrize(("minutes", "alarm"), [(10**30, None), (-5, None), (2**31, None), (0, 0), (20160, 20160)])
def test_reminders_are_bounded(minutes, alarm):
    assert from_graph(event(isReminderOn=True, reminderMinutesBeforeStart=minutes)).alarm_minutes == alarm


@pytest.mark.parametrize(
    "pattern",
    [
        {"type": "daily", "interval": 10**12},
        {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 40},
        {"type": "weekly", "interval": 1, "daysOfWeek": 5},
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["monday"], "index": ["first"]},
    ],
)
def test_recurrence_values_odoo_cannot_hold_are_refused(pattern):
    with pytest.raises(MappingError):
        rules.to_odoo({"pattern": pattern, "range": {"type": "noEnd"}})


def test_recurrence_range_and_time_zone_of_the_wrong_type_are_refused_or_ignored():
    with pytest.raises(MappingError):
        rules.to_odoo({"pattern": {"type": "daily"}, "range": ["noEnd"]})
    with pytest.raises(MappingError):
        rules.to_odoo({"pattern": {"type": "daily"}, "range": {"type": "numbered", "numberOfOccurrences": 10**12}})
    values = rules.to_odoo({"pattern": {"type": "daily"}, "range": {"type": "noEnd", "recurrenceTimeZone": {"x": 1}}})
    assert values["event_tz"] is False


def test_zone_names_no_file_system_accepts_are_unknown_zones():
    payload = event(start={"dateTime": "2026-03-10T09:00:00", "timeZone": "x" * 5000})
    assert "unknown time zone" in remote_item(payload).error


@pytest.mark.parametrize("graph_id", ["id\x00nul", "x" * 5000, "\ud800", "tab\tid"])
def test_ids_odoo_cannot_store_or_index_make_an_item_without_a_readable_id(graph_id):
    item = remote_item(event(id=graph_id))
    assert (item.graph_id, item.error) == ("", "An Outlook item without a readable id was skipped.")


def test_a_megabyte_of_body_tags_is_read_in_linear_time():
    content = "<body>" * 200000
    data = from_graph(event(body={"contentType": "html", "content": content}))
    assert data.description.startswith("<body>")
