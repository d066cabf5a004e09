"""Exchange semantics of calendar writes: ids, exceptions, messages and attendee copies.

* graph-reference H: which action sends which message (invitation, update, cancellation, response). Messages caused by
  Graph requests are counted as ``messages_sent``; the same actions done "as Outlook would" (control API) are logged
  as ``outlook_messages`` only.
* Multi-mailbox: an organizer's meeting is delivered to attendees that are emulator mailboxes (same ``iCalUId``, own
  id, ``isOrganizer`` false, ``notResponded``); organizer updates and cancellations reach those copies; an attendee's
  response updates the organizer's attendee status.
* G.4: PATCH of an occurrence makes an exception (``ErrorOccurrenceCrossingBoundary`` when moved across a neighbour),
  DELETE/cancel of an occurrence cancels only that one; a master's new time or pattern regenerates its occurrences
  (new ids, D.2 Obs). D.1: ``transactionId`` dedupes retried POSTs (assumption of the reference: the existing event is
  returned with 201, nothing is created or sent).
"""

import copy
import datetime

from . import events as ev
from . import recurrence as rec
from . import timezones
from .errors import GraphError, not_found
from .graph_common import View
from .render import Occurrence, render
from .store import Event, new_core, new_generation, now_utc, parse_id, stamp, unstamp

RESPONSE_PREFIX = {"accepted": "Accepted: ", "tentativelyAccepted": "Tentative: ", "declined": "Declined: "}
SHOW_AS = {"accepted": "busy", "tentativelyAccepted": "tentative", "declined": "free"}
CANCELED = "Canceled: "


def overlaps(start, end, since, until):
    if since is None and until is None:
        return True
    if start == end:
        return (since is None or start >= since) and (until is None or start < until)
    return (until is None or start < until) and (since is None or end > since)


