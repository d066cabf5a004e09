"""Decide what an Odoo change means for Outlook (outbound), safely (STYLE R2).

Invitation safety first: Exchange mails every attendee of an organizer's create, update or cancel
(graph-reference H), so nothing is pushed for an event that already ended, nothing is sent when the
mapped fields did not change, and events that existed before the user connected stay in Odoo unless the
admin opted in.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from .mapping import graph_patch, to_graph

STATE_TO_ACTION = {"accepted": "accept", "tentative": "tentativelyAccept", "declined": "decline"}


@dataclass(frozen=True)
class PushPolicy:
    push_existing: bool = False  # also push events created before the user connected
    future_days: int = 730       # outbound range: events starting later stay in Odoo


@dataclass(frozen=True)
class LocalEvent:
    """An Odoo event the push looks at (``data`` is ``None`` when the event was deleted in Odoo)."""

    event_id: int = None
    data: object = None
    active: bool = True
    recurrent: bool = False
    created_before_connect: bool = False


@dataclass(frozen=True)
class PushLink:
    link_id: int
    graph_id: str
    synced: object = None  # EventData of the last sync
    is_organizer_copy: bool = True
    cancel_allowed: bool = True  # the organizer (not another attendee) removed it in Odoo


@dataclass(frozen=True)
class PushDecision:
    """``action``: create, patch, cancel (organizer's meeting with attendees: Exchange mails a
    cancellation), delete (an appointment without attendees: no mail), forget (drop the link only),
    clean (nothing to send), skip (stays in Odoo, with the reason)."""

    action: str
    body: dict = field(default_factory=dict)
    reason: str = ""


def _has_guests(data):
    return any(attendee.email != data.organizer_email for attendee in data.attendees)


def _removal(data, link, now):
    if data is None or not link.is_organizer_copy or not link.cancel_allowed or data.ended_before(now):
        return PushDecision("forget", reason="kept in Outlook: not removed by its organizer, or already over")
    return PushDecision("cancel" if _has_guests(data) else "delete")


def plan_push(event, link, policy, now):
    """The one thing to do for ``event`` (and its link in this mailbox, if any) at ``now`` (UTC naive)."""
    if event.data is None or not event.active:
        if link is None:
            return PushDecision("clean")
        return _removal(event.data or link.synced, link, now)
    data = event.data
    if link is None:
        if event.recurrent:
            return PushDecision("skip", reason="recurring events created in Odoo are not sent to Outlook yet")
        if event.created_before_connect and not policy.push_existing:
            return PushDecision("skip", reason="created before Outlook was connected: kept in Odoo")
        if data.ended_before(now):
            return PushDecision("skip", reason="already over: never sent, so nobody is invited to the past")
        start = datetime.combine(data.start_date, time()) if data.allday else data.start
        if start > now + timedelta(days=policy.future_days):
            return PushDecision("skip", reason="starts beyond the outbound range")
        return PushDecision("create", body=to_graph(data))
    if data.ended_before(now):
        return PushDecision("clean", reason="already over: changes stay in Odoo")
    body = graph_patch(link.synced, data) if link.synced else to_graph(data)
    return PushDecision("patch", body=body) if body else PushDecision("clean")


def response_action(state):
    """Graph action answering an invitation for an Odoo attendee state, or ``None``."""
    return STATE_TO_ACTION.get(state)
