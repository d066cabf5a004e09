"""Recurrence patterns and ranges of Graph's ``patternedRecurrence`` and their expansion.

graph-reference G.1 (pattern types daily, weekly, absoluteMonthly, relativeMonthly, absoluteYearly, relativeYearly with
``interval``, ``daysOfWeek``, ``firstDayOfWeek``, ``index`` incl. ``last``, ``month``, ``dayOfMonth``), G.2 (ranges
``endDate`` inclusive, ``noEnd``, ``numbered``; ``recurrenceTimeZone``) and A.2 (every pattern/range field present on
the wire, non-applicable ones zero/default). Expansion happens on wall-clock dates in ``recurrenceTimeZone`` so a 09:00
Europe/Paris meeting stays at 09:00 local across DST changes. Several ``daysOfWeek`` in relative patterns pick the
``index``-th day of the union (RRULE ``BYSETPOS``, G.3). ``dayOfMonth`` beyond the month's length falls on its last day
(Outlook behaviour, e.g. "day 31" in April is April 30).
"""

import calendar
import datetime

from . import timezones
from .errors import GraphError
from .store import stamp

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]  # Python weekday() order
INDEXES = ["first", "second", "third", "fourth", "last"]
PATTERN_TYPES = ["daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"]
RANGE_TYPES = ["endDate", "noEnd", "numbered"]
NO_DATE = "0001-01-01"
MAX_SLOTS = 20000  # safety net for pathological series


def _invalid(message):
    return GraphError(400, "ErrorInvalidRecurrence" if "recurrence" in message.lower() else "BadRequest", message)


def _enum(value, allowed, field):
    if isinstance(value, str):
        for candidate in allowed:
            if candidate.lower() == value.lower():
                return candidate
    raise GraphError(400, "RequestBodyRead", f"Requested value '{value}' was not found (recurrence {field}).")


def _date(value, field):
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise GraphError(
            400,
            "RequestBodyRead",
            f"Cannot convert the literal '{value}' to the expected type 'Edm.Date' (recurrence {field}).",
        ) from exc


def normalize(recurrence, start_utc, start_tz):
    """Validate a ``patternedRecurrence`` and return it with every field filled (A.2 zero-defaults).

    :param start_utc: the master's start (UTC) -- default ``range.startDate``
    :param start_tz: the master's start time zone -- default ``recurrenceTimeZone``
    """
    if (
        not isinstance(recurrence, dict)
        or not isinstance(recurrence.get("pattern"), dict)
        or not isinstance(recurrence.get("range"), dict)
    ):
        raise _invalid("The recurrence must have a pattern and a range.")
    pattern, rng = _normalize_pattern(recurrence["pattern"]), dict(recurrence["range"])
    tz = rng.get("recurrenceTimeZone") or start_tz
    timezones.resolve(tz)
    range_type = _enum(rng.get("type"), RANGE_TYPES, "range type")
    start_date = (
        _date(rng["startDate"], "startDate") if rng.get("startDate") else timezones.from_utc(start_utc, tz).date()
    )
    out_range = {
        "type": range_type,
        "startDate": start_date.isoformat(),
        "endDate": NO_DATE,
        "recurrenceTimeZone": tz,
        "numberOfOccurrences": 0,
    }
    if range_type == "endDate":
        if not rng.get("endDate"):
            raise _invalid("The recurrence range of type endDate needs an endDate.")
        end_date = _date(rng["endDate"], "endDate")
        if end_date < start_date:
            raise _invalid("The recurrence range endDate is before its startDate.")
        out_range["endDate"] = end_date.isoformat()
    elif range_type == "numbered":
        count = rng.get("numberOfOccurrences")
        if not isinstance(count, int) or count < 1:
            raise _invalid("The recurrence range of type numbered needs numberOfOccurrences >= 1.")
        out_range["numberOfOccurrences"] = count
    return {"pattern": pattern, "range": out_range}


def _normalize_pattern(raw):
    kind = _enum(raw.get("type"), PATTERN_TYPES, "pattern type")
    interval = raw.get("interval", 1)
    if not isinstance(interval, int) or interval < 1 or interval > 999:
        raise _invalid("The recurrence pattern interval must be an integer between 1 and 999.")
    out = {
        "type": kind,
        "interval": interval,
        "month": 0,
        "dayOfMonth": 0,
        "daysOfWeek": [],
        "firstDayOfWeek": _enum(raw.get("firstDayOfWeek") or "sunday", DAYS, "firstDayOfWeek"),
        "index": "first",
    }
    if kind in ("weekly", "relativeMonthly", "relativeYearly"):
        days = raw.get("daysOfWeek") or []
        if not isinstance(days, list) or not days:
            raise _invalid(f"The recurrence pattern of type {kind} needs daysOfWeek.")
        picked = {_enum(day, DAYS, "daysOfWeek") for day in days}
        out["daysOfWeek"] = [d for d in DAYS[6:] + DAYS[:6] if d in picked]  # sunday first, like Graph
    if kind in ("relativeMonthly", "relativeYearly"):
        out["index"] = _enum(raw.get("index") or "first", INDEXES, "index")
    if kind in ("absoluteMonthly", "absoluteYearly"):
        day = raw.get("dayOfMonth")
        if not isinstance(day, int) or not 1 <= day <= 31:
            raise _invalid(f"The recurrence pattern of type {kind} needs dayOfMonth between 1 and 31.")
        out["dayOfMonth"] = day
    if kind in ("absoluteYearly", "relativeYearly"):
        month = raw.get("month")
        if not isinstance(month, int) or not 1 <= month <= 12:
            raise _invalid(f"The recurrence pattern of type {kind} needs month between 1 and 12.")
        out["month"] = month
    return out


