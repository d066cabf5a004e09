"""The benchmark's calendars: deterministic, realistic Outlook payloads (no Odoo, no I/O).

:func:`mailbox_events` builds the calendar of one mailbox as Graph ``event`` payloads (what the emulator's control API
seeds "as Outlook would"): timed singles in a Windows time zone, all-day and multi-day events, meetings with 2-10
attendees (colleagues and external people), Teams meetings, invitations from an external organizer, private events,
categories, reminders, and daily/weekly series whose occurrences count one by one. ``size`` is the number of events
Odoo ends up with (singles + every occurrence), so "5,000 events" means 5,000 ``calendar.event`` rows on every side.

Every event lies between tomorrow and ``today + 300 days``: inside the windows and first-import ranges of both sync
modules (ours imports past events only once they change; the built-in looks 365 days back and 730 ahead), so both
import the same events.

:func:`floor_values` turns the same payloads into plain ``calendar.event`` values (the floor: no sync code at all).
"""

import datetime
import random

TZ = "W. Europe Standard Time"
SUBJECTS = [
    "Project kickoff",
    "Budget review",
    "Customer call",
    "Design review",
    "Sprint planning",
    "Sprint retrospective",
    "Lunch with the team",
    "Interview: backend developer",
    "Quarterly business review",
    "Release go/no-go",
    "Marketing sync",
    "Roadmap workshop",
    "Security training",
    "Vendor demo",
    "Board preparation",
    "Support escalation review",
    "Architecture deep dive",
    "Sales pipeline review",
    "Dentist",
    "Code review session",
    "Hiring committee",
    "All hands",
    "Office move planning",
    "Partner onboarding",
    "Pricing workshop",
]
LOCATIONS = ["Room Amsterdam", "Room Berlin", "Room Lisbon", "Cafeteria", "Head office, 3rd floor", ""]
CATEGORIES = ["Red category", "Blue category", "Green category", "Yellow category", "Orange category"]
EXTERNAL_DOMAINS = ["fabrikam.example", "northwind.example", "adatum.example", "litware.example"]
FIRST = ["Alex", "Megan", "Lee", "Nina", "Omar", "Priya", "Ravi", "Sara", "Tom", "Uma", "Vera", "Wim", "Yara", "Zoe"]
LAST = ["Wilber", "Bowen", "Gu", "Novak", "Haddad", "Shah", "Iyer", "Berg", "Moreau", "Costa", "Lind", "Peeters"]
WINDOW_START, WINDOW_END = 1, 300  # days from today


def people(domain, count, rng):
    """``count`` distinct ``(name, address)`` pairs at ``domain``."""
    found = []
    for index in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        found.append((f"{first} {last}", f"{first.lower()}.{last.lower()}.{index}@{domain}"))
    return found


def _when(day, hour, minute=0):
    return {"dateTime": f"{day.isoformat()}T{hour:02d}:{minute:02d}:00", "timeZone": TZ}


def _attendees(chosen):
    return [{"type": "required", "emailAddress": {"name": name, "address": address}} for name, address in chosen]


