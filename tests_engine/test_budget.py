"""The invitation budget counts exactly the messages Exchange sends: checked against the emulator's own count
for generated meetings and changes (create, PATCH, cancel, DELETE), occurrences included."""

from dataclasses import replace
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import Emulator
from engine.budget import NOTHING, Mailing, mailing, over_budget, recipients, series_mailing
from engine.mapping import Attendee, EventData, graph_patch, to_graph

ANNA = "anna@contoso.test"
POOL = ("bob@contoso.test", "client@example.com", "dana@fabrikam.test", ANNA)
BASE = datetime(2031, 3, 4, 9, 0)
CHANGEABLE = ("name", "description", "location", "privacy", "show_as", "alarm_minutes", "categories", "attendees")

_EMULATOR = Emulator()
for _address in (ANNA, "bob@contoso.test"):
    _EMULATOR.add_mailbox(_address)
MAILBOX = _EMULATOR.store.require(ANNA)


@st.composite
def meetings(draw):
    emails = draw(st.sets(st.sampled_from(POOL)))
    attendees = tuple(Attendee(email, email.split("@")[0].title()) for email in sorted(emails))
    if draw(st.booleans()):
        first = date(2031, 3, 4) + timedelta(days=draw(st.integers(0, 2)))
        timing = {"allday": True, "start_date": first, "stop_date": first + timedelta(days=draw(st.integers(0, 1)))}
    else:
        start = BASE + timedelta(hours=draw(st.integers(0, 30)))
        timing = {"start": start, "stop": start + timedelta(minutes=draw(st.sampled_from([30, 60])))}
    return EventData(
        name=draw(st.sampled_from(["Review", "Review (moved)", "Plan"])),
        description=draw(st.sampled_from(["", "<p>agenda</p>"])),
        location=draw(st.sampled_from(["", "HQ"])),
        privacy=draw(st.sampled_from(["public", "private"])),
        show_as=draw(st.sampled_from(["busy", "free"])),
        alarm_minutes=draw(st.sampled_from([None, 15, 30])),
        categories=draw(st.sampled_from([(), ("Blue",)])),
        organizer_email=ANNA,
        attendees=attendees,
        timezone="UTC",
        **timing,
    )


def sent_by(operation):
    """How many messages the emulator counts for ``operation()`` (made by the app, as the sync makes them)."""
    before = _EMULATOR.counters()["messages_sent"]
    result = operation()
    return _EMULATOR.counters()["messages_sent"] - before, result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=meetings(), second=meetings(), removal=st.sampled_from(["cancel", "delete"]))
def test_count_matches_the_emulator_for_single_meetings(first, second, removal):
    body = to_graph(first)
    count, (event, _created) = sent_by(lambda: _EMULATOR.meetings.create(MAILBOX, body, "app"))
    assert mailing("create", body, None, ANNA).count == count

    patch = graph_patch(first, second)
    predicted = mailing("patch", patch, first, ANNA)
    if patch:
        count, _item = sent_by(lambda: _EMULATOR.meetings.update(MAILBOX, event, patch, "app"))
    else:
        count = 0
    assert predicted.count == count, patch

    predicted = mailing(removal, None, second, ANNA)
    operation = _EMULATOR.meetings.cancel if removal == "cancel" else _EMULATOR.meetings.delete
    count, _none = sent_by(lambda: operation(MAILBOX, event, "app"))
    assert predicted.count == count


@settings(max_examples=60, deadline=None)
@given(first=meetings(), second=meetings())
def test_count_matches_the_emulator_for_an_occurrence(first, second):
    # a timed daily series; the third occurrence is changed in every other way than its time
    first = replace(first, allday=False, start=BASE, stop=BASE + timedelta(hours=1), start_date=None, stop_date=None)
    body = dict(
        to_graph(first),
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": BASE.date().isoformat(), "numberOfOccurrences": 5},
        },
    )
    master, _created = _EMULATOR.meetings.create(MAILBOX, body, "app")
    occurrence = _EMULATOR.meetings.series_items(master)[2]
    start = occurrence.start_utc.replace(tzinfo=None)
    synced = replace(first, start=start, stop=start + timedelta(hours=1))
    target = replace(synced, **{name: getattr(second, name) for name in CHANGEABLE})
    patch = graph_patch(synced, target)
    predicted = mailing("patch", patch, synced, ANNA, occurrence=True)
    count = sent_by(lambda: _EMULATOR.meetings.update(MAILBOX, occurrence, patch, "app"))[0] if patch else 0
    assert predicted.count == count, patch
    _EMULATOR.meetings.delete(MAILBOX, master, "app")


def test_attendee_copy_and_local_fields_mail_nobody():
    data = EventData(name="x", start=BASE, stop=BASE + timedelta(hours=1), organizer_email=ANNA)
    assert mailing("cancel", None, data, ANNA, organizer_copy=False) is NOTHING
    assert mailing("patch", {"categories": ["Red"], "showAs": "free"}, data, ANNA).count == 0
    assert mailing("forget", None, data, ANNA) is NOTHING


def test_recipients_skip_the_mailbox_and_duplicates_whatever_the_case():
    attendees = [{"emailAddress": {"address": a}} for a in ("Anna@Contoso.test", "b@x.test", "B@X.test", "")]
    assert recipients(attendees, ANNA) == ("b@x.test",)


def test_mailing_summary():
    sample = Mailing(invitations=("a@x",), updates=("b@x", "a@x"), cancellations=("c@x",), per_update=2)
    assert sample.count == 6
    assert sample.recipients == ("a@x", "b@x", "c@x")
    assert sample.by_kind()[0] == ("invitation", ("a@x",))
    data = EventData(name="x", start=BASE, stop=BASE, organizer_email=ANNA, attendees=(Attendee("b@x"), Attendee(ANNA)))
    assert series_mailing("truncate", None, data, ANNA).updates == ("b@x",)


def test_over_budget():
    assert not over_budget(50, 50)
    assert over_budget(51, 50)
    assert not over_budget(10**6, 0)  # 0: no limit
