"""Mailboxes and the items of their default calendar, with Exchange-like identifiers.

Reproduces graph-reference A.1 (read-only identity fields: ``id``, ``iCalUId``, ``changeKey``, created/modified stamps)
and D.2 (ids are case-sensitive; an immutable form under ``Prefer: IdType="ImmutableId"`` and a different REST form
otherwise, both accepted as input; ``iCalUId`` shared by every attendee's copy, different for each occurrence).

Stored items are single instances, series masters and exceptions (kept on their master). Occurrences are virtual:
computed from the master's pattern (:mod:`.recurrence`) and addressed by ids derived from the master id, the series
generation and the occurrence's original start, so they are stable until the series is re-patterned (D.2 Obs: a rule
change yields brand-new occurrence ids).
"""

import base64
import datetime
import secrets
import string
import uuid

from . import timezones
from .errors import GraphError

IMMUTABLE_PREFIX = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A"
REST_PREFIX = "AAMkADAwATM0MDAAMS1hYjQ4LTQ0ZjktMDACLTAwCgBGAAAD"
CORE_LENGTH = 32
ICAL_PREFIX = "040000008200E00074C5B7101A82E008"
STAMP_FORMAT = "%Y%m%d%H%M%S"


def new_core():
    return secrets.token_urlsafe(24)  # 32 url-safe characters


def new_change_key():
    return base64.b64encode(secrets.token_bytes(21)).decode("ascii")


def new_generation():
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(4))


def new_ical_uid():
    return ICAL_PREFIX + "00000000" + "0000000000000000100000000" + secrets.token_hex(16).upper()


def occurrence_ical_uid(master_uid, original_local_date):
    """Per-occurrence iCalUId: the master's global object id with the instance date in bytes 16-19 (A.1)."""
    date_hex = f"{original_local_date.year:04X}{original_local_date.month:02X}{original_local_date.day:02X}"
    if master_uid.startswith(ICAL_PREFIX) and len(master_uid) > len(ICAL_PREFIX) + 8:
        return ICAL_PREFIX + date_hex + master_uid[len(ICAL_PREFIX) + 8 :]
    return f"{master_uid}-{date_hex}"


def stamp(moment):
    """UTC instant -> ``YYYYMMDDhhmmss`` (the occurrence part of an id)."""
    m = moment if moment.tzinfo is timezones.UTC else moment.astimezone(timezones.UTC)
    return f"{m.year:04d}{m.month:02d}{m.day:02d}{m.hour:02d}{m.minute:02d}{m.second:02d}"


def unstamp(text):
    return datetime.datetime.strptime(text, STAMP_FORMAT).replace(tzinfo=timezones.UTC)


def format_id(core, immutable, occurrence=None):
    """``occurrence`` = ``(generation, stamp)`` for an occurrence/exception id."""
    prefix = IMMUTABLE_PREFIX if immutable else REST_PREFIX
    if occurrence:
        return f"{prefix}{core}BAA{occurrence[0]}{occurrence[1]}="
    return f"{prefix}{core}AAA="


def parse_id(text):
    """:return: ``(core, occurrence or None)``; None when ``text`` is not an id this emulator issued."""
    if not isinstance(text, str):
        return None
    for prefix in (IMMUTABLE_PREFIX, REST_PREFIX):
        if text.startswith(prefix):
            body = text[len(prefix) :]
            core, tail = body[:CORE_LENGTH], body[CORE_LENGTH:]
            if len(core) != CORE_LENGTH:
                return None
            if tail == "AAA=":
                return core, None
            if len(tail) == 3 + 4 + 14 + 1 and tail.startswith("BAA") and tail.endswith("="):
                digits = tail[7:21]
                if digits.isdigit():
                    return core, (tail[3:7], digits)
            return None
    return None


def now_utc():
    return datetime.datetime.now(timezones.UTC)


class Mailbox:
    """A user with one default calendar named "Calendar"."""

    def __init__(self, address, display_name=None, tenant_id=None):
        self.address = address
        self.tenant_id = tenant_id
        self.id = str(uuid.uuid4())
        local = address.split("@")[0]
        words = [w for w in local.replace("_", ".").replace("-", ".").split(".") if w]
        self.display_name = display_name or " ".join(w.capitalize() for w in words) or address
        names = self.display_name.split()
        self.given_name = names[0] if names else None
        self.surname = " ".join(names[1:]) or None
        self.calendar_id = "AAMkADAwATM0MDAAMS1hYjQ4LTQ0ZjktMDACLTAwCgBGAAADbwAA" + secrets.token_urlsafe(18) + "AAA="
        self.calendar_change_key = new_change_key()
        self.events = {}  # core -> Event (single instances and series masters)
        self.transactions = {}  # transactionId -> core
        self.master_categories = []  # /outlook/masterCategories: {"id", "displayName", "color"}

    def public(self):
        return {"id": self.id, "address": self.address, "displayName": self.display_name}

    def recipient(self):
        return {"emailAddress": {"name": self.display_name, "address": self.address}}

    def user_json(self):
        return {
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": self.given_name,
            "jobTitle": None,
            "mail": self.address,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": self.surname,
            "userPrincipalName": self.address,
            "id": self.id,
        }

    def calendar_json(self):
        return {
            "id": self.calendar_id,
            "name": "Calendar",
            "color": "auto",
            "hexColor": "",
            "groupClassId": "0006f0b7-0000-0000-c000-000000000046",
            "isDefaultCalendar": True,
            "changeKey": self.calendar_change_key,
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": False,
            "owner": {"name": self.display_name, "address": self.address},
        }


