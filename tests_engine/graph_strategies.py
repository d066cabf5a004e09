"""Hypothesis strategies of Graph event JSON: valid, odd and hostile (shared by the engine and Odoo suites).

Pure: imports only hypothesis and the standard library, so the Odoo suite can import it from the add-on's
``tests_engine`` folder too. ``hostile_event()`` mixes every kind; ``plausible_event()`` stays what Graph
really sends (for the items that must always be kept).
"""

import json
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import strategies as st

WINDOWS_ZONES = sorted(
    json.loads((Path(__file__).resolve().parent.parent / "engine" / "windows_zones.json").read_text())["zones"]
)
IANA_ZONES = sorted(zoneinfo.available_timezones())
ODD_ZONES = [
    "",
    " ",
    "UTC",
    "tzone://Microsoft/Utc",
    "tzone://Microsoft/Custom",
    "Customized Time Zone",
    "Mars/Olympus Mons",
    "../../../etc/passwd",
    "/usr/share/zoneinfo/UTC",
    "Europe/Paris\x00",
    "W. Europe Standard Time ",
    "x" * 5000,
    "\u202eemiT dradnatS .E",
]
SPECIAL_CHARACTERS = [
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\u200b",
    "\u202e",
    "\u2028",
    "\ufeff",
    "\ufffe",
    "\ud800",
    "\udfff",
]
RTL_AND_EMOJI = ["مرحبا بالعالم", "שלום", "\u202eevil\u202c", "😀🎉👩‍👩‍👧‍👦", "🇫🇷", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇"]
MEGABYTE = "A" * (1 << 20)
RESPONSES = ["none", "organizer", "accepted", "tentativelyAccepted", "declined", "notResponded", "", "weird"]
PATTERNS = ["daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly", "hourly", ""]
RANGES = ["noEnd", "endDate", "numbered", "forever", ""]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "Monday", "funday", ""]
INDEXES = ["first", "second", "third", "fourth", "last", "fifth", ""]


def _mix(*parts):
    return "".join(parts)


# ------------------------------------------------------------
# Leaves
# ------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.builds(_mix, st.text(max_size=10), st.sampled_from(SPECIAL_CHARACTERS), st.text(max_size=10)),
    st.sampled_from(RTL_AND_EMOJI),
    st.builds(lambda n: "<body>" * n, st.integers(0, 2000)),
    st.sampled_from(["", " ", "\t\n", "(No subject)"]),
)
# a megabyte now and then (subject, body, location, names): rare, as it costs the mapping a full pass
huge_text = st.integers(0, 39).flatmap(lambda n: st.just(MEGABYTE) if n == 0 else hostile_text)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_value = st.recursive(
    json_scalar,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


def odd(strategy):
    """``strategy`` most of the time, else any JSON value (a mistyped field)."""
    return st.one_of(strategy, strategy, strategy, json_value)


zone_name = st.one_of(st.sampled_from(WINDOWS_ZONES), st.sampled_from(IANA_ZONES), st.sampled_from(ODD_ZONES))
moment = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
near_moment = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31))
EXTREMES = [
    datetime(1, 1, 1),
    datetime(1, 1, 1, 9),
    datetime(1600, 12, 31),
    datetime(1601, 1, 1),
    datetime(4500, 12, 31, 23),
    datetime(4501, 1, 1),
    datetime(9999, 12, 31, 23),
    datetime(9999, 12, 31, 23, 59),
]


def _graph_format(value, style):
    if style == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%S.0000000")
    if style == 1:
        return value.isoformat()  # zero-padded year, as Graph writes it
    if style == 2:
        return value.strftime("%Y-%m-%dT%H:%M:%S")  # year 1 as "1-01-01" on this platform
    if style == 3:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat() + "+14:00"


date_time_text = st.one_of(
    st.builds(_graph_format, st.one_of(moment, near_moment, st.sampled_from(EXTREMES)), st.integers(0, 4)),
    st.sampled_from(
        ["", "not-a-date", "2025-02-30T10:00:00", "2025-13-01", "9999-99-99T99:99:99", "now", "0000-00-00"]
    ),
)


