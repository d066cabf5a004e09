"""Applying a Graph event payload (POST / PATCH body) to a stored item.

graph-reference A.1: the writable properties and their values (enums are lowerCamelCase), read-only properties ignored
(K: "real Graph mostly ignores"), unknown properties rejected like Graph (``400 RequestBodyRead``). F: ``isAllDay``
needs midnight start/end in one time zone and at least 24 hours ("The duration of an event marked as All day must be at
least 24 hours."). D.1: ``transactionId`` is create-only. D.3: single-value extended properties are stored (ids
normalised: type, GUID and ``Name``/``Id`` keyword case-insensitive, the name itself case-sensitive).
"""

import copy
import datetime
import re
import secrets
from urllib.parse import quote

from . import recurrence as rec
from . import timezones
from .errors import GraphError

WRITABLE = {
    "subject",
    "body",
    "attendees",
    "categories",
    "start",
    "end",
    "hideAttendees",
    "importance",
    "isAllDay",
    "isOnlineMeeting",
    "isReminderOn",
    "location",
    "locations",
    "onlineMeetingProvider",
    "recurrence",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "sensitivity",
    "showAs",
    "allowNewTimeProposals",
    "singleValueExtendedProperties",
    "transactionId",
}
READ_ONLY = {
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "iCalUId",
    "uid",
    "type",
    "seriesMasterId",
    "originalStart",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "isCancelled",
    "isDraft",
    "isOrganizer",
    "onlineMeeting",
    "onlineMeetingUrl",
    "responseStatus",
    "bodyPreview",
    "webLink",
    "hasAttachments",
    "organizer",
    "occurrenceId",
    "calendar",
    "instances",
    "attachments",
    "extensions",
    "multiValueExtendedProperties",
    "exceptionOccurrences",
    "cancelledOccurrences",
}
ENUMS = {
    "showAs": ["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"],
    "sensitivity": ["normal", "personal", "private", "confidential"],
    "importance": ["low", "normal", "high"],
    "onlineMeetingProvider": ["unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer"],
}
ATTENDEE_TYPES = ["required", "optional", "resource"]
# Fields the organizer owns (copied to attendees' copies); the rest is local to each mailbox.
SHARED = {
    "subject",
    "body",
    "attendees",
    "start",
    "end",
    "isAllDay",
    "location",
    "locations",
    "importance",
    "sensitivity",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "recurrence",
    "responseRequested",
    "allowNewTimeProposals",
    "hideAttendees",
}
LOCAL_ONLY = {
    "categories",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "showAs",
    "singleValueExtendedProperties",
    "transactionId",
}
ALL_DAY_MESSAGE = "The duration of an event marked as All day must be at least 24 hours."
_PROPERTY_ID = re.compile(r"^\s*(\w+)\s+\{([0-9a-fA-F-]{36})\}\s+(Name|Id)\s+(.+?)\s*$", re.IGNORECASE)
_PROPTAG_ID = re.compile(r"^\s*(\w+)\s+(0x[0-9a-fA-F]+)\s*$")
NO_TIME = "0001-01-01T00:00:00Z"


def empty_location():
    return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}}


def defaults():
    """Values a freshly created event has before its payload is applied."""
    return {
        "subject": "",
        "body": {"contentType": "html", "content": ""},
        "importance": "normal",
        "sensitivity": "normal",
        "showAs": "busy",
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "responseRequested": True,
        "allowNewTimeProposals": True,
        "hideAttendees": False,
        "categories": [],
        "attendees": [],
        "location": empty_location(),
        "locations": [],
        "isOnlineMeeting": False,
        "onlineMeetingProvider": "unknown",
    }


def normalize_property_id(text):
    """Canonical form of an extended property id for comparisons (D.3)."""
    if not isinstance(text, str):
        return None
    match = _PROPERTY_ID.match(text)
    if match:
        kind, guid, keyword, name = match.groups()
        if keyword.lower() == "id":
            name = name.lower()
        return f"{kind.lower()} {{{guid.lower()}}} {keyword.lower()} {name}"
    match = _PROPTAG_ID.match(text)
    if match:
        return f"{match.group(1).lower()} {match.group(2).lower()}"
    return None


