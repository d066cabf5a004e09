"""Graph ``patternedRecurrence`` <-> Odoo ``calendar.recurrence`` rule values (graph-reference G).

Pure. Odoo keeps a series' rule on ``calendar.recurrence`` (``rrule_type``, ``interval``, weekday
booleans, ``month_by``/``day``/``weekday``/``byday``, ``end_type``/``count``/``until``, ``event_tz``);
Graph keeps it on the series master. Odoo has no "relative yearly" rule: like Odoo's own Microsoft
module, it becomes a monthly rule every ``12 x interval`` months on the n-th weekday, which expands to
the same dates (the month is the series' first date's).
"""

from datetime import date

from .errors import MappingError
from .timezones import to_iana

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ODOO_DAY_FIELDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ODOO_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
INDEX_TO_BYDAY = {"first": "1", "second": "2", "third": "3", "fourth": "4", "last": "-1"}
BYDAY_TO_INDEX = {value: key for key, value in INDEX_TO_BYDAY.items()}
ODOO_FOREVER_COUNT = 720  # Odoo stores "forever" as COUNT=720 in its rrule (calendar MAX_RECURRENT_EVENT)
# the largest values Outlook lets a person choose: an interval of 999 (days, weeks, months or years), 999 occurrences
MAX_INTERVAL = 999
MAX_COUNT = 999
FIRST_DAY, LAST_DAY = date(1601, 1, 1), date(4500, 12, 31)  # Outlook's calendar range (as engine.mapping)
RULE_FIELDS = (
    "rrule_type",
    "interval",
    "month_by",
    "day",
    "weekday",
    "byday",
    "end_type",
    "count",
    "until",
    "event_tz",
) + ODOO_DAY_FIELDS


def _weekdays(pattern):
    days = pattern.get("daysOfWeek") or []
    if not isinstance(days, list):
        raise MappingError("the recurrence days of week are not a list")
    days = [day.lower() if isinstance(day, str) else repr(day) for day in days]
    unknown = [day for day in days if day not in WEEKDAYS]
    if unknown:
        raise MappingError(f"unknown day of week {unknown[0]!r} in the recurrence")
    return [day for day in WEEKDAYS if day in days]


def _positive(value, name, default=1, maximum=MAX_INTERVAL):
    if value is None or value == "" or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise MappingError(f"the recurrence {name} must be a number from 1 to {maximum}")
    return value


def _range_values(recurrence_range):
    kind = recurrence_range.get("type") or "noEnd"
    if kind == "endDate":
        try:
            until = date.fromisoformat(str(recurrence_range.get("endDate"))[:10])
        except ValueError as exc:
            raise MappingError("the recurrence end date is invalid") from exc
        if not FIRST_DAY <= until <= LAST_DAY:
            raise MappingError("the recurrence end date is outside the dates Outlook supports")
        return {"end_type": "end_date", "until": until}
    if kind == "numbered":
        count = _positive(recurrence_range.get("numberOfOccurrences"), "count", maximum=MAX_COUNT)
        return {"end_type": "count", "count": count}
    if kind == "noEnd":
        return {"end_type": "forever"}
    raise MappingError(f"unknown recurrence range {str(kind)[:40]!r}")


