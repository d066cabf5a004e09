"""A PATCH sent again after its answer was lost must not mail the attendees twice: what Outlook's copy already
holds is compared with what the PATCH brings."""

from dataclasses import replace
from datetime import datetime, timedelta

from engine.mapping import Attendee, EventData, graph_patch
from engine.push import already_applied

ANNA = "anna@contoso.test"
BASE = datetime(2031, 3, 4, 9, 0)


def test_already_applied_compares_what_the_patch_changes():
    synced = EventData(
        name="Plan", start=BASE, stop=BASE + timedelta(hours=1), organizer_email=ANNA, attendees=(Attendee("b@x"),)
    )
    moved = replace(synced, start=BASE + timedelta(hours=2), stop=BASE + timedelta(hours=3))
    body = graph_patch(synced, moved)
    assert already_applied(moved, moved, body)
    assert not already_applied(synced, moved, body)
    # a copy whose name changed in Outlook still lacks a categories-only PATCH
    tagged = replace(synced, categories=("Blue",))
    assert not already_applied(replace(synced, name="Renamed"), tagged, graph_patch(synced, tagged))
    # attendees are compared by address, whatever name Exchange shows
    renamed_guest = replace(moved, attendees=(Attendee("b@x", "Bea from the directory"),))
    assert already_applied(renamed_guest, moved, dict(body, attendees=[]))