def _bad(message, code="RequestBodyRead"):
    return GraphError(400, code, message)


def _check_keys(payload):
    for key in payload:
        if key.startswith("@odata") or key in WRITABLE or key in READ_ONLY:
            continue
        raise _bad(
            f"The property '{key}' does not exist on type 'microsoft.graph.event'. Make sure to only use "
            "property names that are defined by the type or mark the type as open type."
        )


def _enum(field, value):
    for candidate in ENUMS[field]:
        if isinstance(value, str) and candidate.lower() == value.lower():
            return candidate
    raise _bad(f"Requested value '{value}' was not found.")


def _bool(field, value):
    if not isinstance(value, bool):
        raise _bad(f"Cannot convert a primitive value to the expected type 'Edm.Boolean' ({field}).")
    return value


def parse_time(value, field):
    """dateTimeTimeZone -> ``(naive, tz)``; an offset in ``dateTime`` is converted into ``timeZone``."""
    if not isinstance(value, dict) or "dateTime" not in value:
        raise _bad(f"The {field} property must be a dateTimeTimeZone with dateTime and timeZone.")
    tz = value.get("timeZone") or "UTC"
    timezones.resolve(tz)
    local, offset = timezones.parse_datetime(value["dateTime"], f"{field}.dateTime")
    if offset is not None:
        local = timezones.from_utc((local - offset).replace(tzinfo=timezones.UTC), tz)
    return local, tz


def _attendees(value, previous):
    if not isinstance(value, list):
        raise _bad("attendees must be a collection.")
    if len(value) > 500:
        raise GraphError(400, "ErrorExceededMaxRecipientLimit", "The event has more than 500 attendees.")
    known = {(a["emailAddress"]["address"] or "").lower(): a for a in previous}
    result = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("emailAddress") or {}, dict):
            raise _bad("Each attendee must be an object with an emailAddress object.")
        email = item.get("emailAddress") or {}
        address = email.get("address")
        if not isinstance(address, str) or not address.strip():
            raise GraphError(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
            )
        kind = item.get("type") or "required"
        if kind not in ATTENDEE_TYPES:
            raise _bad(f"Requested value '{kind}' was not found.")
        status = (
            copy.deepcopy(known[address.lower()]["status"])
            if address.lower() in known
            else {"response": "none", "time": NO_TIME}
        )
        result.append(
            {"type": kind, "status": status, "emailAddress": {"name": email.get("name") or address, "address": address}}
        )
    return result


def _location(value):
    if value is None:
        return empty_location()
    if not isinstance(value, dict):
        raise _bad("location must be an object.")
    name = value.get("displayName") or ""
    if not isinstance(name, str):
        raise _bad("location.displayName must be a string.")
    result = empty_location()
    result.update({k: copy.deepcopy(v) for k, v in value.items() if not k.startswith("@odata")})
    result["displayName"] = name
    if name and value.get("uniqueIdType") in (None, "unknown") and not value.get("uniqueId"):
        result["uniqueId"], result["uniqueIdType"] = name, "private"
    return result


def _body(value):
    if not isinstance(value, dict):
        raise _bad("body must be an itemBody object.")
    kind = value.get("contentType") or "text"
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind not in ("text", "html"):
        raise _bad(f"Requested value '{value.get('contentType')}' was not found.")
    content = value.get("content") or ""
    if not isinstance(content, str):
        raise _bad("body.content must be a string.")
    return {"contentType": kind, "content": content}


def _extended(value, current):
    if not isinstance(value, list):
        raise _bad("singleValueExtendedProperties must be a collection.")
    result = dict(current)
    for item in value:
        if not isinstance(item, dict):
            raise _bad("Each single-value extended property must be an object with id and value.")
        key = normalize_property_id(item.get("id"))
        if key is None:
            raise GraphError(400, "BadRequest", f"The extended property id '{(item or {}).get('id')}' is not valid.")
        result[key] = {"id": item["id"], "value": "" if item.get("value") is None else str(item.get("value"))}
    return result


