"""Generated Graph event JSON, valid, odd and hostile: mapping + reconcile give a storable decision or a per-item
error, never an exception. "Storable" is what PostgreSQL and Odoo accept (checked concretely below)."""

import json
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, timedelta

import graph_strategies as g
import hypothesis_profiles
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import recurrence as rules
from engine.errors import MappingError
from engine.mapping import EventData, fingerprint, from_graph, graph_patch, snapshot, to_graph
from engine.policy import ImportContext, SyncPolicy
from engine.reconcile import Known, reconcile
from engine.records import ACTIONS, LinkState, occurrence_payload, occurrence_start_utc, remote_item

INT4 = 2**31 - 1
FIRST = datetime(1601, 1, 1)
AFTER_LAST = datetime(4501, 1, 1)
WRITES = ("create", "attach", "update", "conflict", "refresh")
NOW = datetime(2026, 6, 1, 12)


def assert_text(value, where, limit=None):
    assert isinstance(value, str), where
    assert "\x00" not in value, f"{where}: NUL"
    value.encode("utf-8")  # no lone surrogate: psycopg2 could not send it
    if limit is not None:
        assert len(value) <= limit, f"{where}: {len(value)} characters"


def assert_storable(data):
    """What Odoo writes from ``data`` is accepted by PostgreSQL and by Odoo's date arithmetic."""
    assert isinstance(data, EventData)
    for name in ("name", "description", "location", "videocall_location", "timezone", "organizer_email"):
        assert_text(getattr(data, name), name)
    assert data.name.strip(), "calendar.event.name is required"
    assert_text(data.organizer_email, "organizer_email", 254)
    assert_text(data.organizer_name, "organizer_name", 255)
    for attendee in data.attendees:
        assert_text(attendee.email, "attendee email", 254)
        assert "@" in attendee.email and attendee.email == attendee.email.strip().lower()
        assert_text(attendee.name, "attendee name", 255)
        assert attendee.state in ("needsAction", "accepted", "tentative", "declined")
    for category in data.categories:
        assert_text(category, "category", 255)
        assert category
    assert data.privacy in ("public", "private") and data.show_as in ("busy", "free")
    assert data.alarm_minutes is None or (isinstance(data.alarm_minutes, int) and 0 <= data.alarm_minutes <= INT4)
    if data.allday:
        assert isinstance(data.start_date, date) and isinstance(data.stop_date, date)
        assert FIRST.date() <= data.start_date <= data.stop_date < AFTER_LAST.date()
    else:
        assert isinstance(data.start, datetime) and isinstance(data.stop, datetime)
        assert data.start.tzinfo is None and data.stop.tzinfo is None
        assert FIRST <= data.start <= data.stop < AFTER_LAST
    # what Odoo and the sync derive from it works too: the day after, the snapshot, the way back to Graph
    data.ended_before(NOW)
    json.dumps(snapshot(data))
    fingerprint(data)
    to_graph(data)
    graph_patch(data, data)


def assert_storable_item(item):
    for name in ("graph_id", "ical_uid", "change_key", "last_modified", "series_master_id", "transaction_id"):
        assert_text(getattr(item, name), name, 1024)
    assert_text(item.error, "error")
    if item.data is not None:
        assert_storable(item.data)
        if item.series_master_id:
            start = occurrence_start_utc(item.data)
            assert FIRST - timedelta(days=2) <= start < AFTER_LAST + timedelta(days=2)


def known_for(items, draw_links):
    """Links for some of the page's ids: synced, failed never imported, failed with an event, detached."""
    links = {}
    for n, (item, kind) in enumerate(zip(items, draw_links, strict=False)):
        if not item.graph_id or kind == "none":
            continue
        links[item.graph_id] = LinkState(
            link_id=n + 1,
            graph_id=item.graph_id,
            event_id=None if kind == "failed" else n + 100,
            change_key="old" if kind != "same" else item.change_key,
            remote_hash="r",
            synced_hash="s",
            local_hash="s" if kind != "conflict" else "changed",
            failed=kind in ("failed", "failed_linked"),
            detached=kind == "detached",
        )
    return links