# ---------------------------------------------------------------------- date generation


def _add_months(year, month, count):
    total = year * 12 + (month - 1) + count
    return total // 12, total % 12 + 1


def _relative_day(year, month, weekdays, index):
    last = calendar.monthrange(year, month)[1]
    candidates = [day for day in range(1, last + 1) if datetime.date(year, month, day).weekday() in weekdays]
    position = INDEXES.index(index)
    if position == 4:
        return datetime.date(year, month, candidates[-1]) if candidates else None
    return datetime.date(year, month, candidates[position]) if len(candidates) > position else None


def _clamped(year, month, day):
    return datetime.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def pattern_dates(pattern, start_date):
    """Endless generator of the dates (>= ``start_date``) matching ``pattern``."""
    kind, step = pattern["type"], pattern["interval"]
    weekdays = {DAYS.index(d) for d in pattern["daysOfWeek"]}
    if kind == "daily":
        day = start_date
        while True:
            yield day
            day += datetime.timedelta(days=step)
    if kind == "weekly":
        first = DAYS.index(pattern["firstDayOfWeek"])
        week = start_date - datetime.timedelta(days=(start_date.weekday() - first) % 7)
        while True:
            for offset in range(7):
                day = week + datetime.timedelta(days=offset)
                if day.weekday() in weekdays and day >= start_date:
                    yield day
            week += datetime.timedelta(days=7 * step)
    count = 0
    while True:
        if kind in ("absoluteMonthly", "relativeMonthly"):
            year, month = _add_months(start_date.year, start_date.month, count * step)
        else:
            year, month = start_date.year + count * step, pattern["month"]
        if year > 9999:
            return
        if kind in ("absoluteMonthly", "absoluteYearly"):
            day = _clamped(year, month, pattern["dayOfMonth"])
        else:
            day = _relative_day(year, month, weekdays, pattern["index"])
        if day and day >= start_date:
            yield day
        count += 1


class Slot:
    """One occurrence slot of a series: original start (UTC), its start/end (UTC), its wall-clock start date."""

    __slots__ = ("original_start", "start_utc", "end_utc", "local_start", "local_end", "stamp")

    def __init__(self, local_start, local_end, zone):
        self.local_start, self.local_end = local_start, local_end
        self.start_utc = local_start.replace(tzinfo=zone).astimezone(timezones.UTC)
        self.end_utc = local_end.replace(tzinfo=zone).astimezone(timezones.UTC)
        self.original_start = self.start_utc
        self.stamp = stamp(self.start_utc)


def slots(master, until_utc=None, since_utc=None):
    """Yield the :class:`Slot` s of ``master`` in order, from the range start, up to ``until_utc`` (exclusive).

    Slots ending before ``since_utc`` are skipped (but still counted for ``numbered`` ranges).
    """
    rec = master.recurrence
    tz = rec["range"]["recurrenceTimeZone"]
    zone = timezones.resolve(tz)
    local_start = timezones.from_utc(master.start_utc, tz)
    duration = timezones.from_utc(master.end_utc, tz) - local_start
    range_type = rec["range"]["type"]
    end_date = datetime.date.fromisoformat(rec["range"]["endDate"]) if range_type == "endDate" else None
    limit = rec["range"]["numberOfOccurrences"] if range_type == "numbered" else MAX_SLOTS
    start_date, skipped = datetime.date.fromisoformat(rec["range"]["startDate"]), 0
    if since_utc is not None:
        margin = datetime.timedelta(days=duration.days + 2)
        start_date, skipped = _skip(rec["pattern"], start_date, timezones.from_utc(since_utc, tz).date() - margin)
    for number, day in enumerate(pattern_dates(rec["pattern"], start_date), start=skipped):
        if number >= min(limit, MAX_SLOTS) or (end_date and day > end_date):
            return
        begin = datetime.datetime.combine(day, local_start.time())
        slot = Slot(begin, begin + duration, zone)
        if until_utc is not None and slot.start_utc >= until_utc:
            return
        if since_utc is None or slot.end_utc > since_utc or slot.start_utc >= since_utc:
            yield slot


def _skip(pattern, start_date, target):
    """Jump over whole daily/weekly periods that end before ``target``.

    :return: ``(new start date, number of slots skipped)`` -- the count keeps ``numbered`` ranges exact
    """
    step = pattern["interval"]
    if pattern["type"] == "daily":
        periods = max(0, ((target - start_date).days - 1) // step)
        return start_date + datetime.timedelta(days=periods * step), periods
    if pattern["type"] != "weekly":
        return start_date, 0
    first = DAYS.index(pattern["firstDayOfWeek"])
    week = start_date - datetime.timedelta(days=(start_date.weekday() - first) % 7)
    periods = max(0, ((target - week).days - 7) // (7 * step))
    if periods == 0:
        return start_date, 0
    weekdays = {DAYS.index(d) for d in pattern["daysOfWeek"]}
    first_week = [week + datetime.timedelta(days=offset) for offset in range(7)]
    in_first = sum(1 for day in first_week if day.weekday() in weekdays and day >= start_date)
    return week + datetime.timedelta(days=periods * 7 * step), in_first + (periods - 1) * len(weekdays)


def find_slot(master, original_start):
    """The slot whose original start is ``original_start`` and its neighbours: ``(previous, slot, next)``."""
    previous = None
    iterator = slots(master, until_utc=original_start + datetime.timedelta(days=800))
    for slot in iterator:
        if slot.original_start == original_start:
            return previous, slot, next(iterator, None)
        if slot.original_start > original_start:
            break
        previous = slot
    return None, None, None