def _convert(key, value, event):
    if key == "subject":
        if value is not None and not isinstance(value, str):
            raise _bad("subject must be a string.")
        return value or ""
    if key == "body":
        return _body(value)
    if key == "attendees":
        return _attendees(value, event.attendees())
    if key == "categories":
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise _bad("categories must be a collection of strings.")
        return list(value)
    if key == "location":
        return _location(value)
    if key == "locations":
        if not isinstance(value, list):
            raise _bad("locations must be a collection.")
        return [_location(v) for v in value]
    if key in ENUMS:
        return _enum(key, value)
    if key == "reminderMinutesBeforeStart":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad("Cannot convert a primitive value to the expected type 'Edm.Int32'.")
        return value
    return _bool(key, value)


def validate_times(start, end, is_all_day):
    start_utc, end_utc = timezones.to_utc(*start), timezones.to_utc(*end)
    if end_utc < start_utc:
        raise GraphError(
            400, "ErrorCalendarEndDateIsEarlierThanStartDate", "The end date occurs before the start date."
        )
    if is_all_day:
        midnight = start[0].time() == datetime.time(0) and end[0].time() == datetime.time(0)
        same_zone = start[1].lower() == end[1].lower()
        if not (midnight and same_zone and end[0] - start[0] >= datetime.timedelta(days=1)):
            raise GraphError(400, "ErrorInvalidRequest", ALL_DAY_MESSAGE)


def _all_day_input(value, field, payload):
    """Microsoft staff (F): the time part of an all-day event's start/end is ignored on input."""
    local, tz = parse_time(value, field)
    if payload.get("isAllDay") is True and isinstance(value.get("dateTime"), str) and len(value["dateTime"]) == 10:
        local = datetime.datetime.combine(local.date(), datetime.time(0))
    return local, tz


def apply(event, payload, creating=False):
    """Validate ``payload`` and apply it to ``event`` in place.

    :return: ``(present, times_changed, recurrence_changed)`` -- payload keys applied, and whether the start/end or
        the recurrence actually changed
    """
    if not isinstance(payload, dict):
        raise _bad("The request body must be a JSON object.")
    _check_keys(payload)
    if "transactionId" in payload and not isinstance(payload["transactionId"], (str, type(None))):
        raise _bad("Cannot convert a primitive value to the expected type 'Edm.String' (transactionId).")
    updates = {
        key: _convert(key, value, event)
        for key, value in payload.items()
        if key in WRITABLE
        and key not in ("start", "end", "isAllDay", "recurrence", "singleValueExtendedProperties", "transactionId")
    }
    start = _all_day_input(payload["start"], "start", payload) if "start" in payload else event.start
    end = _all_day_input(payload["end"], "end", payload) if "end" in payload else event.end
    is_all_day = _bool("isAllDay", payload["isAllDay"]) if "isAllDay" in payload else event.is_all_day
    if start is None or end is None:
        raise GraphError(
            400, "ErrorInvalidRequest", "Your request can't be completed. The event start and end must be specified."
        )
    validate_times(start, end, is_all_day)
    recurrence = _new_recurrence(event, payload, start)
    extended = (
        _extended(payload["singleValueExtendedProperties"], event.extended)
        if "singleValueExtendedProperties" in payload
        else event.extended
    )
    before = (event.start_utc, event.end_utc, event.is_all_day)
    old_recurrence = event.recurrence
    _apply_locations(updates)
    event.fields.update(updates)
    event.set_times(start, end, is_all_day)
    event.recurrence = recurrence
    event.extended = extended
    if creating:
        event.original_start_tz, event.original_end_tz = start[1], end[1]
        if isinstance(payload.get("transactionId"), str) and payload["transactionId"]:
            event.transaction_id = payload["transactionId"]
    if recurrence is not None:
        _snap_to_first_slot(event)
    _online_meeting(event, payload)
    times_changed = before != (event.start_utc, event.end_utc, event.is_all_day)
    return set(payload), times_changed, recurrence != old_recurrence


