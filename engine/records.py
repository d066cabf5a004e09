"""Values the engine works on: what Graph sent, what Odoo holds, and the plan that reconciles them (STYLE R2)."""

from dataclasses import dataclass, field
from datetime import datetime, time

from .errors import MappingError
from .mapping import DEFAULT_ATTENDEE_CAP, from_graph, storable_text
from .timezones import utc_naive

SERIES_MASTER = "seriesMaster"
OCCURRENCE = "occurrence"
MAX_ID_LENGTH = 1024  # Graph ids are about 150 characters; Odoo indexes them (btree rows stay under 2.7 kB)


@dataclass(frozen=True)
class RemoteItem:
    """One item of a delta page, mapped. A broken payload becomes an item with ``error`` set."""

    graph_id: str
    removed: bool = False
    ical_uid: str = ""
    change_key: str = ""
    last_modified: str = ""
    kind: str = "singleInstance"
    series_master_id: str = ""
    cancelled: bool = False
    draft: bool = False
    is_organizer: bool = False
    response: str = "none"
    transaction_id: str = ""
    data: object = None
    error: str = ""
    payload: dict = field(default=None, compare=False, repr=False)

    @property
    def bare(self):
        """A delta occurrence carries only ids and times: its details come from the series (B.4)."""
        return self.kind == OCCURRENCE and self.data is None and not self.error and not self.removed


def _text(value, default=""):
    """An id or flag text Odoo can store and index, else ``default`` (a hostile one counts as absent)."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH or storable_text(value) != value:
        return default
    return value


def occurrence_uid(series_uid, original_start):
    """A meeting identity for one occurrence of a series, the same in every attendee's mailbox: the
    series' iCalUId and the occurrence's original start in UTC (``YYYYmmddTHHMMSS``)."""
    return f"{series_uid}-{original_start:%Y%m%dT%H%M%S}"


def occurrence_start_utc(data):
    """The UTC start of an occurrence's :class:`EventData` (all-day: midnight of its day in its own zone),
    the original start of an occurrence that follows its rule."""
    if data.allday:
        return utc_naive(datetime.combine(data.start_date, time()), data.timezone)
    return data.start


def occurrence_payload(master, bare):
    """A full Graph payload for a bare delta occurrence (ids and times only, graph-reference B.4): the
    series master's details with the occurrence's own id, times and change key."""
    payload = {key: value for key, value in master.items() if key not in ("recurrence", "@odata.etag")}
    etag = str(bare.get("@odata.etag") or "")
    payload.update(
        id=bare.get("id"),
        type=OCCURRENCE,
        seriesMasterId=bare.get("seriesMasterId") or master.get("id"),
        start=bare.get("start") or master.get("start"),
        end=bare.get("end") or master.get("end"),
        changeKey=etag[3:-1] if etag.startswith('W/"') else bare.get("changeKey") or master.get("changeKey"),
    )
    return payload


def remote_item(payload, attendee_cap=DEFAULT_ATTENDEE_CAP):
    """Map one delta item; never raises (a broken item is returned with ``error`` so the run goes on)."""
    if not isinstance(payload, dict) or not _text(payload.get("id")) or not payload["id"].isprintable():
        return RemoteItem(graph_id="", error="An Outlook item without a readable id was skipped.")
    graph_id = payload["id"]
    if "@removed" in payload:
        return RemoteItem(graph_id=graph_id, removed=True)
    kind = _text(payload.get("type"), "singleInstance")
    status = payload.get("responseStatus")
    # ids and flags of a wrongly typed item count as absent: the decision then rests on what is readable
    common = {
        "graph_id": graph_id,
        "ical_uid": _text(payload.get("iCalUId")),
        "change_key": _text(payload.get("changeKey")),
        "last_modified": _text(payload.get("lastModifiedDateTime")),
        "kind": kind,
        "series_master_id": _text(payload.get("seriesMasterId")),
        "cancelled": payload.get("isCancelled") is True,
        "draft": payload.get("isDraft") is True,
        "is_organizer": payload.get("isOrganizer") is True,
        "response": _text(status.get("response") if isinstance(status, dict) else None, "none"),
        "transaction_id": _text(payload.get("transactionId")),
        "payload": payload,
    }
    if kind == OCCURRENCE and "subject" not in payload:
        return RemoteItem(**common)  # bare: completed from the series by the caller
    try:
        return RemoteItem(data=from_graph(payload, attendee_cap=attendee_cap), **common)
    except MappingError as exc:
        subject = payload.get("subject")
        name = storable_text(subject)[:80] if isinstance(subject, str) and subject.strip() else graph_id
        return RemoteItem(error=f"Outlook event {name!r} could not be read: {str(exc)[:300]}", **common)


@dataclass(frozen=True)
class LinkState:
    """What Odoo remembers of one Outlook copy (an ``outlook.event.link``) and of its event now."""

    link_id: int
    graph_id: str
    event_id: int
    change_key: str = ""
    remote_hash: str = ""  # fingerprint of Outlook's copy at the last sync
    synced_hash: str = ""  # fingerprint of the Odoo event at the last sync
    local_hash: str = ""  # fingerprint of the Odoo event now
    is_organizer_copy: bool = False
    failed: bool = False  # the copy could not be read last time
    detached: bool = False  # removed in Odoo, Outlook's copy kept: never imported again


@dataclass(frozen=True)
class Decision:
    """One thing to do for one remote item. ``action`` is one of :data:`ACTIONS`."""

    action: str
    item: RemoteItem
    link: LinkState = None
    event_id: int = None
    authoritative: bool = False
    reason: str = ""


ACTIONS = (
    "create",  # a meeting Odoo does not know: create the event and its link
    "attach",  # a meeting Odoo knows (another mailbox, or our own push): link this copy to it
    "update",  # this copy changed and may change the meeting: write the event
    "conflict",  # both sides changed since the last sync: the policy's side wins
    "refresh",  # nothing to write on the event: remember the new change key (and answers)
    "remove",  # deleted or cancelled in Outlook: apply the deletion policy
    "inactive",  # ended long ago: no longer synced, the event shows Inactive
    "locked",  # the Odoo event refuses Outlook's change: the copy is marked in conflict
    "unlink",  # gone from this mailbox's window or calendar: forget the link only
    "error",  # the item cannot be read: mark it, go on
    "skip",  # drafts, series masters, unknown removals
)