class Meetings:
    """All calendar writes and expansions; every public method runs under the emulator lock."""

    def __init__(self, emu):
        self.emu = emu

    # ------------------------------------------------------------------ lookups

    def resolve(self, mailbox, event_id):
        """Event id (either form) -> stored :class:`Event` or :class:`Occurrence`; 404/400 like Graph."""
        parsed = parse_id(event_id)
        if parsed is None:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        core, occurrence = parsed
        with self.emu.lock:
            event = mailbox.events.get(core)
            if event is None:
                raise not_found()
            if occurrence is None:
                return event
            generation, slot_stamp = occurrence
            if event.kind != "seriesMaster" or generation != event.generation or slot_stamp in event.cancelled:
                raise not_found()
            if slot_stamp in event.exceptions:
                return event.exceptions[slot_stamp]
            _prev, slot, _next = rec.find_slot(event, unstamp(slot_stamp))
            if slot is None:
                raise not_found()
            return Occurrence(event, slot)

    def series_items(self, master, since=None, until=None):
        """Occurrences + exceptions of ``master`` overlapping ``[since, until)``, cancelled ones left out (G.4)."""
        items = []
        for slot in rec.slots(master, until_utc=until, since_utc=since):
            key = slot.stamp
            if key in master.cancelled or key in master.exceptions:
                continue
            if overlaps(slot.start_utc, slot.end_utc, since, until):
                items.append(Occurrence(master, slot))
        items.extend(e for e in master.exceptions.values() if overlaps(e.start_utc, e.end_utc, since, until))
        items.sort(key=lambda item: (item.start_utc, item.original_start))
        return items

    def expand(self, mailbox, since, until):
        """Single instances, occurrences and exceptions overlapping the window (what calendarView returns)."""
        with self.emu.lock:
            items = []
            for event in list(mailbox.events.values()):
                if event.kind == "seriesMaster":
                    items.extend(self.series_items(event, since, until))
                elif overlaps(event.start_utc, event.end_utc, since, until):
                    items.append(event)
        items.sort(key=lambda item: (item.start_utc, item.end_utc, item.id(True)))
        return items

    @staticmethod
    def find_copy(mailbox, ical_uid):
        return next((e for e in mailbox.events.values() if e.ical_uid == ical_uid and not e.is_organizer), None)

    # ------------------------------------------------------------------ create

    def create(self, mailbox, payload, actor, organizer=None, ical_uid=None, response=None):  # pylint: disable=method-required-super # not an Odoo model
        """:return: ``(event, created)``; ``created`` is False when a ``transactionId`` matched an existing item."""
        with self.emu.lock:
            transaction = payload.get("transactionId") if isinstance(payload, dict) else None
            if isinstance(transaction, str) and transaction in mailbox.transactions:
                existing = mailbox.events.get(mailbox.transactions[transaction])
                if existing is not None:
                    return existing, False
            event = Event(mailbox, new_core())
            event.fields = ev.defaults()
            ev.apply(event, payload, creating=True)
            event.kind = "seriesMaster" if event.recurrence else "singleInstance"
            if organizer and organizer.get("address", "").lower() != mailbox.address.lower():
                self._make_attendee_item(event, organizer, ical_uid, response)
            mailbox.events[event.core] = event
            if event.transaction_id:
                mailbox.transactions[event.transaction_id] = event.core
            if event.is_organizer and event.is_meeting():
                self._send(actor, event, "invitation", self.recipients(event))
                self._propagate(event)
            return event, True

    @staticmethod
    def _make_attendee_item(event, organizer, ical_uid, response):
        event.is_organizer = False
        event.organizer = {
            "emailAddress": {"name": organizer.get("name") or organizer["address"], "address": organizer["address"]}
        }
        event.response = {"response": response or "notResponded", "time": ev.NO_TIME}
        if ical_uid:
            event.ical_uid = ical_uid

    # ------------------------------------------------------------------ update

    def update(self, mailbox, item, patch, actor, if_match=None):
        """PATCH semantics. :return: the stored item that changed (an exception for an occurrence)"""
        with self.emu.lock:
            self.check_etag(item, if_match)
            if isinstance(item, Occurrence):
                return self._update_occurrence(item, patch, actor)
            if item.kind == "exception":
                return self._update_exception(item, patch, actor)
            return self._update_item(item, patch, actor)

    @staticmethod
    def check_etag(item, if_match):
        if not if_match or if_match.strip() == "*":
            return
        key = item.master.change_key if isinstance(item, Occurrence) else item.change_key
        if if_match.strip() not in (f'W/"{key}"', f'"{key}"', key):
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed "
                "because the change key passed in the request does not match the current change key for "
                "the item.",
            )

    def _update_item(self, event, patch, actor):
        before_recipients = self.recipients(event)
        exceptions_before = len(event.exceptions)
        state = _snapshot(event)
        try:
            present, times_changed, recurrence_changed = ev.apply(event, patch)
        except Exception:
            _restore(event, state)
            raise
        event.kind = "seriesMaster" if event.recurrence else "singleInstance"
        regenerated = (times_changed or recurrence_changed) and event.recurrence is not None
        if regenerated or event.recurrence is None:
            event.generation, event.exceptions, event.cancelled = new_generation(), {}, set()
        event.touch()
        if event.is_organizer and (before_recipients or self.recipients(event)):
            per_attendee = 1 if regenerated else 1 + exceptions_before
            self._notify_update(actor, event, before_recipients, present, per_attendee)
            self._propagate(event, removed=set(before_recipients) - set(self.recipients(event)))
        return event

    def _update_occurrence(self, occurrence, patch, actor):
        master = occurrence.master
        exception = self._materialize(occurrence)
        ev.apply(exception, patch)
        self._check_boundaries(master, exception)
        master.exceptions[stamp(exception.original_start)] = exception
        exception.touch()
        master.touch(exception.modified)
        self._after_exception_change(master, exception, patch, actor)
        return exception

    def _update_exception(self, exception, patch, actor):
        master = exception.master
        state = _snapshot(exception)
        try:
            ev.apply(exception, patch)
            self._check_boundaries(master, exception)
        except Exception:
            _restore(exception, state)
            raise
        exception.touch()
        master.touch(exception.modified)
        self._after_exception_change(master, exception, patch, actor)
        return exception

    def _after_exception_change(self, master, exception, patch, actor):
        if master.is_organizer and self.recipients(exception):
            self._notify_update(actor, exception, self.recipients(exception), set(patch), 1)
            self._propagate(master)

    def _materialize(self, occurrence):
        """An exception item for an occurrence (not attached to the master yet)."""
        master, slot = occurrence.master, occurrence.slot
        exception = Event(master.mailbox, master.core, "exception")
        exception.master, exception.original_start = master, occurrence.original_start
        exception.fields = copy.deepcopy(master.fields)
        if master.is_all_day:
            tz = master.recurrence["range"]["recurrenceTimeZone"]
            exception.set_times((slot.local_start, tz), (slot.local_end, tz), True)
        else:
            start_tz, end_tz = master.start[1], master.end[1]
            exception.set_times(
                (timezones.from_utc(slot.start_utc, start_tz), start_tz),
                (timezones.from_utc(slot.end_utc, end_tz), end_tz),
                False,
            )
        for name in (
            "is_organizer",
            "organizer",
            "response",
            "online_meeting",
            "online_meeting_provider",
            "original_start_tz",
            "original_end_tz",
            "is_cancelled",
            "created",
        ):
            setattr(exception, name, copy.deepcopy(getattr(master, name)))
        exception.ical_uid = master.ical_uid
        return exception

    def _check_boundaries(self, master, exception):
        """G.4 / A.2: a modified occurrence may not cross or overlap its neighbours."""
        previous, _slot, following = rec.find_slot(master, exception.original_start)

        def effective_start(slot):
            moved = master.exceptions.get(stamp(slot.original_start))
            return moved.start_utc if moved is not None else slot.start_utc

        if (previous and exception.start_utc <= effective_start(previous)) or (
            following and exception.start_utc >= effective_start(following)
        ):
            raise GraphError(
                400,
                "ErrorOccurrenceCrossingBoundary",
                "Modified occurrence is crossing or overlapping adjacent occurrence.",
            )

    # ------------------------------------------------------------------ delete / cancel

    def delete(self, mailbox, item, actor, comment=None):
        """DELETE (organizer: cancellation to every attendee; attendee: nothing is sent, H)."""
        with self.emu.lock:
            if isinstance(item, Occurrence) or item.kind == "exception":
                self._cancel_occurrence(item, actor)
                return
            mailbox.events.pop(item.core, None)
            if item.is_organizer and item.is_meeting() and not item.is_cancelled:
                self._send(actor, item, "cancellation", self.recipients(item))
                for copy_item in self._copies(item):
                    _cancel_copy(copy_item)

    def cancel(self, mailbox, item, actor, comment=None):
        """``POST …/cancel``: organizer only (else 400, H), then like an organizer DELETE."""
        source = item.master if isinstance(item, Occurrence) else item
        if not source.is_organizer:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            )
        self.delete(mailbox, item, actor, comment)

    def _cancel_occurrence(self, item, actor):
        master = item.master
        key = stamp(item.original_start)
        master.exceptions.pop(key, None)
        master.cancelled.add(key)
        master.touch()
        if master.is_organizer and master.is_meeting():
            self._send(actor, item if item.kind == "exception" else master, "cancellation", self.recipients(master))
            self._propagate(master)

    # ------------------------------------------------------------------ responses

    def respond(self, mailbox, item, response, actor, comment=None, send_response=True, proposed=None):
        """accept / tentativelyAccept / decline (H). Declined items stay in the calendar, ``showAs`` free."""
        if response not in RESPONSE_PREFIX:
            raise GraphError(400, "ErrorInvalidRequest", f"Unknown response '{response}'.")
        with self.emu.lock:
            source = item.master if isinstance(item, Occurrence) else item
            if source.is_organizer:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "Your request can't be completed. You can't respond to a meeting that you organized.",
                )
            if proposed is not None and (not send_response or not source.fields.get("allowNewTimeProposals", True)):
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "Your request can't be completed. A new time can only be "
                    "proposed with sendResponse true when the organizer allows new time proposals.",
                )
            target = item
            if isinstance(item, Occurrence):
                target = self._materialize(item)
                item.master.exceptions[stamp(target.original_start)] = target
            target.response = {"response": response, "time": timezones.format_utc(now_utc(), 0)}
            target.fields["showAs"] = SHOW_AS[response]
            target.touch()
            if target.kind == "exception":
                target.master.touch(target.modified)
            if send_response:
                organizer = (source.organizer.get("emailAddress") or {}).get("address", "")
                self._record(
                    actor,
                    "response",
                    mailbox.address,
                    organizer,
                    RESPONSE_PREFIX[response] + source.fields.get("subject", ""),
                    target,
                )
                if target.kind != "exception":
                    self._update_organizer_status(source, mailbox.address, target.response)

    def _update_organizer_status(self, copy_item, address, status):
        organizer = self.emu.store.mailbox((copy_item.organizer.get("emailAddress") or {}).get("address"))
        if organizer is None:
            return
        original = next(
            (e for e in organizer.events.values() if e.ical_uid == copy_item.ical_uid and e.is_organizer), None
        )
        if original is None:
            return
        for attendee in original.attendees():
            if attendee["emailAddress"]["address"].lower() == address.lower():
                attendee["status"] = dict(status)
                original.touch()

    # ------------------------------------------------------------------ messages

    @staticmethod
    def recipients(event):
        """Attendee addresses that receive the organizer's mail (the organizer excluded)."""
        own = event.mailbox.address.lower()
        seen, result = set(), []
        for address in event.attendee_addresses():
            if address and address.lower() != own and address.lower() not in seen:
                seen.add(address.lower())
                result.append(address)
        return result

    def _notify_update(self, actor, event, before, present, per_attendee):
        """Organizer PATCH (H): attendees-only -> added/removed only; meeting fields -> update to everyone;
        local-only fields (categories, reminder, showAs) -> nothing."""
        after = self.recipients(event)
        lowered_before, lowered_after = {a.lower() for a in before}, {a.lower() for a in after}
        added = [a for a in after if a.lower() not in lowered_before]
        removed = [a for a in before if a.lower() not in lowered_after]
        kept = [a for a in after if a.lower() in lowered_before]
        self._send(actor, event, "invitation", added)
        self._send(actor, event, "cancellation", removed)
        if present & (ev.SHARED - {"attendees"}):
            self._send(actor, event, "update", kept, count=per_attendee)

    def _send(self, actor, event, kind, addresses, count=1):
        prefix = {"cancellation": CANCELED, "update": "Updated: "}.get(kind, "")
        subject = prefix + event.fields.get("subject", "")
        for address in addresses:
            for _ in range(count):
                self._record(actor, kind, event.mailbox.address, address, subject, event)

    def _record(self, actor, kind, sender, recipient, subject, event):
        message = {
            "kind": kind,
            "from": sender,
            "to": recipient,
            "subject": subject,
            "event_id": event.id(True),
            "time": timezones.format_utc(now_utc()),
        }
        self.emu.record_message(message, by_app=actor == "app")

    # ------------------------------------------------------------------ attendee copies

    def _copies(self, organizer_event):
        found = []
        for address in self.recipients(organizer_event):
            mailbox = self.emu.store.mailbox(address)
            if mailbox is not None and mailbox is not organizer_event.mailbox:
                copy_item = self.find_copy(mailbox, organizer_event.ical_uid)
                if copy_item is not None:
                    found.append(copy_item)
        return found

    def _propagate(self, organizer_event, removed=()):
        """Deliver / refresh the copies in attendee mailboxes; cancel those of removed attendees."""
        for address in self.recipients(organizer_event):
            mailbox = self.emu.store.mailbox(address)
            if mailbox is not None and mailbox is not organizer_event.mailbox:
                _sync_copy(organizer_event, mailbox, self.find_copy(mailbox, organizer_event.ical_uid))
        for address in removed:
            mailbox = self.emu.store.mailbox(address)
            copy_item = self.find_copy(mailbox, organizer_event.ical_uid) if mailbox else None
            if copy_item is not None:
                _cancel_copy(copy_item)


