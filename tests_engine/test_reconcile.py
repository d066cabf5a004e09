"""engine.records.remote_item and engine.reconcile: one delta page -> one decision per item (STYLE R2), every
branch: create / attach / update / conflict / refresh / remove / skip / error."""

from dataclasses import replace

import pytest

from engine.mapping import EventData, fingerprint
from engine.reconcile import MICROSOFT_WINS, ODOO_WINS, InboundPolicy, Known, pushed_event_id, reconcile
from engine.records import ACTIONS, Decision, LinkState, RemoteItem, remote_item

ANNA, BOB = "anna@contoso.test", "bob@fabrikam.test"
PREFIX = "odoo:2f1c:"
UID = "040000008200E00074C5B7101A82E008-meeting-1"


def payload(graph_id="AAMk-1", **overrides):
    """A delta item as calendarView/delta returns it in full."""
    values = {
        "@odata.type": "#microsoft.graph.event",
        "@odata.etag": 'W/"ck-1"',
        "id": graph_id,
        "iCalUId": UID,
        "changeKey": "ck-1",
        "lastModifiedDateTime": "2025-03-01T10:00:00.1234567Z",
        "type": "singleInstance",
        "seriesMasterId": None,
        "subject": "Planning",
        "isCancelled": False,
        "isDraft": False,
        "isOrganizer": True,
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": {"contentType": "html", "content": "<p>Agenda</p>"},
        "start": {"dateTime": "2025-03-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-10T10:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "UTC",
        "isAllDay": False,
        "location": {"displayName": "Room 1"},
        "organizer": {"emailAddress": {"name": "Anna", "address": ANNA}},
        "attendees": [{"type": "required", "status": {"response": "none"}, "emailAddress": {"address": BOB}}],
        "sensitivity": "normal",
        "showAs": "busy",
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "categories": [],
        "isOnlineMeeting": False,
        "onlineMeeting": None,
    }
    values.update(overrides)
    return values


def item(graph_id="AAMk-1", **overrides):
    return remote_item(payload(graph_id, **overrides))


def link_for(remote, event_id=7, local_changed=False, **overrides):
    """A link synced with ``remote``'s content; the Odoo event changed since when ``local_changed``."""
    values = {
        "link_id": 1,
        "graph_id": remote.graph_id,
        "event_id": event_id,
        "change_key": "ck-0",
        "remote_hash": fingerprint(remote.data),
        "synced_hash": "local-at-sync",
        "local_hash": "local-now" if local_changed else "local-at-sync",
        "is_organizer_copy": True,
    }
    values.update(overrides)
    return LinkState(**values)


def known(*links, uids=None, organizer_copies=(), pushed=()):
    return Known(
        links={link.graph_id: link for link in links},
        events_by_uid=uids or {},
        organizer_copies=frozenset(organizer_copies),
        pushed_events=frozenset(pushed),
    )


def decide(one, knowledge=None, policy=None):
    decisions = reconcile([one], knowledge or known(), policy or InboundPolicy(transaction_prefix=PREFIX))
    assert len(decisions) == 1 and decisions[0].item is one
    return decisions[0]


# ------------------------------------------------------------
# remote_item
# ------------------------------------------------------------


def test_remote_item_maps_a_full_event():
    one = remote_item(payload(transactionId=PREFIX + "42"))
    assert one == RemoteItem(
        graph_id="AAMk-1",
        ical_uid=UID,
        change_key="ck-1",
        last_modified="2025-03-01T10:00:00.1234567Z",
        kind="singleInstance",
        is_organizer=True,
        response="organizer",
        transaction_id=PREFIX + "42",
        data=one.data,
    )
    assert isinstance(one.data, EventData) and one.data.name == "Planning" and one.data.organizer_email == ANNA
    assert not one.bare and not one.error and not one.removed
    assert one.payload["id"] == "AAMk-1"


def test_remote_item_attendee_copy_flags():
    one = item(
        isOrganizer=False,
        isCancelled=True,
        isDraft=True,
        responseStatus={"response": "tentativelyAccepted", "time": "2025-03-01T10:00:00Z"},
    )
    assert (one.is_organizer, one.cancelled, one.draft, one.response) == (False, True, True, "tentativelyAccepted")


def test_remote_item_removed():
    one = remote_item({"@odata.type": "#microsoft.graph.event", "id": "AAMk-9", "@removed": {"reason": "deleted"}})
    assert one == RemoteItem(graph_id="AAMk-9", removed=True)
    assert not one.bare and one.data is None


def test_remote_item_bare_delta_occurrence_waits_for_its_series():
    bare = {
        "@odata.type": "#microsoft.graph.event",
        "@odata.etag": 'W/"ck-m"',
        "id": "AAMk-occ-1",
        "seriesMasterId": "AAMk-master",
        "type": "occurrence",
        "start": {"dateTime": "2025-03-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-10T10:00:00.0000000", "timeZone": "UTC"},
    }
    one = remote_item(bare)
    assert one.bare and one.data is None and one.error == ""
    assert (one.kind, one.series_master_id, one.graph_id) == ("occurrence", "AAMk-master", "AAMk-occ-1")


def test_remote_item_full_occurrence_is_mapped():
    one = item("AAMk-occ-2", type="occurrence", seriesMasterId="AAMk-master")
    assert not one.bare and one.data.name == "Planning" and one.series_master_id == "AAMk-master"


@pytest.mark.parametrize("broken", [None, "AAMk-1", [], {}, {"id": ""}, {"id": 42}, {"subject": "no id"}])
def test_remote_item_without_an_id_is_an_error(broken):
    one = remote_item(broken)
    assert one.graph_id == "" and one.error == "An Outlook item without a readable id was skipped." and one.data is None


def test_remote_item_broken_event_keeps_its_ids_and_says_why():
    one = item(end={"dateTime": "2025-03-10T08:00:00", "timeZone": "UTC"})
    assert one.data is None and one.graph_id == "AAMk-1" and one.change_key == "ck-1" and not one.bare
    assert one.error == "Outlook event 'Planning' could not be read: the event ends before it starts"
    untitled = item(subject=None, start={"dateTime": "never", "timeZone": "UTC"})
    assert untitled.error.startswith("Outlook event 'AAMk-1' could not be read: start has an invalid dateTime")


def test_remote_item_attendee_cap_is_passed_on():
    many = [{"type": "required", "emailAddress": {"address": f"guest{n}@fabrikam.test"}} for n in range(5)]
    one = remote_item(payload(attendees=many), attendee_cap=2)
    assert len(one.data.attendees) == 2 and "Other attendees (3)" in one.data.description


WRONG = [None, 0, 3, True, "x", [], ["x"], {}, {"response": 5}, [{"a": 1}]]


@pytest.mark.parametrize("key", sorted(set(payload()) - {"id"} | {"transactionId"}))
def test_remote_item_never_raises_whatever_the_types(key):
    for value in WRONG:
        one = remote_item(payload(**{key: value}))
        assert one.graph_id == "AAMk-1"
        assert (one.data is None) == bool(one.error) or one.bare
        for name in (
            "ical_uid",
            "change_key",
            "last_modified",
            "kind",
            "series_master_id",
            "response",
            "transaction_id",
            "error",
        ):
            assert isinstance(getattr(one, name), str), (key, value, name)
        assert all(isinstance(getattr(one, name), bool) for name in ("cancelled", "draft", "is_organizer"))
        reconcile([one], known(), InboundPolicy(transaction_prefix=PREFIX))


# ------------------------------------------------------------
# pushed_event_id
# ------------------------------------------------------------


@pytest.mark.parametrize(
    "transaction_id, prefix, event_id",
    [
        (PREFIX + "42", PREFIX, 42),
        (PREFIX + "42", "", None),
        ("odoo:other-db:42", PREFIX, None),
        (PREFIX + "x42", PREFIX, None),
        (PREFIX, PREFIX, None),
        ("", PREFIX, None),
        (PREFIX + "4²", PREFIX, None),  # str.isdigit() accepts superscripts, int() does not
    ],
)
def test_pushed_event_id(transaction_id, prefix, event_id):
    assert pushed_event_id(transaction_id, prefix) == event_id


# ------------------------------------------------------------
# Items Odoo does not know yet
# ------------------------------------------------------------


def test_unknown_meeting_is_created_from_this_copy():
    one = item()
    assert decide(one) == Decision("create", one, authoritative=True)


@pytest.mark.parametrize(
    "is_organizer, organizer_copies, authoritative",
    [
        (True, {7}, True),  # the organizer's copy always speaks for the meeting
        (False, {7}, False),  # another attendee's copy, while the organizer's copy is linked: only its answer
        (False, set(), True),  # external organizer: any attendee's copy is all Odoo has
        (False, {8}, True),  # an organizer copy of another meeting does not count
    ],
)
def test_known_meeting_attaches_this_copy(is_organizer, organizer_copies, authoritative):
    one = item(isOrganizer=is_organizer)
    decision = decide(one, known(uids={UID: 7}, organizer_copies=organizer_copies))
    assert decision == Decision("attach", one, event_id=7, authoritative=authoritative)


def test_our_own_push_comes_back_and_attaches_by_transaction_id():
    one = item(iCalUId="uid-exchange-gave-later", transactionId=PREFIX + "42")
    assert decide(one, known(pushed={42})) == Decision("attach", one, event_id=42, authoritative=True)


@pytest.mark.parametrize(
    "transaction_id, pushed",
    [
        (PREFIX + "42", set()),  # that Odoo event is gone: Outlook's copy is new to Odoo
        ("odoo:other-db:42", {42}),  # another database's push
        ("", {42}),
    ],
)
def test_transaction_id_that_is_not_ours_creates(transaction_id, pushed):
    one = item(transactionId=transaction_id)
    assert decide(one, known(pushed=pushed)).action == "create"


def test_ical_uid_wins_over_transaction_id():
    one = item(transactionId=PREFIX + "42")
    assert decide(one, known(uids={UID: 7}, pushed={42})).event_id == 7


def test_empty_ical_uid_never_matches():
    one = item(iCalUId="")
    assert decide(one, known(uids={"": 7})).action == "create"


def test_drafts_are_skipped():
    one = item(isDraft=True)
    assert decide(one) == Decision("skip", one, reason="draft: not sent by its organizer yet")
    assert decide(one, known(link_for(one))).action == "skip"


def test_series_masters_are_skipped():
    one = item(type="seriesMaster")
    assert decide(one).action == "skip" and "series master" in decide(one).reason
    assert decide(one, known(link_for(one))).action == "skip"


def test_bare_occurrence_is_not_decided_on():
    bare = remote_item(
        {
            "id": "AAMk-occ",
            "type": "occurrence",
            "seriesMasterId": "AAMk-master",
            "start": {"dateTime": "2025-03-10T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-03-10T10:00:00", "timeZone": "UTC"},
        }
    )
    decision = decide(bare)
    assert decision.action == "skip" and "series" in decision.reason
    linked = LinkState(1, "AAMk-occ", 7, change_key="ck-0", remote_hash="h")
    assert decide(bare, known(linked)).action == "skip"


def test_unreadable_item_is_an_error_with_its_link():
    broken = item(end={"dateTime": "2025-03-10T08:00:00", "timeZone": "UTC"})
    assert decide(broken) == Decision("error", broken, reason=broken.error)
    link = LinkState(1, "AAMk-1", 7)
    assert decide(broken, known(link)) == Decision("error", broken, link=link, reason=broken.error)


def test_item_failing_again_keeps_its_failed_copy():
    """The failed copy of an item never imported is the one the error is recorded on again (a second link for
    the same Graph id broke the unique constraint at every later run)."""
    broken = item(end={"dateTime": "2025-03-10T08:00:00", "timeZone": "UTC"})
    failed = LinkState(1, "AAMk-1", None, failed=True)
    assert decide(broken, known(failed)) == Decision("error", broken, link=failed, reason=broken.error)
    gone = remote_item({"id": "AAMk-1", "@removed": {"reason": "deleted"}})
    assert decide(gone, known(failed)) == Decision("remove", gone, link=failed)
    readable = item()
    assert decide(readable, known(failed)) == Decision("create", readable, authoritative=True)


# ------------------------------------------------------------
# Removed and cancelled
# ------------------------------------------------------------


def test_removed_with_a_link_is_removed():
    gone = remote_item({"id": "AAMk-1", "@removed": {"reason": "deleted"}})
    link = LinkState(1, "AAMk-1", 7)
    assert decide(gone, known(link)) == Decision("remove", gone, link=link)


def test_removed_without_a_link_is_skipped():
    gone = remote_item({"id": "AAMk-1", "@removed": {"reason": "deleted"}})
    assert decide(gone) == Decision("skip", gone, reason="unknown removal")


def test_cancelled_with_a_link_is_removed_without_one_skipped():
    cancelled = item(isCancelled=True, isOrganizer=False, subject="Canceled: Planning")
    link = link_for(cancelled)
    assert decide(cancelled, known(link)) == Decision("remove", cancelled, link=link)
    assert decide(cancelled) == Decision("skip", cancelled, reason="cancelled meeting")


def test_detached_link_only_follows_removals():
    one = item(changeKey="ck-9", subject="Changed in Outlook")
    detached = link_for(item(), detached=True)
    assert decide(one, known(detached)) == Decision(
        "skip", one, link=detached, reason="removed in Odoo, kept in Outlook"
    )
    gone = remote_item({"id": "AAMk-1", "@removed": {"reason": "deleted"}})
    assert decide(gone, known(detached)) == Decision("remove", gone, link=detached)


def test_failed_copy_never_imported_is_retried_as_new():
    one = item()
    failed = LinkState(1, "AAMk-1", None, failed=True)
    assert decide(one, known(failed)) == Decision("create", one, authoritative=True)
    assert decide(one, known(failed, uids={UID: 7})).action == "attach"


# ------------------------------------------------------------
# Linked copies: skip / refresh / update / conflict
# ------------------------------------------------------------


def test_same_change_key_is_skipped():
    one = item(changeKey="ck-5", subject="Whatever changed")
    link = link_for(item(), change_key="ck-5", local_changed=True)
    assert decide(one, known(link)) == Decision("skip", one, link=link, reason="unchanged")


def test_link_whose_event_was_deleted_in_odoo_is_left_to_the_push():
    one = item(changeKey="ck-9", subject="Changed")
    link = link_for(item(), event_id=None)
    assert decide(one, known(link)) == Decision("skip", one, link=link, reason="deleted in Odoo: the push removes it")


def test_new_change_key_same_content_refreshes():
    # e.g. an attendee answered: the organizer's copy changes, the meeting does not
    before = item()
    after = item(
        changeKey="ck-2",
        attendees=[{"type": "required", "status": {"response": "accepted"}, "emailAddress": {"address": BOB}}],
    )
    link = link_for(before, local_changed=True)
    assert decide(after, known(link, organizer_copies={7})) == Decision(
        "refresh", after, link=link, event_id=7, authoritative=True
    )


def test_remote_change_with_odoo_unchanged_updates():
    one = item(changeKey="ck-2", subject="Planning (moved)")
    link = link_for(item())
    assert decide(one, known(link, organizer_copies={7})) == Decision(
        "update", one, link=link, event_id=7, authoritative=True
    )


@pytest.mark.parametrize("winner", [MICROSOFT_WINS, ODOO_WINS])
def test_both_sides_changed_is_a_conflict_for_the_policy(winner):
    one = item(changeKey="ck-2", subject="Planning (moved)")
    link = link_for(item(), local_changed=True)
    decision = decide(one, known(link, organizer_copies={7}), InboundPolicy(conflict_winner=winner))
    assert decision == Decision("conflict", one, link=link, event_id=7, authoritative=True, reason=winner)


def test_default_policy_lets_microsoft_win():
    assert InboundPolicy().conflict_winner == MICROSOFT_WINS == "microsoft" and ODOO_WINS == "odoo"


def test_only_odoo_changed_is_no_conflict():
    one = item(changeKey="ck-2")  # same content, new change key
    link = link_for(item(), local_changed=True)
    assert decide(one, known(link)).action == "refresh"


def test_never_synced_local_hash_counts_as_unchanged():
    one = item(changeKey="ck-2", subject="Changed")
    link = link_for(item(), local_hash="")
    assert decide(one, known(link)).action == "update"


def test_attendee_copy_never_changes_a_meeting_whose_organizer_copy_is_linked():
    one = item(
        changeKey="ck-2", subject="Edited by an attendee", isOrganizer=False, responseStatus={"response": "accepted"}
    )
    link = link_for(item(isOrganizer=False), local_changed=True, is_organizer_copy=False)
    decision = decide(one, known(link, organizer_copies={7}))
    assert decision == Decision("refresh", one, link=link, event_id=7, authoritative=False)


def test_attendee_copy_of_an_external_organizer_updates_the_meeting():
    one = item(
        changeKey="ck-2",
        subject="Moved by the partner",
        isOrganizer=False,
        organizer={"emailAddress": {"address": "partner@fabrikam.test"}},
    )
    link = link_for(
        item(isOrganizer=False, organizer={"emailAddress": {"address": "partner@fabrikam.test"}}),
        is_organizer_copy=False,
    )
    assert decide(one, known(link)) == Decision("update", one, link=link, event_id=7, authoritative=True)


# ------------------------------------------------------------
# Pages
# ------------------------------------------------------------


def test_one_decision_per_item_in_page_order():
    items = [item("A"), item("B", iCalUId="uid-b"), remote_item({"id": "C", "@removed": {}})]
    decisions = reconcile(items, known(uids={"uid-b": 3}), InboundPolicy())
    assert [(d.item.graph_id, d.action) for d in decisions] == [("A", "create"), ("B", "attach"), ("C", "skip")]


def test_duplicate_ids_in_a_page_last_one_wins():
    first, second = item("A", subject="First"), item("A", subject="Second", changeKey="ck-2")
    decisions = reconcile([first, item("B", iCalUId="uid-b"), second], known(), InboundPolicy())
    assert [d.item.graph_id for d in decisions] == ["A", "B"]
    assert decisions[0].item is second
    removal = remote_item({"id": "A", "@removed": {}})
    assert [d.action for d in reconcile([first, removal], known(), InboundPolicy())] == ["skip"]


def test_every_item_without_an_id_is_reported():
    broken = [remote_item(None), remote_item({"subject": "x"}), remote_item([])]
    decisions = reconcile(broken + [item("A")], known(), InboundPolicy())
    assert [d.action for d in decisions] == ["error", "error", "error", "create"]
    assert all(d.reason == "An Outlook item without a readable id was skipped." for d in decisions[:3])


def test_empty_page():
    assert reconcile([], known(), InboundPolicy()) == []


def test_every_action_returned_is_a_declared_one():
    items = [
        item("A"),
        item("B", isDraft=True),
        item("C", end={"dateTime": "x", "timeZone": "UTC"}),
        remote_item({"id": "D", "@removed": {}}),
        item("E", changeKey="ck-2", subject="new"),
        item("F", changeKey="ck-2", subject="new"),
        item("G", changeKey="ck-2"),
    ]
    links = known(
        link_for(item("D")), link_for(item("E")), link_for(item("F"), local_changed=True), link_for(item("G"))
    )
    actions = {d.action for d in reconcile(items, links, InboundPolicy())}
    assert actions == {"create", "skip", "error", "remove", "update", "conflict", "refresh"}
    assert actions <= set(ACTIONS)


def test_decisions_are_values():
    one = item()
    assert replace(decide(one), reason="x").reason == "x"
    with pytest.raises(AttributeError):
        decide(one).action = "update"
