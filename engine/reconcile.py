"""Decide what one delta page means for Odoo (STYLE R2: values in, plan out).

The caller loads, for the page's items, the links of this mailbox and the Odoo events that already carry
the items' meeting identities, then applies the returned decisions. Nothing here reads a clock or a
database: conflicts are decided from the fingerprints stored at the last sync, never by comparing the
two sides' clocks.
"""

from dataclasses import dataclass, replace

from .mapping import fingerprint
from .policy import MICROSOFT_WINS, NEWEST_WINS, ODOO_WINS, ImportContext, SyncPolicy
from .records import SERIES_MASTER, Decision

InboundPolicy = SyncPolicy  # the choices reconciliation needs are the sync policy's
__all__ = ["MICROSOFT_WINS", "ODOO_WINS", "NEWEST_WINS", "InboundPolicy", "Known", "reconcile", "pushed_event_id"]


@dataclass(frozen=True)
class Known:
    """What Odoo already has for a page.

    :param links: ``{graph_id: LinkState}`` of this mailbox
    :param events_by_uid: ``{iCalUId: event_id}`` of events holding these meetings
    :param organizer_copies: event ids that have an organizer's copy linked in some mailbox
    :param pushed_events: event ids that exist, among those our transactionIds point to
    :param locked_events: event ids that refuse changes from Outlook (locked records, ERP.net)
    :param local_modified: ``{event_id: ISO UTC write date}`` for the "newest wins" conflict policy
    :param context: :class:`~.policy.ImportContext` for deciding whether new items come in
    """

    links: dict
    events_by_uid: dict
    organizer_copies: frozenset = frozenset()
    pushed_events: frozenset = frozenset()
    locked_events: frozenset = frozenset()
    local_modified: dict = None
    context: ImportContext = None


def pushed_event_id(transaction_id, prefix):
    """The Odoo event id our own POST put in ``transactionId`` (``<prefix><id>``), or ``None``."""
    if not prefix or not transaction_id.startswith(prefix):
        return None
    tail = transaction_id[len(prefix) :]
    return int(tail) if tail.isascii() and tail.isdigit() else None


def reconcile(items, known, policy):
    """One :class:`~.records.Decision` per item, in page order (duplicates of an id: the last one wins;
    items without an id are each an error)."""
    last_by_id = {}
    for position, item in enumerate(items):
        last_by_id[item.graph_id or position] = item
    decisions = []
    for item in last_by_id.values():
        if not item.graph_id:
            decisions.append(Decision("error", item, reason=item.error))
            continue
        decisions.append(_decide(item, known, policy))
    return decisions


def _decide(item, known, policy):
    viewed = policy.inbound_view(item.data)
    if viewed is not item.data:
        item = replace(item, data=viewed)
    link = known.links.get(item.graph_id)
    failed_copy = None
    if link and link.failed and link.event_id is None:
        # never imported: the copy is decided as a new one; an error is recorded on its failed link again
        failed_copy, link = link, None
    if link and link.detached:
        if item.removed:
            return Decision("remove", item, link=link)
        return Decision("skip", item, link=link, reason="removed in Odoo, kept in Outlook")
    if item.removed:
        link = link or failed_copy
        return Decision("remove", item, link=link) if link else Decision("skip", item, reason="unknown removal")
    if item.kind == SERIES_MASTER:
        return Decision("skip", item, reason="series master: its occurrences are synced one by one")
    if item.bare:
        return Decision("skip", item, link=link, reason="bare occurrence: its details come from its series first")
    if item.error:
        return Decision("error", item, link=link or failed_copy, reason=item.error)
    if item.draft:
        return Decision("skip", item, reason="draft: not sent by its organizer yet")
    if item.cancelled:
        return Decision("remove", item, link=link) if link else Decision("skip", item, reason="cancelled meeting")
    if link:
        return _decide_linked(item, link, known, policy)
    return _decide_new(item, known, policy)


def _authoritative(item, event_id, known):
    """Whether this copy may change the meeting: the organizer's copy, or any copy while no organizer's
    copy is linked (an external organizer). Other attendees' copies only bring their own answer."""
    return item.is_organizer or event_id not in known.organizer_copies


def _decide_new(item, known, policy):
    event_id = known.events_by_uid.get(item.ical_uid) if item.ical_uid else None
    if event_id is None:
        pushed = pushed_event_id(item.transaction_id, policy.transaction_prefix)
        event_id = pushed if pushed in known.pushed_events else None
    if event_id is None:
        refusal = policy.import_refusal(item, known.context) if known.context else ""
        if refusal:
            return Decision("skip", item, reason=refusal)
        return Decision("create", item, authoritative=True)
    return Decision("attach", item, event_id=event_id, authoritative=_authoritative(item, event_id, known))


def _decide_linked(item, link, known, policy):
    if link.event_id is None:
        return Decision("skip", item, link=link, reason="deleted in Odoo: the push removes it")
    if item.change_key and item.change_key == link.change_key:
        return Decision("skip", item, link=link, reason="unchanged")
    if policy.opted_out(item):
        return Decision("remove", item, link=link, reason="the item left the opt-in category")
    if known.context and policy.ended_long_ago(item.data, known.context.now):
        return Decision(
            "inactive",
            item,
            link=link,
            event_id=link.event_id,
            reason=f"ended more than {policy.inactive_after_days} days ago",
        )
    authoritative = _authoritative(item, link.event_id, known)
    # each side is compared with its own state at the last sync: Odoo sanitizes HTML and Exchange
    # rewrites bodies, so the two sides' fingerprints are never compared with each other
    if not authoritative or fingerprint(item.data) == link.remote_hash:
        return Decision("refresh", item, link=link, event_id=link.event_id, authoritative=authoritative)
    if link.event_id in known.locked_events:
        return Decision(
            "locked",
            item,
            link=link,
            event_id=link.event_id,
            reason="the Odoo event is locked: Outlook's change was not applied",
        )
    if link.local_hash and link.local_hash != link.synced_hash:
        return Decision(
            "conflict",
            item,
            link=link,
            event_id=link.event_id,
            authoritative=True,
            reason=_conflict_winner(item, link, known, policy),
        )
    return Decision("update", item, link=link, event_id=link.event_id, authoritative=True)


def _conflict_winner(item, link, known, policy):
    """``microsoft`` or ``odoo``; "newest wins" compares the two sides' modification times."""
    if policy.conflict_winner != NEWEST_WINS:
        return policy.conflict_winner
    local = (known.local_modified or {}).get(link.event_id, "")
    return ODOO_WINS if local and local > item.last_modified[:19] else MICROSOFT_WINS
