"""Decide what an Odoo change means for Outlook (outbound), safely (STYLE R2).

Invitation safety first: Exchange mails every attendee of an organizer's create, update or cancel
(graph-reference H), so nothing is pushed for an event that already ended, nothing is sent when the
mapped fields did not change, and events that existed before the user connected stay in Odoo unless the
admin opted in.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta

from .mapping import graph_patch, to_graph
from .policy import CANCEL_FUTURE, DELETE, KEEP, PRIVATE_SKIP, SyncPolicy

STATE_TO_ACTION = {"accepted": "accept", "tentative": "tentativelyAccept", "declined": "decline"}
PushPolicy = SyncPolicy  # the choices the push needs are the sync policy's
MEETING_KEYS = frozenset({"subject", "start", "end", "isAllDay"})  # what lets a new description go out


@dataclass(frozen=True)
class LocalEvent:
    """An Odoo event the push looks at (``data`` is ``None`` when the event was deleted in Odoo)."""

    event_id: int = None
    data: object = None
    active: bool = True
    recurrent: bool = False
    created_before_connect: bool = False
    in_filter: bool = True  # matches the admin's sync filter (Dynamics)
    with_invitations: bool = True  # the event's "Send invitations" checkbox (Practifi)
    imported: bool = False  # created by Odoo's data import: not pushed (Practifi)
    internal: bool = False  # every attendee is an Odoo user


@dataclass(frozen=True)
class PushLink:
    link_id: int
    graph_id: str
    synced: object = None  # EventData of the last sync
    is_organizer_copy: bool = True
    cancel_allowed: bool = True  # the organizer (not another attendee) removed it in Odoo
    attendees_capped: bool = False  # Outlook has more attendees than Odoo kept: never send the list


@dataclass(frozen=True)
class PushDecision:
    """``action``: create, patch, cancel (organizer's meeting with attendees: Exchange mails a
    cancellation), delete (an appointment without attendees: no mail), forget (drop the link only),
    clean (nothing to send), skip (stays in Odoo, with the reason)."""

    action: str
    body: dict = field(default_factory=dict)
    reason: str = ""
    sent: object = field(default=None, compare=False)  # what Outlook holds once ``body`` is applied


def _has_guests(data):
    return any(attendee.email != data.organizer_email for attendee in data.attendees)


def _removal(data, link, now, mode, allowed=None):
    """The deletion policy from Odoo: cancel the organizer's future meetings (default, Dynamics), delete
    every copy Outlook lets us delete, or keep Outlook's copy. ``allowed``: who removed it may remove
    Outlook's copy (default: the organizer removed it in Odoo)."""
    allowed = link.cancel_allowed if allowed is None else allowed
    keep = PushDecision("forget", reason="kept in Outlook (deletion policy), or not removed by its organizer")
    if data is None or mode == KEEP:
        return keep
    if not link.is_organizer_copy:
        # an attendee's own copy: deleting it mails nobody; the default policy keeps it
        return PushDecision("delete") if mode == DELETE and allowed else keep
    if not allowed or (mode == CANCEL_FUTURE and data.ended_before(now)):
        return keep
    if data.ended_before(now):
        return PushDecision("delete")  # a past meeting is deleted without mailing a cancellation
    return PushDecision("cancel" if _has_guests(data) else "delete")


def _refusal(event, policy, now):
    """Why a new Odoo event stays in Odoo, or ``""``."""
    data = event.data
    if event.recurrent:
        return "part of a recurring series: Outlook gets it with its series (inside the sync window)"
    if event.imported:
        return "created by a data import: push it explicitly"
    if event.created_before_connect and not policy.push_existing:
        return "created before Outlook was connected: kept in Odoo"
    if not event.in_filter:
        return "outside the sync filter"
    if data.privacy == "private" and policy.private_events == PRIVATE_SKIP:
        return "private events are not synced"
    if event.internal and not policy.sync_internal:
        return "internal meetings (only Odoo users) are not synced"
    if data.ended_before(now):
        return "already over: never sent, so nobody is invited to the past"
    start = datetime.combine(data.start_date, time()) if data.allday else data.start
    if start > now + timedelta(days=policy.future_days):
        return "starts beyond the outbound range"
    return ""


def plan_push(event, link, policy, now):
    """The one thing to do for ``event`` (and its link in this mailbox, if any) at ``now`` (UTC naive)."""
    if not policy.pushes:
        return PushDecision("clean", reason="the sync direction is Microsoft 365 to Odoo only")
    if event.data is None or not event.active:
        if link is None:
            return PushDecision("clean")
        return _removal(event.data or link.synced, link, now, policy.delete_from_odoo)
    if link is not None and not event.in_filter:
        return _removal(event.data, link, now, policy.filter_removal, allowed=True)  # the admin's filter decides
    if link is None:
        refusal = _refusal(event, policy, now)
        if refusal:
            return PushDecision("skip", reason=refusal)
        sent = policy.outbound_view(event.data, event.with_invitations)
        return PushDecision("create", body=to_graph(sent), sent=sent)
    if policy.ended_long_ago(event.data, now):
        return PushDecision("inactive", reason=f"ended more than {policy.inactive_after_days} days ago")
    if event.data.ended_before(now - timedelta(days=policy.past_grace_days)):
        return PushDecision("clean", reason="already over: changes stay in Odoo")
    return _patch(event, link, policy)


def _patch(event, link, policy):
    sent = policy.outbound_view(event.data, event.with_invitations)
    # a capped attendee list must never go out: Exchange would cancel everybody Odoo did not keep
    with_attendees = not link.attendees_capped
    if link.synced is None:
        return PushDecision("patch", body=to_graph(sent, with_attendees=with_attendees), sent=sent)
    body = graph_patch(link.synced, sent, with_attendees=with_attendees)
    if policy.safe_description and "body" in body and not body.keys() & MEETING_KEYS:
        # Revenue Grid's safe description: a description edit alone stays in Odoo
        sent = replace(sent, description=link.synced.description)
        body = graph_patch(link.synced, sent, with_attendees=with_attendees)
    return PushDecision("patch", body=body, sent=sent) if body else PushDecision("clean", sent=sent)


def already_applied(remote, sent, body):
    """Whether Outlook's copy (``remote``, mapped from Graph) already holds what the PATCH ``body`` brings to
    ``sent``: after a PATCH whose answer was lost, sending it again would mail the attendees twice. The
    description is left out (Exchange rewrites HTML) and attendees are compared by address."""
    differing = set(graph_patch(remote, sent)) & set(body) - {"body"}
    if "attendees" in differing and _guests(remote) == _guests(sent):
        differing.discard("attendees")
    return not differing


def _guests(data):
    return {attendee.email.lower() for attendee in data.attendees} - {(data.organizer_email or "").lower()}


def response_action(state):
    """Graph action answering an invitation for an Odoo attendee state, or ``None``."""
    return STATE_TO_ACTION.get(state)