class Calendar:
    """Builds one mailbox's payloads; ``colleagues``/``externals`` are shared pools (same partners everywhere)."""

    def __init__(self, address, today, colleagues, externals, seed):
        self.address, self.today = address, today
        self.colleagues, self.externals = colleagues, externals
        self.rng = random.Random(seed)

    def day(self, low=WINDOW_START + 1, high=WINDOW_END - 10):
        day = self.today + datetime.timedelta(days=self.rng.randint(low, high))
        if day.weekday() >= 5 and self.rng.random() < 0.8:
            day += datetime.timedelta(days=7 - day.weekday())
        return day

    def guests(self, low=2, high=10):
        count = self.rng.randint(low, high)
        externals = self.rng.randint(0, min(3, count))
        return self.rng.sample(self.colleagues, count - externals) + self.rng.sample(self.externals, externals)

    def timed(self, index):
        rng = self.rng
        day, hour = self.day(), rng.choice([8, 9, 10, 11, 13, 14, 15, 16])
        minutes = rng.choice([30, 45, 60, 60, 90])
        end = datetime.datetime.combine(day, datetime.time(hour)) + datetime.timedelta(minutes=minutes)
        subject = SUBJECTS[index % len(SUBJECTS)]
        payload = {
            "subject": f"{subject} #{index}",
            "start": _when(day, hour),
            "end": _when(end.date(), end.hour, end.minute),
            "location": {"displayName": rng.choice(LOCATIONS)},
            "body": {"contentType": "text", "content": f"Agenda for {subject.lower()}, item {index}."},
            "categories": rng.sample(CATEGORIES, rng.choice([0, 0, 0, 1, 2])),
            "reminderMinutesBeforeStart": rng.choice([5, 15, 15, 30]),
            "showAs": rng.choice(["busy"] * 4 + ["free"]),
        }
        kind = rng.random()
        if kind < 0.45:  # meeting with 2-10 attendees, colleagues and external people
            payload["attendees"] = _attendees(self.guests())
            if rng.random() < 0.4:  # Teams meeting
                payload.update(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
        elif kind < 0.52:  # invitation from someone else: the mailbox is an attendee
            name, organizer = rng.choice(self.externals)
            payload.update(
                organizer={"emailAddress": {"name": name, "address": organizer}},
                attendees=_attendees(self.guests(1, 4)),
                responseStatus={"response": rng.choice(["accepted", "tentativelyAccepted", "notResponded"])},
            )
        elif kind < 0.56:
            payload["sensitivity"] = "private"
        return payload

    def all_day(self, index, days):
        start = self.day()
        return {
            "subject": f"{'Conference' if days > 1 else 'Day off'} #{index}",
            "isAllDay": True,
            "start": _when(start, 0),
            "end": _when(start + datetime.timedelta(days=days), 0),
            "showAs": self.rng.choice(["oof", "free", "busy"]),
            "location": {"displayName": self.rng.choice(LOCATIONS)},
        }

    def series(self, index, occurrences):
        """A daily (weekdays) or weekly series of exactly ``occurrences`` occurrences inside the window."""
        rng = self.rng
        daily = rng.random() < 0.4
        span = occurrences * (2 if daily else 7) + 7
        start = self.today + datetime.timedelta(
            days=rng.randint(WINDOW_START + 1, max(WINDOW_START + 1, WINDOW_END - 5 - span))
        )
        hour = rng.choice([8, 9, 12, 16])
        if daily:
            pattern = {"type": "daily", "interval": 1}
        else:
            weekday = ["monday", "tuesday", "wednesday", "thursday", "friday"][rng.randint(0, 4)]
            pattern = {"type": "weekly", "interval": 1, "daysOfWeek": [weekday], "firstDayOfWeek": "monday"}
            while start.strftime("%A").lower() != weekday:
                start += datetime.timedelta(days=1)
        payload = {
            "subject": f"{'Daily stand-up' if daily else 'Weekly sync'} #{index}",
            "start": _when(start, hour),
            "end": _when(start, hour, 30),
            "location": {"displayName": rng.choice(LOCATIONS)},
            "recurrence": {
                "pattern": pattern,
                "range": {"type": "numbered", "startDate": start.isoformat(), "numberOfOccurrences": occurrences},
            },
        }
        if rng.random() < 0.7:
            payload["attendees"] = _attendees(self.guests(2, 6))
            if rng.random() < 0.5:
                payload.update(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
        return payload

    def build(self, size):
        """Payloads whose singles + occurrences add up to ``size``: ~25 % from series, ~10 % all-day."""
        payloads, total, index = [], 0, 0
        in_series = size // 4
        per_series = 30 if size >= 1000 else 10
        while total + per_series <= in_series:
            count = self.rng.randint(per_series // 2, per_series * 3 // 2)
            count = min(count, in_series - total)
            payloads.append(self.series(index, count))
            total, index = total + count, index + 1
        all_day = size // 10
        for _ in range(all_day):
            payloads.append(self.all_day(index, 1 if self.rng.random() < 0.7 else self.rng.randint(2, 5)))
            total, index = total + 1, index + 1
        while total < size:
            payloads.append(self.timed(index))
            total, index = total + 1, index + 1
        return payloads


def pools(seed=7):
    rng = random.Random(seed)
    colleagues = people("staff.contoso.test", 400, rng)
    externals = [p for domain in EXTERNAL_DOMAINS for p in people(domain, 60, rng)]
    return colleagues, externals


def mailbox_events(address, size, today=None, seed=None):
    """The calendar of ``address``: Graph payloads adding up to ``size`` Odoo events."""
    colleagues, externals = pools()
    today = today or datetime.date.today()
    return Calendar(address, today, colleagues, externals, seed if seed is not None else address).build(size)


def expected_count(payloads):
    return sum(p["recurrence"]["range"]["numberOfOccurrences"] if p.get("recurrence") else 1 for p in payloads)


# ---------------------------------------------------------------------------
# The floor: the same events as plain values (expanded series, UTC), no sync code involved
# ---------------------------------------------------------------------------
ZONE = "Europe/Berlin"  # W. Europe Standard Time


def _utc(when):
    from zoneinfo import ZoneInfo

    local = datetime.datetime.fromisoformat(when["dateTime"]).replace(tzinfo=ZoneInfo(ZONE))
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _occurrence_offsets(payload):
    recurrence = payload.get("recurrence")
    if not recurrence:
        return [datetime.timedelta(0)]
    step = 1 if recurrence["pattern"]["type"] == "daily" else 7
    return [datetime.timedelta(days=step * i) for i in range(recurrence["range"]["numberOfOccurrences"])]


def floor_events(payloads):
    """One plain dict per Odoo event (every occurrence of a series is one): what a sync would store."""
    events = []
    for index, payload in enumerate(payloads):
        organizer = payload.get("organizer", {}).get("emailAddress")
        attendees = [
            (a["emailAddress"]["name"], a["emailAddress"]["address"].lower()) for a in payload.get("attendees", [])
        ]
        common = {
            "name": payload["subject"],
            "description": payload.get("body", {}).get("content") or "",
            "location": payload.get("location", {}).get("displayName") or "",
            "privacy": "private" if payload.get("sensitivity") == "private" else "public",
            "show_as": "free" if payload.get("showAs") in ("free", "tentative") else "busy",
            "videocall_location": (
                f"https://teams.microsoft.com/l/meetup-join/bench-{index}" if payload.get("isOnlineMeeting") else ""
            ),
            "attendees": attendees,
            "organizer": (organizer["name"], organizer["address"].lower()) if organizer else None,
            "categories": list(payload.get("categories", [])),
            "reminder": payload.get("reminderMinutesBeforeStart", 15),
        }
        for offset in _occurrence_offsets(payload):
            if payload.get("isAllDay"):
                start = datetime.date.fromisoformat(payload["start"]["dateTime"][:10]) + offset
                end = datetime.date.fromisoformat(payload["end"]["dateTime"][:10]) + offset
                timing = {"allday": True, "start_date": start, "stop_date": end - datetime.timedelta(days=1)}
            else:
                timing = {
                    "allday": False,
                    "start": _utc(payload["start"]) + offset,
                    "stop": _utc(payload["end"]) + offset,
                }
            events.append(dict(common, **timing))
    return events
