"""The invitation budget: how many messages Exchange sends to attendees for one planned push.

Pure: no Odoo, no clock, no I/O. Exchange mails the attendees of a meeting whenever its organizer's copy is
created, changed in a field the organizer owns, cancelled or deleted, and Graph has no parameter to make
such a write silent (doc/invitation-budget.md). A sync run counts these messages before it sends anything;
past the admin's threshold the changes that would mail somebody wait for a person's confirmation.

The count follows what Exchange does (and what the emulator counts):

* create with attendees: one invitation per attendee;
* PATCH: an invitation to each attendee added, a cancellation to each attendee removed, and, when a field the
  organizer owns changed (subject, body, times, location, sensitivity...), one update to each attendee kept;
  local fields (categories, reminder, show as) mail nobody;
* cancel, or DELETE of the organizer's copy: one cancellation per attendee;
* an occurrence's PATCH: one update per attendee of the occurrence when an owned field changed;
* answers, and anything done to an attendee's own copy: nothing to attendees.
"""

from dataclasses import dataclass

from .mapping import to_graph

# Graph event properties the organizer owns: a change mails the attendees (the others are each mailbox's own)
MEETING_PROPERTIES = frozenset(
    {
        "subject",
        "body",
        "attendees",
        "start",
        "end",
        "isAllDay",
        "location",
        "locations",
        "importance",
        "sensitivity",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "recurrence",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
    }
)
INVITATION, UPDATE, CANCELLATION = "invitation", "update", "cancellation"


@dataclass(frozen=True)
class Mailing:
    """The messages one push makes Exchange send: addresses per kind (``updates`` get ``per_update`` each)."""

    invitations: tuple = ()
    updates: tuple = ()
    cancellations: tuple = ()
    per_update: int = 1

    @property
    def count(self):
        return len(self.invitations) + len(self.cancellations) + len(self.updates) * self.per_update

    @property
    def recipients(self):
        """Every address this push mails, once each, in order."""
        return tuple(dict.fromkeys(self.invitations + self.updates + self.cancellations))

    def by_kind(self):
        """``[(kind, addresses)]`` of the kinds that mail somebody."""
        kinds = ((INVITATION, self.invitations), (UPDATE, self.updates), (CANCELLATION, self.cancellations))
        return [(kind, addresses) for kind, addresses in kinds if addresses]


NOTHING = Mailing()


def recipients(attendees, own_address):
    """The addresses a Graph ``attendees`` list mails: every attendee but the mailbox itself, once each
    (case-insensitive), in list order."""
    own = (own_address or "").lower()
    seen, result = set(), []
    for attendee in attendees or ():
        address = ((attendee or {}).get("emailAddress") or {}).get("address") or ""
        key = address.lower()
        if address and key != own and key not in seen:
            seen.add(key)
            result.append(address)
    return tuple(result)


def outlook_recipients(data, own_address):
    """The attendees Outlook holds for ``data`` (an :class:`~.mapping.EventData` as last sent)."""
    return recipients(to_graph(data)["attendees"], own_address) if data is not None else ()


def mailing(action, body=None, synced=None, own_address="", *, organizer_copy=True, occurrence=False):
    """The messages Exchange sends for one push.

    :param action: the push decision's action (create, patch, cancel, delete; anything else sends nothing)
    :param body: the Graph body sent (create, patch)
    :param synced: :class:`~.mapping.EventData` Outlook holds now (what was last sent), or ``None``
    :param own_address: the mailbox's address (the organizer is never mailed)
    :param organizer_copy: the copy belongs to the meeting's organizer (an attendee's copy mails nobody)
    :param occurrence: the copy is an occurrence of a series (its PATCH mails an update, never an invitation)
    """
    if not organizer_copy:
        return NOTHING
    if action == "create":
        return Mailing(invitations=recipients((body or {}).get("attendees"), own_address))
    if action in ("cancel", "delete"):
        return Mailing(cancellations=outlook_recipients(synced, own_address))
    if action != "patch" or not body:
        return NOTHING
    owned_change = bool((set(body) - {"attendees"}) & MEETING_PROPERTIES)
    if occurrence:
        # Exchange keeps an occurrence's attendees with its series: only an update goes out
        after = recipients(body["attendees"], own_address) if "attendees" in body else None
        if after is None:
            after = outlook_recipients(synced, own_address)
        return Mailing(updates=after) if owned_change else NOTHING
    if synced is None:  # nothing known of Outlook's copy: the body is complete, everybody in it is mailed
        before = recipients(body.get("attendees"), own_address)
    else:
        before = outlook_recipients(synced, own_address)
    after = recipients(body["attendees"], own_address) if "attendees" in body else before
    lowered_before, lowered_after = {a.lower() for a in before}, {a.lower() for a in after}
    return Mailing(
        invitations=tuple(a for a in after if a.lower() not in lowered_before),
        updates=tuple(a for a in after if a.lower() in lowered_before) if owned_change else (),
        cancellations=tuple(a for a in before if a.lower() not in lowered_after),
    )


def series_mailing(action, body=None, synced=None, own_address=""):
    """The messages of an operation on a series master made from Odoo: create, patch (the whole series),
    truncate (its end moves earlier: one update per attendee) or cancel. A PATCH that keeps the series'
    times and rule also updates each of its exceptions in Exchange; Odoo does not know them, so they are
    not counted."""
    if action == "truncate":
        return Mailing(updates=outlook_recipients(synced, own_address))
    return mailing(action, body, synced, own_address)


def over_budget(total, threshold):
    """Whether ``total`` messages in one run need a person's confirmation (``threshold`` 0: no limit)."""
    return bool(threshold) and total > threshold