def _instant(value):
    """date / datetime / ISO text -> aware UTC datetime."""
    if isinstance(value, str):
        return timezones.parse_query_instant(value, "instant")
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time(0))
    return value if value.tzinfo else value.replace(tzinfo=timezones.UTC)


def _snapshot(event):
    return copy.deepcopy(
        {
            k: getattr(event, k)
            for k in (
                "fields",
                "start",
                "end",
                "start_utc",
                "end_utc",
                "is_all_day",
                "recurrence",
                "extended",
                "online_meeting",
                "online_meeting_provider",
            )
        }
    )


def _restore(event, state):
    for key, value in state.items():
        setattr(event, key, value)


def _cancel_copy(copy_item):
    if copy_item.is_cancelled:
        return
    copy_item.is_cancelled = True
    subject = copy_item.fields.get("subject", "")
    if not subject.startswith(CANCELED):
        copy_item.fields["subject"] = CANCELED + subject
    copy_item.touch()


def _sync_copy(original, mailbox, copy_item):
    """Make ``mailbox``'s copy of ``original`` match it; local fields (categories, reminder, showAs, response,
    extended properties) are kept unless the time changed (then the attendee must answer again)."""
    if copy_item is None:
        copy_item = Event(mailbox, new_core(), original.kind)
        copy_item.fields = ev.defaults()
        copy_item.fields["showAs"] = "tentative"
        copy_item.is_organizer, copy_item.ical_uid = False, original.ical_uid
        copy_item.response = {"response": "notResponded", "time": ev.NO_TIME}
        copy_item.source_generation = None
        mailbox.events[copy_item.core] = copy_item
    moved = (copy_item.start_utc, copy_item.end_utc, copy_item.recurrence) != (
        original.start_utc,
        original.end_utc,
        original.recurrence,
    )
    if moved and copy_item.start_utc is not None:
        copy_item.response = {"response": "notResponded", "time": ev.NO_TIME}
        copy_item.fields["showAs"] = "tentative"
    for key in ev.SHARED - {"start", "end", "isAllDay", "recurrence"}:
        copy_item.fields[key] = copy.deepcopy(original.fields.get(key))
    copy_item.kind = original.kind
    copy_item.set_times(original.start, original.end, original.is_all_day)
    copy_item.recurrence = copy.deepcopy(original.recurrence)
    copy_item.organizer = original.mailbox.recipient()
    for name in ("online_meeting", "online_meeting_provider", "original_start_tz", "original_end_tz", "is_cancelled"):
        setattr(copy_item, name, copy.deepcopy(getattr(original, name)))
    same_series = getattr(copy_item, "source_generation", None) == original.generation
    if not same_series:
        copy_item.generation, copy_item.source_generation = new_generation(), original.generation
    own_exceptions = (
        {k: e for k, e in copy_item.exceptions.items() if k not in original.exceptions} if same_series else {}
    )
    copy_item.cancelled = set(original.cancelled) | (copy_item.cancelled if same_series else set())
    copy_item.exceptions = {
        key: _copy_exception(exc, copy_item, copy_item.exceptions.get(key)) for key, exc in original.exceptions.items()
    }
    copy_item.exceptions.update(own_exceptions)
    copy_item.touch()
    return copy_item


