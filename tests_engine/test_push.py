"""engine.push: what an Odoo change means for Outlook (create / patch / cancel / delete / forget / clean / skip),
invitation safety first; the decisions are then played against the emulator to count the mails Exchange would
send (graph-reference H)."""

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from emulator import Emulator
from engine.mapping import Attendee, EventData, graph_patch, to_graph
from engine.push import LocalEvent, PushDecision, PushLink, PushPolicy, plan_push, response_action

ANNA, BOB, CAROL = "anna@contoso.test", "bob@fabrikam.test", "carol@fabrikam.test"
NOW = datetime(2025, 3, 10, 12, 0)


def meeting(**overrides):
    """Anna's meeting tomorrow, as Odoo holds it (the organizer is an attendee in Odoo)."""
    values = {
        "name": "Planning",
        "start": datetime(2025, 3, 11, 9),
        "stop": datetime(2025, 3, 11, 10),
        "timezone": "Europe/Paris",
        "organizer_email": ANNA,
        "organizer_name": "Anna",
        "attendees": (Attendee(ANNA, "Anna", "accepted"), Attendee(BOB, "Bob")),
    }
    values.update(overrides)
    return EventData(**values)


def appointment(**overrides):
    return meeting(attendees=(Attendee(ANNA, "Anna", "accepted"),), **overrides)


def allday(first, last, tz="UTC"):
    return meeting(start=None, stop=None, allday=True, start_date=first, stop_date=last, timezone=tz)


def plan(data=None, link=None, policy=None, now=NOW, **event):
    return plan_push(LocalEvent(event_id=42, data=data, **event), link, policy or PushPolicy(), now)


def linked(synced=None, **overrides):
    return PushLink(link_id=1, graph_id="AAMk-1", synced=synced, **overrides)


# ------------------------------------------------------------
# Events without an Outlook copy yet
# ------------------------------------------------------------


def test_future_event_is_created_with_its_full_body():
    data = meeting()
    assert plan(data) == PushDecision("create", body=to_graph(data))


def test_ongoing_event_is_created():
    data = meeting(start=NOW - timedelta(minutes=30), stop=NOW + timedelta(minutes=30))
    assert plan(data).action == "create"


@pytest.mark.parametrize("stop", [NOW, NOW - timedelta(minutes=1), NOW - timedelta(days=400)])
def test_past_event_is_never_created(stop):
    data = meeting(start=stop - timedelta(hours=1), stop=stop)
    decision = plan(data)
    assert decision.action == "skip" and decision.body == {} and "already over" in decision.reason


def test_all_day_event_of_today_is_created_and_of_yesterday_not():
    assert plan(allday(date(2025, 3, 10), date(2025, 3, 10))).action == "create"
    assert plan(allday(date(2025, 3, 9), date(2025, 3, 9))).action == "skip"
    assert plan(allday(date(2025, 3, 8), date(2025, 3, 10))).action == "create"


def test_all_day_event_of_today_in_honolulu_is_still_today_after_utc_midnight():
    # 02:00 UTC on 11 March is 16:00 on 10 March in Honolulu: the day is not over there
    late = datetime(2025, 3, 11, 2, 0)
    assert plan(allday(date(2025, 3, 10), date(2025, 3, 10), "Pacific/Honolulu"), now=late).action == "create"
    assert plan(allday(date(2025, 3, 10), date(2025, 3, 10), "UTC"), now=late).action == "skip"
    # and Tonga's 10 March is over at 11:00 UTC the same day
    assert (
        plan(allday(date(2025, 3, 10), date(2025, 3, 10), "Pacific/Tongatapu"), now=datetime(2025, 3, 10, 11, 0)).action
        == "skip"
    )


def test_event_created_before_the_connection_stays_in_odoo_unless_opted_in():
    data = meeting()
    decision = plan(data, created_before_connect=True)
    assert decision.action == "skip" and "before Outlook was connected" in decision.reason
    assert plan(data, created_before_connect=True, policy=PushPolicy(push_existing=True)).action == "create"


def test_recurring_event_is_not_created():
    decision = plan(meeting(), recurrent=True)
    assert decision.action == "skip" and "recurring" in decision.reason
    assert plan(meeting(), recurrent=True, policy=PushPolicy(push_existing=True)).action == "skip"


@pytest.mark.parametrize("days_ahead, action", [(729, "create"), (730, "create"), (731, "skip")])
def test_outbound_range_default_two_years(days_ahead, action):
    start = NOW + timedelta(days=days_ahead)
    assert plan(meeting(start=start, stop=start + timedelta(hours=1))).action == action


