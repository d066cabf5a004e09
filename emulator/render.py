"""Event JSON as Graph v1.0 returns it (graph-reference A.1, A.2, F, D.2).

UTC unless ``Prefer: outlook.timezone``; all-day items midnight-to-midnight as stored (F); ``@odata.etag`` =
``W/"<changeKey>"``; DateTimeOffsets with 7 fractional digits; body HTML unless ``Prefer:
outlook.body-content-type="text"``; ids in the form the request asked for (D.2); ``transactionId`` only when set (D.1);
``singleValueExtendedProperties`` only through ``$expand`` (D.3); occurrences carry ``seriesMasterId``, their own
``iCalUId`` and ``originalStart``; delta occurrences are bare (B.4).
"""

import html
import re
from urllib.parse import quote

from . import timezones
from .store import format_id, occurrence_ical_uid, stamp

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_HEAD_OR_STYLE = re.compile(r"<(head|style|script)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)


class Occurrence:
    """A virtual occurrence of a series master (not stored)."""

    kind = "occurrence"

    def __init__(self, master, slot):
        self.master, self.slot = master, slot
        self.original_start = slot.original_start
        self.start_utc, self.end_utc = slot.start_utc, slot.end_utc

    def id(self, immutable=True):
        return format_id(self.master.core, immutable, (self.master.generation, stamp(self.original_start)))


def html_to_text(content):
    text = _HEAD_OR_STYLE.sub(" ", content)
    text = re.sub(r"<br\s*/?>|</p>|</div>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(_TAG.sub("", text))
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines()).strip()


def text_to_html(content):
    escaped = html.escape(content).replace("\r\n", "\n").replace("\n", "<br>\r\n")
    return _document(f"<div>{escaped}</div>")


def _document(inner):
    return (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
        f"</head>\r\n<body>\r\n{inner}\r\n</body>\r\n</html>\r\n"
    )


def render_body(body, as_text):
    content, kind = body.get("content") or "", body.get("contentType", "html")
    if as_text:
        return {"contentType": "text", "content": content if kind == "text" else html_to_text(content)}
    if kind == "text":
        return {"contentType": "html", "content": text_to_html(content) if content else ""}
    if content and "<html" not in content.lower():
        content = _document(content)
    return {"contentType": "html", "content": content}


def body_preview(body):
    content = body.get("content") or ""
    text = content if body.get("contentType") == "text" else html_to_text(content)
    return _SPACE.sub(" ", text).strip()[:255]


def _time(view, utc, local, all_day):
    if all_day:
        return {"dateTime": timezones.format_wire(local), "timeZone": view.tz}
    return {"dateTime": timezones.format_wire(timezones.from_utc(utc, view.tz)), "timeZone": view.tz}


def _times(item, view):
    if isinstance(item, Occurrence):
        master = item.master
        return (
            _time(view, item.start_utc, item.slot.local_start, master.is_all_day),
            _time(view, item.end_utc, item.slot.local_end, master.is_all_day),
        )
    return (
        _time(view, item.start_utc, item.start[0], item.is_all_day),
        _time(view, item.end_utc, item.end[0], item.is_all_day),
    )


def bare(item, view):
    """Delta shape of an occurrence (B.4): type, etag, id, seriesMasterId, type, start, end."""
    start, end = _times(item, view)
    return {
        "@odata.type": "#microsoft.graph.event",
        "@odata.etag": f'W/"{item.master.change_key}"',
        "id": item.id(view.immutable),
        "seriesMasterId": item.master.id(view.immutable),
        "type": "occurrence",
        "start": start,
        "end": end,
    }


def render(item, view, extended_filter=None):
    """Full event JSON for a stored item or an :class:`Occurrence`."""
    source = item.master if isinstance(item, Occurrence) else item
    master = item.master if item.kind in ("occurrence", "exception") else None
    fields = source.fields
    body = fields.get("body") or {"contentType": "html", "content": ""}
    start, end = _times(item, view)
    rest_id = item.id(False)
    data = {
        "@odata.etag": f'W/"{source.change_key}"',
        "id": item.id(view.immutable),
        "createdDateTime": timezones.format_utc(source.created),
        "lastModifiedDateTime": timezones.format_utc(source.modified),
        "changeKey": source.change_key,
        "categories": list(fields.get("categories") or []),
    }
    if source.transaction_id:
        data["transactionId"] = source.transaction_id
    data.update(
        {
            "originalStartTimeZone": source.original_start_tz,
            "originalEndTimeZone": source.original_end_tz,
            "iCalUId": _ical_uid(item, master),
            "reminderMinutesBeforeStart": fields.get("reminderMinutesBeforeStart", 15),
            "isReminderOn": fields.get("isReminderOn", True),
            "hasAttachments": False,
            "subject": fields.get("subject", ""),
            "bodyPreview": body_preview(body),
            "importance": fields.get("importance", "normal"),
            "sensitivity": fields.get("sensitivity", "normal"),
            "isAllDay": source.is_all_day,
            "isCancelled": source.is_cancelled,
            "isOrganizer": source.is_organizer,
            "responseRequested": fields.get("responseRequested", True),
            "seriesMasterId": master.id(view.immutable) if master else None,
            "showAs": fields.get("showAs", "busy"),
            "type": item.kind,
            "webLink": (
                f"https://outlook.office365.com/owa/?itemid={quote(rest_id, safe='')}&exvsurl=1&path=/calendar/item"
            ),
            "onlineMeetingUrl": None,
            "isOnlineMeeting": bool(fields.get("isOnlineMeeting")),
            "onlineMeetingProvider": fields.get("onlineMeetingProvider", "unknown"),
            "allowNewTimeProposals": fields.get("allowNewTimeProposals", True),
            "isDraft": False,
            "hideAttendees": fields.get("hideAttendees", False),
            "responseStatus": dict(source.response),
            "body": render_body(body, view.text_body),
            "start": start,
            "end": end,
            "location": fields.get("location"),
            "locations": list(fields.get("locations") or []),
            "recurrence": source.recurrence if item.kind == "seriesMaster" else None,
            "attendees": _attendees(source, view),
            "organizer": source.organizer,
            "onlineMeeting": source.online_meeting,
        }
    )
    if item.kind in ("occurrence", "exception"):
        data["originalStart"] = timezones.format_utc(item.original_start, 0)
    if extended_filter is not None:
        holder = master if item.kind == "occurrence" else source
        data["singleValueExtendedProperties"] = [dict(p) for p in holder.extended.values() if extended_filter(p)]
    if source.wire_override or source.wire_drop:  # a hostile item (OutlookActions.corrupt_event)
        for key in source.wire_drop:
            data.pop(key, None)
        data.update(source.wire_override)
    return data


def _ical_uid(item, master):
    if master is None:
        return item.ical_uid
    tz = master.recurrence["range"]["recurrenceTimeZone"] if master.recurrence else "UTC"
    return occurrence_ical_uid(master.ical_uid, timezones.from_utc(item.original_start, tz).date())


def _attendees(source, view):
    attendees = source.fields.get("attendees") or []
    if source.fields.get("hideAttendees") and not source.is_organizer:
        own = source.mailbox.address.lower()
        attendees = [a for a in attendees if a["emailAddress"]["address"].lower() == own]
    return [
        {"type": a["type"], "status": dict(a["status"]), "emailAddress": dict(a["emailAddress"])} for a in attendees
    ]


def select(data, names):
    """``$select``: keep the named properties (+ ``@odata.etag`` and ``id``, which Graph always returns)."""
    if not names:
        return data
    keep = set(names) | {"@odata.etag", "id", "@odata.type", "@removed"}
    return {k: v for k, v in data.items() if k in keep}