@st.composite
def date_time_zone(draw, anchor=None, zones=zone_name):
    value = draw(odd(st.fixed_dictionaries({}, optional={"dateTime": odd(date_time_text), "timeZone": odd(zones)})))
    if anchor is not None and isinstance(value, dict) and draw(st.booleans()):
        value["dateTime"] = _graph_format(anchor, 1)
    return value


email_address = st.one_of(
    st.builds(
        lambda user, domain: f"{user}@{domain}",
        st.from_regex(r"[a-z0-9._+-]{1,20}", fullmatch=True),
        st.sampled_from(["example.com", "contoso.test", "fabrikam.test", "xn--80ak6aa92e.com"]),
    ),
    st.sampled_from(
        [
            "",
            "no-at-sign",
            "@",
            "a@",
            "@b",
            "A@B.C",
            " spaced @x.com",
            "a@b@c",
            "ünï@cödé.de",
            "x" * 300 + "@example.com",
            "tab\t@x.com",
            "nul\x00@x.com",
            "<script>@x.com",
        ]
    ),
    hostile_text,
)
recipient = odd(
    st.fixed_dictionaries(
        {},
        optional={
            "emailAddress": odd(
                st.fixed_dictionaries({}, optional={"address": odd(email_address), "name": odd(hostile_text)})
            )
        },
    )
)
attendee = odd(
    st.fixed_dictionaries(
        {},
        optional={
            "type": odd(st.sampled_from(["required", "optional", "resource", "", "chair"])),
            "status": odd(st.fixed_dictionaries({}, optional={"response": odd(st.sampled_from(RESPONSES))})),
            "emailAddress": odd(
                st.fixed_dictionaries({}, optional={"address": odd(email_address), "name": odd(hostile_text)})
            ),
        },
    )
)


@st.composite
def attendees(draw):
    """0 to 500 attendees: a few generated ones, or many distinct plain ones (cheap to generate)."""
    if draw(st.integers(0, 9)) == 0:
        count = draw(st.integers(50, 500))
        return [
            {"type": "required", "emailAddress": {"address": f"guest{n}@example.com", "name": f"Guest {n}"}}
            for n in range(count)
        ]
    return draw(st.lists(attendee, max_size=6))


recurrence = odd(
    st.fixed_dictionaries(
        {},
        optional={
            "pattern": odd(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "type": odd(st.sampled_from(PATTERNS)),
                        "interval": odd(st.one_of(st.integers(-5, 1000), st.sampled_from([0, 10**12, 2**31, 2**63]))),
                        "daysOfWeek": odd(st.lists(odd(st.sampled_from(DAYS)), max_size=8)),
                        "dayOfMonth": odd(st.integers(-1, 40)),
                        "month": odd(st.integers(-1, 14)),
                        "index": odd(st.sampled_from(INDEXES)),
                        "firstDayOfWeek": odd(st.sampled_from(DAYS)),
                    },
                )
            ),
            "range": odd(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "type": odd(st.sampled_from(RANGES)),
                        "startDate": odd(st.builds(lambda d: d.date().isoformat(), moment)),
                        "endDate": odd(
                            st.one_of(
                                st.builds(lambda d: d.date().isoformat(), moment),
                                st.sampled_from(["0001-01-01", "9999-12-31", "2025-02-30", ""]),
                            )
                        ),
                        "numberOfOccurrences": odd(st.one_of(st.integers(-5, 2000), st.just(10**12))),
                        "recurrenceTimeZone": odd(zone_name),
                    },
                )
            ),
        },
    )
)
identifier = st.one_of(
    st.from_regex(r"AAMk[A-Za-z0-9_=-]{4,40}", fullmatch=True),
    st.sampled_from(["", " ", "id\x00nul", "x" * 5000, "\ud800"]),
)
reminder = st.one_of(st.integers(-10, 50000), st.sampled_from([-5, 0, 15, 2**31, 10**30]), json_value)