class Event:
    """A stored calendar item (singleInstance, seriesMaster or exception) of one mailbox.

    ``fields`` holds the writable properties in their wire shape (subject, body, attendees, location, ...);
    ``start``/``end`` are ``(naive wall-clock datetime, time zone name)``.
    """

    def __init__(self, mailbox, core, kind="singleInstance"):
        self.mailbox = mailbox
        self.core = core
        self.kind = kind
        self.fields = {}
        self.start = self.end = None
        self.start_utc = self.end_utc = None
        self.is_all_day = False
        self.recurrence = None
        self.ical_uid = new_ical_uid()
        self.created = self.modified = now_utc()
        self.change_key = new_change_key()
        self.transaction_id = None
        self.extended = {}  # normalised property id -> {"id": as given, "value": str}
        self.is_organizer = True
        self.organizer = mailbox.recipient()
        self.response = {"response": "organizer", "time": "0001-01-01T00:00:00Z"}
        self.is_cancelled = False
        self.online_meeting = None
        self.online_meeting_provider = None
        self.original_start_tz = self.original_end_tz = None
        # hostile items (OutlookActions.corrupt_event): properties served over the rendered ones, and left out
        self.wire_override = {}
        self.wire_drop = ()
        # series master
        self.generation = new_generation()
        self.exceptions = {}  # stamp -> Event(kind="exception")
        self.cancelled = set()  # stamps of deleted occurrences
        # exception
        self.master = None
        self.original_start = None

    # ---------------------------------------------------------------- identity

    def occurrence_key(self):
        return (self.master.generation, stamp(self.original_start)) if self.kind == "exception" else None

    def id(self, immutable=True):
        core = self.master.core if self.kind == "exception" else self.core
        return format_id(core, immutable, self.occurrence_key())

    def touch(self, when=None):
        self.modified = when or now_utc()
        self.change_key = new_change_key()

    def set_times(self, start, end, is_all_day):
        """``start``/``end`` = ``(naive, tz)``; UTC bounds recomputed."""
        self.start, self.end, self.is_all_day = start, end, bool(is_all_day)
        self.start_utc = timezones.to_utc(*start)
        self.end_utc = timezones.to_utc(*end)

    def attendees(self):
        return self.fields.get("attendees") or []

    def attendee_addresses(self):
        return [(a.get("emailAddress") or {}).get("address", "") for a in self.attendees()]

    def is_meeting(self):
        return bool(self.attendees())


class Store:
    """All mailboxes of the emulated tenant (guarded by the emulator lock)."""

    def __init__(self, emu):
        self.emu = emu
        self.mailboxes = {}

    def add_mailbox(self, address, display_name=None):
        if not isinstance(address, str) or "@" not in address:
            raise ValueError(f"not an e-mail address: {address!r}")
        with self.emu.lock:
            mailbox = self.mailboxes.get(address.lower())
            if mailbox is None:
                mailbox = self.mailboxes[address.lower()] = Mailbox(address, display_name, self.emu.tenant_id)
            elif display_name:
                mailbox.display_name = display_name
            return mailbox

    def mailbox(self, address):
        with self.emu.lock:
            return self.mailboxes.get((address or "").lower())

    def require(self, address):
        mailbox = self.mailbox(address)
        if mailbox is None:
            raise KeyError(f"no mailbox {address!r} in the emulator")
        return mailbox

    def lookup_user(self, segment):
        """``/users/{id|userPrincipalName}`` -> Mailbox, else 404 ``ErrorInvalidUser``."""
        with self.emu.lock:
            mailbox = self.mailboxes.get(segment.lower()) or next(
                (m for m in self.mailboxes.values() if m.id == segment.lower()), None
            )
        if mailbox is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{segment}' is invalid.")
        return mailbox

    def addresses(self):
        with self.emu.lock:
            return [m.address for m in self.mailboxes.values()]

    def domains(self):
        with self.emu.lock:
            return {m.address.split("@", 1)[1].lower() for m in self.mailboxes.values()}