def to_odoo(recurrence, first_day=None):
    """Odoo ``calendar.recurrence`` values of a Graph ``patternedRecurrence``.

    :param first_day: the series' first date (``range.startDate`` when absent)
    :raises MappingError: when the pattern cannot be read
    """
    if not isinstance(recurrence, dict) or not isinstance(recurrence.get("pattern"), dict):
        raise MappingError("the series has no recurrence pattern")
    pattern, recurrence_range = recurrence["pattern"], recurrence.get("range") or {}
    if not isinstance(recurrence_range, dict):
        raise MappingError("the recurrence range is not an object")
    kind, interval = pattern.get("type"), _positive(pattern.get("interval"), "interval")
    days = _weekdays(pattern)
    values = {field: False for field in ODOO_DAY_FIELDS}
    values.update(interval=interval, month_by="date", day=1, weekday=False, byday=False)
    if kind == "daily":
        values["rrule_type"] = "daily"
    elif kind == "weekly":
        if not days:
            raise MappingError("a weekly recurrence without days")
        values["rrule_type"] = "weekly"
        values.update({ODOO_DAY_FIELDS[WEEKDAYS.index(day)]: True for day in days})
    elif kind == "absoluteMonthly":
        values.update(rrule_type="monthly", day=_positive(pattern.get("dayOfMonth"), "day of month", maximum=31))
    elif kind in ("relativeMonthly", "relativeYearly"):
        if not days:
            raise MappingError("a relative recurrence without a day of week")
        index = pattern.get("index") or "first"
        index = index.lower() if isinstance(index, str) else repr(index)
        if index not in INDEX_TO_BYDAY:
            raise MappingError(f"unknown recurrence index {index[:40]!r}")
        values.update(
            rrule_type="monthly",
            month_by="day",
            weekday=ODOO_WEEKDAYS[WEEKDAYS.index(days[0])],
            byday=INDEX_TO_BYDAY[index],
        )
        if kind == "relativeYearly":
            values["interval"] = 12 * interval
    elif kind == "absoluteYearly":
        values["rrule_type"] = "yearly"
    else:
        raise MappingError(f"unknown recurrence pattern {str(kind)[:40]!r}")
    values.update(_range_values(recurrence_range))
    zone_name = recurrence_range.get("recurrenceTimeZone")
    values["event_tz"] = (to_iana(zone_name, default=False) if isinstance(zone_name, str) else False) or False
    return values


def normalized(values):
    """Odoo rule values with Odoo's "forever" sentinel read back as forever: Odoo recomputes its rrule
    string with COUNT=720 for a series without end, then parses it back as a count."""
    values = dict(values)
    if values.get("end_type") == "count" and int(values.get("count") or 0) >= ODOO_FOREVER_COUNT:
        values.update(end_type="forever", count=False)
    return values


def to_graph(values, first_day, tz_name):
    """Graph ``patternedRecurrence`` of Odoo rule ``values`` for a series starting on ``first_day``."""
    values = normalized(values)
    kind, interval = values.get("rrule_type"), int(values.get("interval") or 1)
    pattern = {"interval": interval}
    if kind == "daily":
        pattern["type"] = "daily"
    elif kind == "weekly":
        pattern.update(
            type="weekly",
            firstDayOfWeek="sunday",
            daysOfWeek=[WEEKDAYS[i] for i, name in enumerate(ODOO_DAY_FIELDS) if values.get(name)]
            or [WEEKDAYS[first_day.weekday()]],
        )
    elif kind == "monthly" and values.get("month_by") == "day":
        weekday = values.get("weekday") or ODOO_WEEKDAYS[first_day.weekday()]
        pattern.update(
            daysOfWeek=[WEEKDAYS[ODOO_WEEKDAYS.index(weekday)]],
            index=BYDAY_TO_INDEX.get(str(values.get("byday") or "1"), "first"),
        )
        if interval % 12 == 0:
            pattern.update(type="relativeYearly", interval=interval // 12, month=first_day.month)
        else:
            pattern["type"] = "relativeMonthly"
    elif kind == "monthly":
        pattern.update(type="absoluteMonthly", dayOfMonth=int(values.get("day") or first_day.day))
    elif kind == "yearly":
        pattern.update(type="absoluteYearly", dayOfMonth=first_day.day, month=first_day.month)
    else:
        raise MappingError(f"unknown Odoo recurrence {kind!r}")
    rule_range = {"startDate": first_day.isoformat(), "recurrenceTimeZone": tz_name}
    end_type = values.get("end_type")
    if end_type == "count":
        rule_range.update(type="numbered", numberOfOccurrences=int(values.get("count") or 1))
    elif end_type == "end_date" and values.get("until"):
        until = values["until"]
        rule_range.update(type="endDate", endDate=(until if isinstance(until, str) else until.isoformat())[:10])
    else:
        rule_range["type"] = "noEnd"
    return {"pattern": pattern, "range": rule_range}


def same_rule(odoo_values, other_values):
    """Whether two sets of Odoo rule values describe the same series (ignoring the time zone)."""
    odoo_values, other_values = normalized(odoo_values), normalized(other_values)
    return all(_norm(odoo_values.get(key)) == _norm(other_values.get(key)) for key in RULE_FIELDS if key != "event_tz")


def _norm(value):
    if isinstance(value, date):
        return value.isoformat()
    return value or False
