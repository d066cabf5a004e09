"""Demo calendar: about 50 realistic events around today, created "as Outlook would" (control API).

Covers what the add-on must import (graph-reference A.1, F, G, H): timed singles in a Windows time zone, all-day and
multi-day events, Teams meetings with a join URL, meetings with several attendees (colleagues and external people),
meetings organised by someone else (the mailbox is an attendee), a weekly series with one moved occurrence
(exception) and one cancelled occurrence, a monthly series without end, private events, categories and reminders.
"""

import datetime
import random

TZ = "W. Europe Standard Time"
CATEGORIES = ["Red category", "Blue category", "Green category", "Yellow category", "Orange category"]
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
    "Pick up the kids",
    "Gym",
    "Code review session",
    "Hiring committee",
    "All hands",
    "Office move planning",
    "Partner onboarding",
]
LOCATIONS = ["Room Amsterdam", "Room Berlin", "Room Lisbon", "Cafeteria", "Head office, 3rd floor", ""]
EXTERNALS = [
    ("Paula Partner", "paula.partner@fabrikam.example"),
    ("Victor Vendor", "victor@northwind.example"),
    ("Carla Customer", "carla@adatum.example"),
]


def _when(day, hour, minute=0):
    return {"dateTime": f"{day.isoformat()}T{hour:02d}:{minute:02d}:00", "timeZone": TZ}


def _people(address):
    domain = address.split("@", 1)[1]
    colleagues = [
        ("Alex Wilber", f"alex.wilber@{domain}"),
        ("Megan Bowen", f"megan.bowen@{domain}"),
        ("Lee Gu", f"lee.gu@{domain}"),
    ]
    return colleagues, EXTERNALS


def _attendees(people, kinds=None):
    return [
        {"type": (kinds or {}).get(address, "required"), "emailAddress": {"name": name, "address": address}}
        for name, address in people
    ]


def _singles(today, rng):
    events = []
    for index in range(28):
        day = today + datetime.timedelta(days=rng.randint(-14, 21))
        if day.weekday() >= 5:
            day += datetime.timedelta(days=7 - day.weekday())
        hour, minutes = rng.choice([8, 9, 10, 11, 13, 14, 15, 16]), rng.choice([30, 45, 60, 60, 90])
        start = datetime.datetime.combine(day, datetime.time(hour))
        end = start + datetime.timedelta(minutes=minutes)
        events.append(
            {
                "subject": SUBJECTS[index % len(SUBJECTS)],
                "start": _when(day, hour),
                "end": _when(end.date(), end.hour, end.minute),
                "location": {"displayName": rng.choice(LOCATIONS)},
                "body": {"contentType": "text", "content": f"Agenda for {SUBJECTS[index % len(SUBJECTS)].lower()}."},
                "categories": rng.sample(CATEGORIES, rng.choice([0, 0, 1, 2])),
                "reminderMinutesBeforeStart": rng.choice([0, 5, 15, 15, 30]),
                "showAs": rng.choice(["busy"] * 4 + ["free"]),
            }
        )
    return events


def _all_day(today):
    def span(offset, days, subject, **extra):
        start = today + datetime.timedelta(days=offset)
        return dict(
            {
                "subject": subject,
                "isAllDay": True,
                "start": _when(start, 0),
                "end": _when(start + datetime.timedelta(days=days), 0),
            },
            **extra,
        )

    return [
        span(3, 1, "Company holiday", showAs="oof", categories=["Green category"]),
        span(-5, 1, "Team offsite day", location={"displayName": "Lake house"}),
        span(10, 1, "Mum's birthday", sensitivity="private", showAs="free"),
        span(12, 3, "Tech conference", location={"displayName": "Messe Berlin"}, categories=["Blue category"]),
        span(24, 5, "Vacation", showAs="oof", isReminderOn=False),
    ]