def _new_recurrence(event, payload, start):
    if "recurrence" not in payload:
        if event.recurrence and start != event.start:
            moved = copy.deepcopy(event.recurrence)
            tz = moved["range"]["recurrenceTimeZone"]
            moved["range"]["startDate"] = timezones.from_utc(timezones.to_utc(*start), tz).date().isoformat()
            return moved
        return event.recurrence
    if payload["recurrence"] is None:
        return None
    if event.kind == "exception":
        raise GraphError(400, "ErrorInvalidRequest", "Recurrence can't be set on an occurrence or an exception.")
    return rec.normalize(payload["recurrence"], timezones.to_utc(*start), start[1])


def _apply_locations(updates):
    """``location`` and ``locations`` always correspond (A.1)."""
    if "location" in updates and "locations" not in updates:
        updates["locations"] = [copy.deepcopy(updates["location"])] if updates["location"]["displayName"] else []
    elif "locations" in updates and "location" not in updates:
        updates["location"] = copy.deepcopy(updates["locations"][0]) if updates["locations"] else empty_location()


def _snap_to_first_slot(event):
    """Exchange moves a series master onto its first occurrence."""
    first = next(rec.slots(event), None)
    if first is None:
        raise GraphError(400, "ErrorInvalidRecurrence", "The recurrence pattern has no occurrence in its range.")
    if first.start_utc != event.start_utc:
        start = (timezones.from_utc(first.start_utc, event.start[1]), event.start[1])
        end = (timezones.from_utc(first.end_utc, event.end[1]), event.end[1])
        event.set_times(start, end, event.is_all_day)


def _online_meeting(event, payload):
    """Once ``isOnlineMeeting`` is true Graph creates ``onlineMeeting``; later changes are ignored (A.1)."""
    fields = event.fields
    if event.online_meeting is not None:
        fields["isOnlineMeeting"] = True
        fields["onlineMeetingProvider"] = event.online_meeting_provider
        return
    if not fields.get("isOnlineMeeting"):
        return
    provider = fields.get("onlineMeetingProvider") or "unknown"
    if provider == "unknown":
        provider = "teamsForBusiness"
    event.online_meeting_provider = fields["onlineMeetingProvider"] = provider
    event.online_meeting = make_online_meeting(event, provider)
    body = fields.get("body") or {"contentType": "html", "content": ""}
    join = event.online_meeting["joinUrl"]
    if body["contentType"] == "html":
        blob = (
            '<div style="width:100%"><span style="white-space:nowrap">________________________________________'
            "________________________________________</span></div><div><b>Microsoft Teams meeting</b></div>"
            f'<div><a href="{join}">Join the meeting now</a></div><div>Meeting ID: '
            f"{event.online_meeting['conferenceId']}</div>"
        )
        fields["body"] = {"contentType": "html", "content": body["content"] + blob}
    else:
        fields["body"] = {"contentType": "text", "content": body["content"] + f"\n\nMicrosoft Teams meeting\n{join}\n"}


def make_online_meeting(event, provider):
    thread = secrets.token_urlsafe(36).replace("-", "x").replace("_", "y")
    tenant = event.mailbox.tenant_id
    context = quote(f'{{"Tid":"{tenant}","Oid":"{event.mailbox.id}"}}', safe="")
    if provider == "teamsForBusiness":
        join = f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context={context}"
    elif provider == "skypeForConsumer":
        join = f"https://join.skype.com/{thread[:12]}"
    else:
        join = f"https://meet.lync.com/{event.mailbox.address.split('@')[1]}/{thread[:8]}"
    return {
        "joinUrl": join,
        "conferenceId": str(secrets.randbelow(10**9)).zfill(9),
        "tollNumber": "+1 323-555-0166",
        "tollFreeNumbers": [],
        "quickDial": None,
        "phones": [],
        "tollNumbers": None,
    }