POLICIES = st.builds(
    SyncPolicy,
    private_events=st.sampled_from(["full", "busy", "skip"]),
    conflict_winner=st.sampled_from(["microsoft", "odoo", "newest"]),
    attendee_cap=st.sampled_from([0, 1, 50, 1000]),
    category_mode=st.booleans(),
    import_declined=st.booleans(),
    sync_internal=st.booleans(),
    sync_unmatched=st.booleans(),
    transaction_prefix=st.sampled_from(["", "odoo-db-"]),
)
LINK_KINDS = st.sampled_from(["none", "none", "synced", "same", "conflict", "failed", "failed_linked", "detached"])


@settings(max_examples=hypothesis_profiles.examples(500))
@given(
    page=st.lists(st.one_of(g.hostile_event(), g.plausible_event()), min_size=1, max_size=4),
    policy=POLICIES,
    link_kinds=st.lists(LINK_KINDS, min_size=6, max_size=6),
    data=st.data(),
)
def test_mapping_and_reconcile_give_storable_decisions_or_item_errors(page, policy, link_kinds, data):
    items = [remote_item(payload, attendee_cap=policy.attendee_cap) for payload in page]
    masters = {item.graph_id: item for item in items if item.kind == "seriesMaster" and item.payload}
    completed = []
    for item in items:  # bare occurrences completed from their master on the page, as the sync does
        master = masters.get(item.series_master_id)
        if item.bare and master is not None:
            item = remote_item(occurrence_payload(master.payload, item.payload), attendee_cap=policy.attendee_cap)
        assert_storable_item(item)
        completed.append(item)
    context = ImportContext(
        now=NOW,
        owner_email="anna@contoso.test",
        internal_emails=frozenset({"anna@contoso.test"}),
        known_emails=frozenset({"guest1@example.com"}),
        stamped_ids=frozenset(item.graph_id for item in completed[:1]),
    )
    known = Known(
        links=known_for(completed, link_kinds),
        events_by_uid={item.ical_uid: 7 for item in completed[:2] if item.ical_uid and data.draw(st.booleans())},
        organizer_copies=frozenset({7}),
        pushed_events=frozenset({7}),
        locked_events=frozenset({101}),
        local_modified={n + 100: "2026-01-01T00:00:00" for n in range(6)},
        context=context,
    )
    decisions = reconcile(completed, known, policy)
    assert len(decisions) == len({item.graph_id or n for n, item in enumerate(completed)})
    for decision in decisions:
        assert decision.action in ACTIONS
        if decision.action in WRITES:
            assert decision.item.graph_id and decision.item.data is not None
            assert_storable(decision.item.data)
        if decision.action == "error":
            assert decision.reason
            assert_text(decision.reason, "reason")
        if decision.link is not None:
            assert decision.link.graph_id == decision.item.graph_id


@settings(max_examples=hypothesis_profiles.examples(800))
@given(payload=g.hostile_event())
def test_from_graph_maps_or_refuses_with_a_mapping_error(payload):
    try:
        data = from_graph(payload, attendee_cap=50)
    except MappingError as exc:
        assert str(exc)
        return
    assert_storable(data)
    assert {f.name for f in dataclass_fields(data)} >= {"name", "start", "stop"}


@settings(max_examples=hypothesis_profiles.examples(800))
@given(recurrence=g.recurrence)
def test_every_recurrence_gives_rule_values_odoo_can_store_or_a_mapping_error(recurrence):
    try:
        values = rules.to_odoo(recurrence)
    except MappingError:
        return
    for name in ("interval", "day", "count"):
        value = values.get(name)
        assert value is False or value is None or (isinstance(value, int) and 1 <= value <= INT4), (name, value)
    assert values["rrule_type"] in ("daily", "weekly", "monthly", "yearly")
    assert values["end_type"] in ("forever", "count", "end_date")
    if values.get("until"):
        assert FIRST.date() <= values["until"] < AFTER_LAST.date()
    assert values["event_tz"] is False or isinstance(values["event_tz"], str)
    rules.to_graph(values, date(2026, 1, 5), "UTC")  # and back


@settings(max_examples=hypothesis_profiles.examples(150))
@given(payload=g.hostile_event(), size=st.integers(1, 500))
def test_an_item_with_hundreds_of_attendees_keeps_the_cap(payload, size):
    payload = dict(payload, attendees=[{"emailAddress": {"address": f"p{n}@example.com"}} for n in range(size)])
    try:
        data = from_graph(payload, attendee_cap=50)
    except MappingError:
        return
    assert len(data.attendees) == min(size, 50)
    assert data.extra.get("attendee_overflow", 0) == max(size - 50, 0)
    assert_storable(data)