def _meetings(today, address):
    colleagues, externals = _people(address)
    day = today + datetime.timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday
    teams = [
        {
            "subject": subject,
            "start": _when(day + datetime.timedelta(days=offset), hour),
            "end": _when(day + datetime.timedelta(days=offset), hour + 1),
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
            "attendees": _attendees(people),
            "body": {"contentType": "html", "content": f"<p>{subject}: see you online.</p>"},
        }
        for offset, hour, subject, people in [
            (0, 11, "Teams: weekly status", colleagues),
            (1, 15, "Teams: customer demo", externals[2:] + colleagues[:1]),
            (2, 10, "Teams: partner integration", externals[:2]),
            (-6, 14, "Teams: incident post-mortem", colleagues),
        ]
    ]
    meetings = [
        {
            "subject": subject,
            "start": _when(day + datetime.timedelta(days=offset), hour),
            "end": _when(day + datetime.timedelta(days=offset), hour + 2),
            "location": {"displayName": room},
            "attendees": _attendees(people, {externals[0][1]: "optional"}),
        }
        for offset, hour, subject, room, people in [
            (3, 9, "Contract negotiation", "Room Lisbon", externals[:2] + colleagues[:1]),
            (-3, 13, "Planning with marketing", "Room Berlin", colleagues),
            (8, 14, "Steering committee", "Board room", colleagues + externals[:1]),
            (-10, 10, "Quarter kickoff", "Auditorium", colleagues[:2]),
        ]
    ]
    return teams + meetings


def _invitations(today):
    invitations = []
    for offset, (name, organizer), response in zip(
        (2, 5, 9), EXTERNALS, ("accepted", "tentativelyAccepted", None), strict=False
    ):
        day = today + datetime.timedelta(days=offset)
        invitations.append(
            {
                "subject": f"Invitation from {name.split()[0]}",
                "start": _when(day, 16),
                "end": _when(day, 17),
                "organizer": {"emailAddress": {"name": name, "address": organizer}},
                "responseStatus": {"response": response or "notResponded"},
                "location": {"displayName": "Their office"},
            }
        )
    return invitations


def _private(today):
    return [
        {
            "subject": "Doctor appointment",
            "sensitivity": "private",
            "start": _when(today, 7, 30),
            "end": _when(today, 8, 15),
            "showAs": "oof",
        },
        {
            "subject": "Personal errand",
            "sensitivity": "private",
            "start": _when(today + datetime.timedelta(days=4), 12),
            "end": _when(today + datetime.timedelta(days=4), 13),
        },
    ]


def _series(emu, address, today, created):
    monday = today - datetime.timedelta(days=today.weekday() + 21)
    weekly = emu.outlook.create_event(
        address,
        {
            "subject": "Team stand-up",
            "start": _when(monday, 9, 30),
            "end": _when(monday, 9, 45),
            "categories": ["Yellow category"],
            "location": {"displayName": "Room Amsterdam"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                "range": {"type": "numbered", "startDate": monday.isoformat(), "numberOfOccurrences": 10},
            },
        },
    )
    created.append(weekly)
    occurrences = emu.outlook.instances(address, weekly["id"], monday, monday + datetime.timedelta(weeks=11))
    moved_day = datetime.date.fromisoformat(occurrences[4]["start"]["dateTime"][:10])
    created.append(
        emu.outlook.update_event(
            address,
            occurrences[4]["id"],
            {"subject": "Team stand-up (moved)", "start": _when(moved_day, 14), "end": _when(moved_day, 14, 15)},
        )
    )
    emu.outlook.delete_event(address, occurrences[2]["id"])
    first = today.replace(day=1)
    created.append(
        emu.outlook.create_event(
            address,
            {
                "subject": "Monthly 1:1 with manager",
                "start": _when(first, 10),
                "end": _when(first, 10, 30),
                "recurrence": {
                    "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "first"},
                    "range": {"type": "noEnd", "startDate": first.isoformat()},
                },
            },
        )
    )


def seed_demo(emu, address, today=None):
    """Create the demo calendar in ``address`` (created if missing). :return: the created items"""
    emu.store.add_mailbox(address)
    today = today or datetime.date.today()
    rng = random.Random(address.lower())
    created = []
    payloads = _singles(today, rng) + _all_day(today) + _meetings(today, address) + _private(today)
    created.extend(emu.outlook.create_event(address, payload) for payload in payloads)
    for invitation in _invitations(today):
        created.append(emu.outlook.create_event(address, invitation))
    _series(emu, address, today, created)
    return created