def test_outbound_range_is_a_policy():
    start = NOW + timedelta(days=10)
    data = meeting(start=start, stop=start + timedelta(hours=1))
    decision = plan(data, policy=PushPolicy(future_days=7))
    assert decision.action == "skip" and "beyond the outbound range" in decision.reason
    far_day = (NOW + timedelta(days=10)).date()
    assert plan(allday(far_day, far_day), policy=PushPolicy(future_days=7)).action == "skip"
    assert plan(allday(far_day, far_day), policy=PushPolicy(future_days=30)).action == "create"


def test_deleted_or_archived_event_without_a_copy_is_clean():
    assert plan(None) == PushDecision("clean")
    assert plan(meeting(), active=False) == PushDecision("clean")


# ------------------------------------------------------------
# Events with an Outlook copy
# ------------------------------------------------------------


def test_unchanged_event_is_clean():
    data = meeting()
    assert plan(data, linked(synced=replace(data))) == PushDecision("clean")


@pytest.mark.parametrize(
    "changes",
    [
        {"attendees": (Attendee(ANNA, "Anna", "accepted"), Attendee(BOB, "Bob", "declined"))},  # an answer only
        {"timezone": "America/New_York"},  # same instants
        {"organizer_name": "Anna S."},
        {"videocall_location": "https://odoo.test/calendar/join_videocall/x"},
    ],
)
def test_changes_outlook_does_not_carry_are_clean(changes):
    data = meeting()
    assert plan(replace(data, **changes), linked(synced=data)) == PushDecision("clean")


def test_changed_event_is_patched_with_the_changes_only():
    synced = meeting()
    data = replace(synced, name="Planning v2", categories=("Blue",))
    decision = plan(data, linked(synced=synced))
    assert decision == PushDecision("patch", body=graph_patch(synced, data))
    assert decision.body == {"subject": "Planning v2", "categories": ["Blue"]}


def test_copy_without_a_synced_state_gets_the_full_body():
    data = meeting()
    assert plan(data, linked(synced=None)) == PushDecision("patch", body=to_graph(data))


def test_past_event_changes_stay_in_odoo():
    synced = meeting(start=NOW - timedelta(days=2, hours=2), stop=NOW - timedelta(days=2, hours=1))
    decision = plan(replace(synced, name="Minutes added"), linked(synced=synced))
    assert decision.action == "clean" and decision.body == {} and "already over" in decision.reason


def test_changes_within_a_day_after_the_end_still_go_out():
    """ERP.net: events that ended more than one day ago are never pushed; an hour ago still is."""
    synced = meeting(start=NOW - timedelta(hours=2), stop=NOW - timedelta(hours=1))
    decision = plan(replace(synced, name="Minutes added"), linked(synced=synced))
    assert decision.action == "patch" and decision.body == {"subject": "Minutes added"}


def test_event_moved_into_the_past_is_not_patched():
    synced = meeting()
    moved = replace(synced, start=NOW - timedelta(days=2), stop=NOW - timedelta(days=2) + timedelta(hours=1))
    assert plan(moved, linked(synced=synced)).action == "clean"


# ------------------------------------------------------------
# Removal in Odoo
# ------------------------------------------------------------


@pytest.mark.parametrize("data, action", [(meeting(), "cancel"), (appointment(), "delete")])
@pytest.mark.parametrize("how", ["deleted", "archived"])
def test_organizer_removing_cancels_a_meeting_with_guests_and_deletes_an_appointment(data, action, how):
    # cancel: Exchange mails each guest a cancellation; delete: an appointment, nobody to tell
    decision = plan(None, linked(synced=data)) if how == "deleted" else plan(data, linked(synced=data), active=False)
    assert decision == PushDecision(action)


def test_appointment_without_any_attendee_deletes_too():
    data = meeting(attendees=())
    assert plan(None, linked(synced=data)).action == "delete"


def test_archived_event_uses_its_current_attendees():
    synced = appointment()
    now_with_guest = meeting()
    assert plan(now_with_guest, linked(synced=synced), active=False).action == "cancel"


@pytest.mark.parametrize(
    "link",
    [
        linked(synced=meeting(), is_organizer_copy=False),  # Bob's copy of Anna's meeting: Anna decides
        linked(synced=meeting(), cancel_allowed=False),  # removed by someone who is not its organizer
        linked(synced=None),  # nothing known of the copy
    ],
)
def test_removal_by_others_only_forgets_the_link(link):
    decision = plan(None, link)
    assert decision.action == "forget" and decision.body == {} and decision.reason


