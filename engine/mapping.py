"""Graph event payloads <-> Odoo's calendar vocabulary, both ways (graph-reference A, F; README mapping table).

Pure: no Odoo, no clock, no I/O. :class:`EventData` holds one meeting as Odoo sees it (UTC naive datetimes,
inclusive all-day end date, Odoo's selection values); :func:`from_graph` builds it from a Graph event and
:func:`to_graph` / :func:`graph_patch` turn it back into a Graph body. :func:`fingerprint` hashes the fields
that sync, so an unchanged event is never written again on either side.
"""

import contextlib
import hashlib
import html
import json
import re
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, time, timedelta, timezone

from .errors import MappingError, UnknownTimeZone
from .timezones import to_iana, utc_naive, zone

# Graph responseStatus.response -> calendar.attendee.state (README mapping table)
RESPONSE_TO_STATE = {
    "none": "needsAction",
    "notResponded": "needsAction",
    "organizer": "accepted",
    "accepted": "accepted",
    "tentativelyAccepted": "tentative",
    "declined": "declined",
}
SHOW_AS_BUSY = frozenset({"busy", "oof", "workingElsewhere"})
PRIVATE_SENSITIVITY = frozenset({"private", "confidential"})
DEFAULT_ATTENDEE_CAP = 50
GRAPH_DATETIME = "%Y-%m-%dT%H:%M:%S.0000000"
# What Odoo can store, whatever Outlook sends: PostgreSQL refuses NUL in text and psycopg2 cannot encode a lone
# surrogate (a JSON "\ud800"); dates stay within Outlook's own calendar range (1601-4500), so that every date
# Odoo derives (a day before, a day after, in any time zone) exists; integers fit PostgreSQL's int4.
_UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
FIRST_DAY = date(1601, 1, 1)
LAST_DAY = date(4500, 12, 31)
MAX_ALARM_MINUTES = 4 * 7 * 24 * 60  # Outlook offers reminders up to two weeks ahead; beyond four: none
MAX_ADDRESS_LENGTH = 254  # the longest e-mail address SMTP allows
MAX_LABEL_LENGTH = 255  # names and categories: Outlook's own limit for a category, and btree-indexable in Odoo
# Exchange returns HTML bodies as a whole document (<html><head><meta …></head><body>…</body></html>)
_BODY_OPEN = re.compile(r"<body(?=[\s>/])", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Attendee:
    email: str  # lower-case
    name: str = ""
    state: str = "needsAction"
    optional: bool = False


@dataclass(frozen=True)
class EventData:
    """One meeting in Odoo's vocabulary. ``start``/``stop`` are UTC naive for timed events; all-day
    events use ``start_date``/``stop_date`` (inclusive) and leave ``start``/``stop`` empty."""

    name: str
    start: datetime = None
    stop: datetime = None
    allday: bool = False
    start_date: date = None
    stop_date: date = None
    timezone: str = "UTC"
    description: str = ""
    location: str = ""
    videocall_location: str = ""
    privacy: str = "public"
    show_as: str = "busy"
    organizer_email: str = ""
    organizer_name: str = ""
    attendees: tuple = ()
    alarm_minutes: int = None
    categories: tuple = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def ended_before(self, moment):
        """Whether the event ended before ``moment`` (UTC naive). An all-day event ends at midnight in its
        own time zone: Honolulu's day ends ten hours after UTC's, Tonga's thirteen hours before."""
        if self.allday:
            end = datetime.combine(self.stop_date + timedelta(days=1), time())
            with contextlib.suppress(UnknownTimeZone):  # an unknown zone: midnight UTC
                end = utc_naive(end, self.timezone)
            return end <= moment
        return self.stop <= moment


# ------------------------------------------------------------
# Inbound
# ------------------------------------------------------------


def _object(value, where):
    """A JSON object property; ``None`` is an empty one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{where} is not an object")
    return value


def storable_text(value):
    """``value`` without the characters PostgreSQL cannot store (NUL, lone surrogates)."""
    return _UNSTORABLE_CHARACTERS.sub("", value)


def _text(value, where):
    """A string property, cleaned of what PostgreSQL cannot store; ``None`` is an empty one."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MappingError(f"{where} is not a string")
    return storable_text(value)


def _label(value, where):
    """A short text (a name, an address, a category): stripped, at most :data:`MAX_LABEL_LENGTH` characters."""
    return _text(value, where).strip()[:MAX_LABEL_LENGTH].strip()


def _check_day(day, where):
    if not FIRST_DAY <= day <= LAST_DAY:
        raise MappingError(f"{where} {day.isoformat()} is outside the dates Outlook supports (years 1601 to 4500)")
    return day


def _flag(value, where):
    """A boolean property; ``None`` is false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MappingError(f"{where} is not a boolean")
    return value


def parse_graph_datetime(value, tz_name, where):
    """A Graph ``dateTimeTimeZone`` as a UTC naive datetime."""
    if not isinstance(value, str) or not value:
        raise MappingError(f"{where} has no dateTime")
    try:
        moment = datetime.fromisoformat(value[:26].rstrip("Z"))
    except ValueError as exc:
        raise MappingError(f"{where} has an invalid dateTime {value[:40]!r}") from exc
    _check_day(moment.date(), where)
    moment = utc_naive(moment, tz_name, where)
    _check_day(moment.date(), where)
    return moment


def parse_graph_date(value, where):
    if not isinstance(value, str) or len(value) < 10:
        raise MappingError(f"{where} has no date")
    try:
        day = date.fromisoformat(value[:10])
    except ValueError as exc:
        raise MappingError(f"{where} has an invalid date {value[:40]!r}") from exc
    return _check_day(day, where)


def _times(payload):
    start, end = payload.get("start"), payload.get("end")
    start, end = {} if start is None else start, {} if end is None else end
    if not isinstance(start, dict) or not isinstance(end, dict):
        raise MappingError("start/end are not dateTimeTimeZone objects")
    start_tz = _text(start.get("timeZone"), "start.timeZone") or "UTC"
    end_tz = _text(end.get("timeZone"), "end.timeZone") or "UTC"
    tz_name = to_iana(_text(payload.get("originalStartTimeZone"), "originalStartTimeZone") or start_tz)
    if _flag(payload.get("isAllDay"), "isAllDay"):
        # all-day events are midnight to midnight in their own zone: take the dates as they are, never
        # convert them, so nobody east or west of UTC sees them shifted (graph-reference F)
        first = parse_graph_date(start.get("dateTime"), "start")
        after_last = parse_graph_date(end.get("dateTime"), "end")
        last = max(first, after_last - timedelta(days=1))
        return {"allday": True, "start_date": first, "stop_date": last, "timezone": tz_name}
    begin = parse_graph_datetime(start.get("dateTime"), start_tz, "start")
    finish = parse_graph_datetime(end.get("dateTime"), end_tz, "end")
    if finish < begin:
        raise MappingError("the event ends before it starts")
    return {"start": begin, "stop": finish, "timezone": tz_name}


def _email_of(recipient, where):
    address = _object(_object(recipient, where).get("emailAddress"), where + ".emailAddress")
    email = _text(address.get("address"), where + ".emailAddress.address").strip().lower()
    if len(email) > MAX_ADDRESS_LENGTH or any(
        character.isspace() or not character.isprintable() for character in email
    ):
        email = ""  # not an address anybody can be reached at
    return email, _label(address.get("name"), where + ".emailAddress.name")


def _attendees(payload, cap):
    attendees = payload.get("attendees")
    if attendees is not None and not isinstance(attendees, list):
        raise MappingError("attendees is not a list")
    found = {}
    for item in attendees or []:
        if not isinstance(item, dict) or item.get("type") == "resource":
            continue  # rooms and equipment are not people: they stay in the location
        try:
            email, name = _email_of(item, "attendee")
        except MappingError:
            continue  # one unreadable attendee does not make the meeting unreadable
        if not email or "@" not in email:
            continue
        status = item.get("status")
        response = status.get("response") if isinstance(status, dict) else None
        state = RESPONSE_TO_STATE.get(response, "needsAction") if isinstance(response, str) else "needsAction"
        found[email] = Attendee(email, name or email, state, item.get("type") == "optional")
    ordered = sorted(found.values(), key=lambda attendee: attendee.email)
    return tuple(ordered[:cap]), tuple(ordered[cap:])


def _overflow_html(extra_attendees):
    if not extra_attendees:
        return ""
    names = ", ".join(
        f"{html.escape(a.name, quote=False)} &lt;{html.escape(a.email, quote=False)}&gt;"
        if a.name != a.email
        else html.escape(a.email, quote=False)
        for a in extra_attendees
    )
    return f"<p><em>Other attendees ({len(extra_attendees)}): {names}</em></p>"


def _description(body):
    """Graph ``itemBody`` -> Odoo HTML: Exchange's document wrapper removed (so what Odoo wrote comes
    back as it was), text escaped."""
    body = _object(body, "body")
    content = _text(body.get("content"), "body.content")
    if not content:
        return ""
    if str(body.get("contentType") or "").lower() == "text":
        return "<p>{}</p>".format(html.escape(content.replace("\r\n", "\n"), quote=False).replace("\n", "<br>"))
    return _document_body(content)


def _document_body(content):
    """What is inside ``<body ...>`` and ``</body>`` of an HTML document, else ``content`` itself. Searched in
    linear time: a hostile body of a megabyte of ``<body`` costs one pass, not one per tag."""
    opening = _BODY_OPEN.search(content)
    closing = None
    if opening:
        for closing in _BODY_CLOSE.finditer(content, opening.end()):  # noqa: B007 # the last one is kept
            continue
    if not opening or not closing:
        return content
    start = content.find(">", opening.start(), closing.start())
    return content[start + 1 : closing.start()].strip() if start != -1 else content


def _alarm(payload):
    reminder = payload.get("reminderMinutesBeforeStart")
    if not _flag(payload.get("isReminderOn"), "isReminderOn") or isinstance(reminder, bool):
        return None
    # a negative or far-fetched reminder is no reminder (Odoo keeps minutes in an int4)
    return reminder if isinstance(reminder, int) and 0 <= reminder <= MAX_ALARM_MINUTES else None


def _categories(payload):
    categories = payload.get("categories")
    if categories is not None and not isinstance(categories, list):
        raise MappingError("categories is not a list")
    labels = {_label(c, "category") for c in categories or [] if isinstance(c, str)}
    return tuple(sorted(label for label in labels if label))


def from_graph(payload, *, attendee_cap=DEFAULT_ATTENDEE_CAP):
    """Map a full Graph event to :class:`EventData`; raise :class:`MappingError` when it is broken."""
    if not isinstance(payload, dict):
        raise MappingError("the event is not a JSON object")
    times = _times(payload)
    attendees, overflow = _attendees(payload, attendee_cap)
    organizer_email, organizer_name = _email_of(payload.get("organizer"), "organizer")
    online = _object(payload.get("onlineMeeting"), "onlineMeeting")
    is_online = _flag(payload.get("isOnlineMeeting"), "isOnlineMeeting")
    show_as = _text(payload.get("showAs"), "showAs") or "busy"
    return EventData(
        name=_text(payload.get("subject"), "subject").strip() or "(No subject)",
        description=_description(payload.get("body")) + _overflow_html(overflow),
        location=_text(_object(payload.get("location"), "location").get("displayName"), "location.displayName").strip(),
        videocall_location=_text(online.get("joinUrl"), "onlineMeeting.joinUrl").strip() if is_online else "",
        privacy="private" if _text(payload.get("sensitivity"), "sensitivity") in PRIVATE_SENSITIVITY else "public",
        show_as="busy" if show_as in SHOW_AS_BUSY else "free",
        organizer_email=organizer_email,
        organizer_name=organizer_name,
        attendees=attendees,
        alarm_minutes=_alarm(payload),
        categories=_categories(payload),
        extra={"attendee_overflow": len(overflow)} if overflow else {},
        **times,
    )


# ------------------------------------------------------------
# Outbound
# ------------------------------------------------------------


def _graph_moment(value, tz_name):
    """``value`` (UTC naive) as a Graph ``dateTimeTimeZone`` in ``tz_name``; in UTC when that wall-clock time
    happens twice (the repeated hour of a fall-back night), as the time alone would not say which one."""
    tzinfo = zone(tz_name)
    local = value.replace(tzinfo=timezone.utc).astimezone(tzinfo).replace(tzinfo=None)
    if local.replace(tzinfo=tzinfo, fold=0).utcoffset() != local.replace(tzinfo=tzinfo, fold=1).utcoffset():
        local, tz_name = value, "UTC"
    return {"dateTime": local.strftime(GRAPH_DATETIME), "timeZone": tz_name}


def graph_times(data):
    """``start``/``end``/``isAllDay`` of a Graph body, in the event's own time zone."""
    if data.allday:
        return {
            "isAllDay": True,
            "start": {"dateTime": data.start_date.strftime("%Y-%m-%dT00:00:00.0000000"), "timeZone": data.timezone},
            "end": {
                "dateTime": (data.stop_date + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00.0000000"),
                "timeZone": data.timezone,
            },
        }
    return {
        "isAllDay": False,
        "start": _graph_moment(data.start, data.timezone),
        "end": _graph_moment(data.stop, data.timezone),
    }


def _graph_attendees(data):
    return [
        {
            "type": "optional" if attendee.optional else "required",
            "emailAddress": {"address": attendee.email, "name": attendee.name or attendee.email},
        }
        for attendee in data.attendees
        if attendee.email != data.organizer_email
    ]


def _graph_fields(data, with_attendees=True):
    """Every synced Graph property of ``data`` but its times, keyed by Graph property name."""
    body = {
        "subject": data.name,
        "body": {"contentType": "html", "content": data.description or ""},
        "location": {"displayName": data.location or ""},
        "sensitivity": "private" if data.privacy == "private" else "normal",
        "showAs": "busy" if data.show_as == "busy" else "free",
        "isReminderOn": data.alarm_minutes is not None,
        "categories": list(data.categories),
        "attendees": _graph_attendees(data),
    }
    if data.alarm_minutes is not None:
        body["reminderMinutesBeforeStart"] = data.alarm_minutes
    if not with_attendees:
        body["attendees"] = []
    return body


def to_graph(data, *, with_attendees=True):
    """The body of a Graph POST creating ``data`` (the caller adds transactionId and our stamp)."""
    return {**_graph_fields(data, with_attendees), **graph_times(data)}


def _when(data):
    """What the times of ``data`` mean, whatever zone they are written in."""
    return (True, data.start_date, data.stop_date) if data.allday else (False, data.start, data.stop)


def graph_patch(previous, current, *, with_attendees=True):
    """The smallest Graph PATCH body turning ``previous`` into ``current`` (``{}`` when nothing changed).
    Times are compared as instants (dates for all-day events): the same meeting written in another time
    zone is no change, as Exchange would mail every attendee an update for it."""
    before = _graph_fields(previous, with_attendees)
    after = _graph_fields(current, with_attendees)
    patch = {key: value for key, value in after.items() if before.get(key) != value}
    if _when(previous) != _when(current):
        patch.update(graph_times(current))  # Graph wants both ends (and the all-day flag) together
    return patch


# ------------------------------------------------------------
# Fingerprints and snapshots
# ------------------------------------------------------------


_SNAPSHOT_FIELDS = tuple(f.name for f in dataclass_fields(EventData) if f.name != "extra")


def snapshot(data):
    """A JSON-able dict of ``data`` (stored on the link as the last synced state). Built field by field:
    ``dataclasses.asdict`` deep-copies every value and was a tenth of an import's time."""
    values = {}
    for name in _SNAPSHOT_FIELDS:
        value = getattr(data, name)
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        elif name == "attendees":
            value = [{"email": a.email, "name": a.name, "state": a.state, "optional": a.optional} for a in value]
        elif name == "categories":
            value = list(value)
        values[name] = value
    return values


def from_snapshot(values):
    """Rebuild :class:`EventData` from :func:`snapshot`'s output."""
    values = dict(values)
    for key in ("start", "stop"):
        if values.get(key):
            values[key] = datetime.fromisoformat(values[key])
    for key in ("start_date", "stop_date"):
        if values.get(key):
            values[key] = date.fromisoformat(values[key])
    values["attendees"] = tuple(Attendee(**attendee) for attendee in values.get("attendees") or ())
    values["categories"] = tuple(values.get("categories") or ())
    return EventData(**values)


MEETING_FIELDS = (
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
)


def fingerprint(data, *, with_attendee_states=False):
    """A stable hash of the synced fields. Attendee answers are left out unless asked for: another
    person's reply is not a change of the meeting."""
    values = snapshot(data)
    content = {key: values[key] for key in MEETING_FIELDS}
    content["attendees"] = [
        [a["email"], a["optional"]] + ([a["state"]] if with_attendee_states else []) for a in values["attendees"]
    ]
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def without_private_details(data):
    """What a private event shows on the other side: times and subject, no attendees or description."""
    return replace(data, description="", attendees=())
