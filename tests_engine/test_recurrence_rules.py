"""Graph recurrence patterns <-> Odoo recurrence rules, every pattern and range type, both ways."""

from datetime import date

import pytest

from engine import recurrence as rules
from engine.errors import MappingError

FIRST = date(2026, 3, 12)  # a Thursday, the second Thursday of March


def graph(pattern, rule_range=None):
    return {
        "pattern": pattern,
        "range": rule_range
        or {"type": "noEnd", "startDate": FIRST.isoformat(), "recurrenceTimeZone": "W. Europe Standard Time"},
    }


CASES = [
    ({"type": "daily", "interval": 2}, {"rrule_type": "daily", "interval": 2}),
    (
        {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "sunday"},
        {"rrule_type": "weekly", "interval": 1, "mon": True, "thu": True, "tue": False},
    ),
    (
        {"type": "absoluteMonthly", "interval": 3, "dayOfMonth": 12},
        {"rrule_type": "monthly", "interval": 3, "month_by": "date", "day": 12},
    ),
    (
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["thursday"], "index": "second"},
        {"rrule_type": "monthly", "month_by": "day", "weekday": "THU", "byday": "2"},
    ),
    (
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
        {"rrule_type": "monthly", "month_by": "day", "weekday": "FRI", "byday": "-1"},
    ),
    ({"type": "absoluteYearly", "interval": 1, "dayOfMonth": 12, "month": 3}, {"rrule_type": "yearly", "interval": 1}),
    (
        {"type": "relativeYearly", "interval": 2, "daysOfWeek": ["thursday"], "index": "second", "month": 3},
        {"rrule_type": "monthly", "interval": 24, "month_by": "day", "weekday": "THU", "byday": "2"},
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), CASES, ids=[case[0]["type"] + str(i) for i, case in enumerate(CASES)])
def test_every_pattern_type_both_ways(pattern, expected):
    values = rules.to_odoo(graph(pattern))
    for key, value in expected.items():
        assert values[key] == value, key
    assert values["event_tz"] == "Europe/Berlin"
    back = rules.to_graph(values, FIRST, "Europe/Berlin")
    assert back["pattern"]["type"] == pattern["type"]
    assert back["pattern"]["interval"] == pattern["interval"]
    for key in ("daysOfWeek", "dayOfMonth", "index", "month"):
        if key in pattern:
            assert back["pattern"][key] == pattern[key], key
    assert rules.same_rule(rules.to_odoo(back), values)


@pytest.mark.parametrize(
    ("rule_range", "expected"),
    [
        (
            {"type": "endDate", "startDate": "2026-03-12", "endDate": "2026-06-30"},
            {"end_type": "end_date", "until": date(2026, 6, 30)},
        ),
        ({"type": "numbered", "startDate": "2026-03-12", "numberOfOccurrences": 7}, {"end_type": "count", "count": 7}),
        ({"type": "noEnd", "startDate": "2026-03-12"}, {"end_type": "forever"}),
    ],
)
def test_every_range_type_both_ways(rule_range, expected):
    values = rules.to_odoo(graph({"type": "daily", "interval": 1}, rule_range))
    for key, value in expected.items():
        assert values[key] == value
    back = rules.to_graph(values, FIRST, "UTC")["range"]
    assert back["type"] == rule_range["type"]
    assert back["startDate"] == FIRST.isoformat()
    if rule_range["type"] == "endDate":
        assert back["endDate"] == "2026-06-30"
    if rule_range["type"] == "numbered":
        assert back["numberOfOccurrences"] == 7


@pytest.mark.parametrize(
    "broken",
    [
        None,
        {},
        {"pattern": "weekly"},
        {"pattern": {"type": "hourly"}},
        {"pattern": {"type": "weekly", "interval": 1}},
        {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["funday"]}},
        {"pattern": {"type": "daily", "interval": -1}},
        {"pattern": {"type": "relativeMonthly", "daysOfWeek": ["monday"], "index": "fifth"}},
        {"pattern": {"type": "daily"}, "range": {"type": "endDate", "endDate": "not a date"}},
        {"pattern": {"type": "daily"}, "range": {"type": "sometimes"}},
    ],
)
def test_broken_patterns_are_mapping_errors(broken):
    with pytest.raises(MappingError):
        rules.to_odoo(broken)


def test_weekly_without_days_goes_out_on_the_first_day():
    values = dict(rules.to_odoo(graph({"type": "daily", "interval": 1})), rrule_type="weekly")
    assert rules.to_graph(values, FIRST, "UTC")["pattern"]["daysOfWeek"] == ["thursday"]


def test_odoo_forever_sentinel_goes_out_as_no_end():
    """Odoo rewrites "forever" as COUNT=720 in its rrule and parses it back as a count."""
    values = dict(rules.to_odoo(graph({"type": "daily", "interval": 1})), end_type="count", count=720)
    assert rules.to_graph(values, FIRST, "UTC")["range"]["type"] == "noEnd"
    assert rules.same_rule(values, rules.to_odoo(graph({"type": "daily", "interval": 1})))