FIELDS = {
    "id": odd(identifier),
    "iCalUId": odd(identifier),
    "changeKey": odd(identifier),
    "lastModifiedDateTime": odd(date_time_text),
    "type": odd(st.sampled_from(["singleInstance", "occurrence", "exception", "seriesMaster", ""])),
    "seriesMasterId": odd(identifier),
    "subject": odd(huge_text),
    "body": odd(
        st.fixed_dictionaries(
            {}, optional={"contentType": odd(st.sampled_from(["html", "text", "HTML", ""])), "content": odd(huge_text)}
        )
    ),
    "location": odd(st.fixed_dictionaries({}, optional={"displayName": odd(huge_text)})),
    "isAllDay": odd(st.booleans()),
    "isCancelled": odd(st.booleans()),
    "isDraft": odd(st.booleans()),
    "isOrganizer": odd(st.booleans()),
    "isReminderOn": odd(st.booleans()),
    "reminderMinutesBeforeStart": reminder,
    "responseStatus": odd(st.fixed_dictionaries({}, optional={"response": odd(st.sampled_from(RESPONSES))})),
    "sensitivity": odd(st.sampled_from(["normal", "private", "personal", "confidential", ""])),
    "showAs": odd(st.sampled_from(["busy", "free", "tentative", "oof", "workingElsewhere", "unknown", ""])),
    "originalStartTimeZone": odd(zone_name),
    "organizer": recipient,
    "attendees": odd(attendees()),
    "categories": odd(st.lists(odd(hostile_text), max_size=5)),
    "isOnlineMeeting": odd(st.booleans()),
    "onlineMeeting": odd(st.fixed_dictionaries({}, optional={"joinUrl": odd(hostile_text)})),
    "transactionId": odd(identifier),
    "originalStart": odd(date_time_text),
    "recurrence": recurrence,
    "@removed": odd(st.fixed_dictionaries({"reason": st.sampled_from(["deleted", "changed"])})),
    "@odata.etag": odd(st.builds(lambda key: f'W/"{key}"', identifier)),
}


@st.composite
def hostile_event(draw):
    """Any Graph event JSON: each field present or missing, right or mistyped, plus unknown extra fields."""
    start = draw(st.one_of(near_moment, moment, st.sampled_from(EXTREMES)))
    try:
        end = start + timedelta(minutes=draw(st.integers(-120, 60 * 24 * 3)))
    except OverflowError:
        end = start
    payload = draw(st.fixed_dictionaries({}, optional=FIELDS))
    if draw(st.integers(0, 4)):  # mostly with times, anchored on a real moment
        payload["start"] = draw(date_time_zone(anchor=start))
        payload["end"] = draw(date_time_zone(anchor=end))
    payload.update(draw(st.dictionaries(st.text(max_size=12), json_value, max_size=2)))  # extra fields
    if draw(st.integers(0, 5)) and isinstance(payload.get("id"), (type(None), int, float, bool)):
        payload["id"] = draw(identifier)
    return payload


@st.composite
def plausible_event(draw, index=0, around=None):
    """A Graph event as Outlook really sends one (what must always be kept): may still carry odd text.

    :param around: a datetime: the event starts within the 25 days after it (what a first import brings)
    """
    if around is None:
        start = draw(near_moment).replace(microsecond=0)
    else:
        start = (around + timedelta(minutes=draw(st.integers(60, 25 * 1440)))).replace(microsecond=0)
    duration = timedelta(minutes=draw(st.integers(0, 60 * 24)))
    zone = draw(st.sampled_from(["UTC", "W. Europe Standard Time", "Pacific Standard Time", "Asia/Tokyo"]))
    return {
        "subject": draw(st.text(max_size=40)) or f"Plausible {index}",
        "body": {"contentType": "html", "content": draw(st.text(max_size=60))},
        "start": {"dateTime": start.isoformat(), "timeZone": zone},
        "end": {"dateTime": (start + duration).isoformat(), "timeZone": zone},
        "isAllDay": False,
        "location": {"displayName": draw(st.text(max_size=20))},
        "isReminderOn": draw(st.booleans()),
        "reminderMinutesBeforeStart": draw(st.sampled_from([0, 5, 15, 60, 1440])),
        "categories": draw(st.lists(st.text(min_size=1, max_size=15), max_size=2)),
    }