def test_removing_a_past_meeting_only_forgets_the_link():
    past = meeting(start=NOW - timedelta(days=1), stop=NOW - timedelta(days=1) + timedelta(hours=1))
    assert plan(None, linked(synced=past)).action == "forget"
    assert plan(past, linked(synced=past), active=False).action == "forget"


# ------------------------------------------------------------
# Answers
# ------------------------------------------------------------


@pytest.mark.parametrize(
    "state, action",
    [
        ("accepted", "accept"),
        ("tentative", "tentativelyAccept"),
        ("declined", "decline"),
        ("needsAction", None),
        ("", None),
        (None, None),
    ],
)
def test_response_action(state, action):
    assert response_action(state) == action


def test_defaults():
    assert PushPolicy() == PushPolicy(push_existing=False, future_days=730)
    assert linked().is_organizer_copy and linked().cancel_allowed
    assert LocalEvent().active and not LocalEvent().recurrent and not LocalEvent().created_before_connect


# ------------------------------------------------------------
# The decisions against the emulator: what Exchange would mail
# ------------------------------------------------------------


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA, "Anna")
        yield emulator


def mails(emu, since):
    return sorted((m["kind"], m["to"]) for m in emu.counters()["messages"][since:])


def execute(graph, decision, graph_id=None):
    """What the add-on does with a decision (models/outlook_push.py), against Graph."""
    if decision.action == "create":
        response = graph("POST", "/me/events", json=decision.body)
        assert response.status_code == 201, response.text
        return response.json()["id"]
    if decision.action == "patch":
        assert graph("PATCH", f"/me/events/{graph_id}", json=decision.body).status_code == 200
    elif decision.action == "cancel":
        assert graph("POST", f"/me/events/{graph_id}/cancel", json={}).status_code == 202
    elif decision.action == "delete":
        assert graph("DELETE", f"/me/events/{graph_id}").status_code == 204
    return graph_id


def test_meeting_lifecycle_mails_invitations_updates_and_cancellations_only_when_due(emu, graph):
    data = meeting(attendees=(Attendee(ANNA, "Anna", "accepted"), Attendee(BOB, "Bob"), Attendee(CAROL, "Carol")))
    start = len(emu.counters()["messages"])
    graph_id = execute(graph, plan(data))
    assert mails(emu, start) == [("invitation", BOB), ("invitation", CAROL)]  # never to the organizer herself

    start = len(emu.counters()["messages"])
    local_only = replace(data, categories=("Blue",), alarm_minutes=5, show_as="free")
    execute(graph, plan(local_only, linked(synced=data)), graph_id)
    answered = replace(
        local_only,
        attendees=(Attendee(ANNA, "Anna", "accepted"), Attendee(BOB, "Bob", "accepted"), Attendee(CAROL, "Carol")),
    )
    assert plan(answered, linked(synced=local_only)).action == "clean"
    assert mails(emu, start) == []

    start = len(emu.counters()["messages"])
    renamed = replace(answered, name="Planning (room changed)", location="Room 2")
    execute(graph, plan(renamed, linked(synced=answered)), graph_id)
    assert mails(emu, start) == [("update", BOB), ("update", CAROL)]  # one PATCH, one update each

    start = len(emu.counters()["messages"])
    assert execute(graph, plan(None, linked(synced=renamed)), graph_id) == graph_id
    assert mails(emu, start) == [("cancellation", BOB), ("cancellation", CAROL)]
    assert graph("GET", f"/me/events/{graph_id}").status_code == 404


def test_appointment_lifecycle_mails_nobody(emu, graph):
    data = appointment()
    start = len(emu.counters()["messages"])
    graph_id = execute(graph, plan(data))
    execute(graph, plan(replace(data, name="Focus time"), linked(synced=data)), graph_id)
    decision = plan(None, linked(synced=replace(data, name="Focus time")))
    assert decision.action == "delete"
    execute(graph, decision, graph_id)
    assert mails(emu, start) == [] and graph("GET", f"/me/events/{graph_id}").status_code == 404


def test_skipped_and_forgotten_events_send_nothing(emu, graph):
    start = len(emu.counters()["messages"])
    past = meeting(start=NOW - timedelta(days=1), stop=NOW - timedelta(days=1) + timedelta(hours=1))
    for decision in (
        plan(past),
        plan(meeting(), created_before_connect=True),
        plan(meeting(), recurrent=True),
        plan(None, linked(synced=past)),
        plan(None, linked(synced=meeting(), is_organizer_copy=False)),
    ):
        assert decision.action in ("skip", "forget")
        execute(graph, decision, "never-called")
    assert mails(emu, start) == []