def _copy_exception(original, master_copy, previous):
    exception = Event(master_copy.mailbox, master_copy.core, "exception")
    exception.master, exception.original_start = master_copy, original.original_start
    exception.fields = copy.deepcopy(original.fields)
    exception.set_times(original.start, original.end, original.is_all_day)
    exception.is_organizer, exception.organizer = False, copy.deepcopy(master_copy.organizer)
    exception.ical_uid = master_copy.ical_uid
    keep = previous or master_copy
    exception.response = copy.deepcopy(keep.response)
    for key in ("categories", "isReminderOn", "reminderMinutesBeforeStart", "showAs"):
        exception.fields[key] = copy.deepcopy(keep.fields.get(key))
    for name in ("online_meeting", "online_meeting_provider", "original_start_tz", "original_end_tz", "is_cancelled"):
        setattr(exception, name, copy.deepcopy(getattr(original, name)))
    return exception


class OutlookSide:
    """The store operations behind :class:`emulator.control.OutlookActions` (immutable ids, UTC, raw view)."""

    def __init__(self, emu, meetings):
        self.emu, self.meetings = emu, meetings

    def _mailbox(self, address):
        return self.emu.store.require(address)

    def _render(self, item):
        data = render(item, View(), extended_filter=lambda prop: True)
        if getattr(item, "kind", "") == "seriesMaster":
            data["cancelledOccurrences"] = sorted(item.cancelled)
        return data

    def create(self, address, payload):  # pylint: disable=method-required-super # not an Odoo model
        payload = dict(payload)
        organizer = payload.pop("organizer", None)
        ical_uid = payload.pop("iCalUId", None)
        response = (payload.pop("responseStatus", None) or {}).get("response")
        if isinstance(organizer, str):
            organizer = {"address": organizer}
        elif isinstance(organizer, dict):
            organizer = organizer.get("emailAddress", organizer)
        if organizer is not None and not isinstance((organizer or {}).get("address"), str):
            raise ValueError("organizer must be an address or {'emailAddress': {'address': ...}}")
        event, _created = self.meetings.create(
            self._mailbox(address), payload, "outlook", organizer=organizer, ical_uid=ical_uid, response=response
        )
        with self.emu.lock:
            return self._render(event)

    def update(self, address, event_id, patch):
        mailbox = self._mailbox(address)
        item = self.meetings.update(mailbox, self.meetings.resolve(mailbox, event_id), patch, "outlook")
        with self.emu.lock:
            return self._render(item)

    def corrupt(self, address, event_id, properties, drop=()):
        mailbox = self._mailbox(address)
        if "id" in properties or "id" in drop:
            raise ValueError("a corrupted item keeps its id")
        with self.emu.lock:
            item = self.meetings.resolve(mailbox, event_id)
            item.wire_override = dict(properties)
            item.wire_drop = tuple(drop)
            item.touch()  # a change: delta lists it again
            return self._render(item)

    def delete(self, address, event_id):
        mailbox = self._mailbox(address)
        self.meetings.delete(mailbox, self.meetings.resolve(mailbox, event_id), "outlook")

    def cancel(self, address, event_id, comment=None):
        mailbox = self._mailbox(address)
        self.meetings.cancel(mailbox, self.meetings.resolve(mailbox, event_id), "outlook", comment)

    def respond(self, address, event_id, response, comment=None, send_response=True):
        mailbox = self._mailbox(address)
        self.meetings.respond(
            mailbox, self.meetings.resolve(mailbox, event_id), response, "outlook", comment, send_response
        )

    def get(self, address, event_id):
        mailbox = self._mailbox(address)
        with self.emu.lock:
            return self._render(self.meetings.resolve(mailbox, event_id))

    def instances(self, address, event_id, start, end):
        mailbox = self._mailbox(address)
        since, until = (_instant(value) for value in (start, end))
        with self.emu.lock:
            master = self.meetings.resolve(mailbox, event_id)
            if getattr(master, "kind", "") != "seriesMaster":
                return []
            return [self._render(item) for item in self.meetings.series_items(master, since, until)]

    def list(self, address):
        mailbox = self._mailbox(address)
        with self.emu.lock:
            result = []
            for event in sorted(mailbox.events.values(), key=lambda e: (e.start_utc, e.core)):
                result.append(self._render(event))
                result.extend(
                    self._render(e) for e in sorted(event.exceptions.values(), key=lambda e: e.original_start)
                )
            return result
