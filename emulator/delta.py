"""``GET /me/calendarView/delta`` with generation-based sync states (graph-reference B).

* First call needs ``startDateTime``/``endDateTime`` (400 ``ErrorInvalidParameter`` otherwise, B.2); ``$select``,
  ``$filter``, ``$expand``, ``$orderby``, ``$search``, ``$top`` are refused (B.2: not supported).
* Pages: ``Prefer: odata.maxpagesize`` (capped by the ``delta_max_page_size`` knob; ``delta_page_size`` when absent),
  absolute ``@odata.nextLink`` with ``$skiptoken``, last page ``@odata.deltaLink`` with ``$deltatoken`` (B.3), built on
  the ``link_host`` knob (L). A series is never split across pages, so a page may exceed the size (B.4 Obs).
* Items: single instances, exceptions and series masters in full; occurrences bare (B.4 Obs); deletions and items
  that left the window as ``{"@odata.type", "id", "@removed": {"reason": "deleted"}}`` (B.3).
* Later rounds report only what changed since the token's generation. Each sync state keeps its newest
  ``delta_generations`` (3) generations; older tokens and :func:`expire_tokens` answer 410 ``SyncStateNotFound``
  "The sync state generation is not found; generation=…" (B.6 Obs).
"""

import base64
import collections
import json
import secrets

from .errors import GraphError
from .graph_common import View, add_user_route
from .graph_events import window
from .meetings import overlaps
from .render import bare, render
from .server import json_response
from .store import format_id, stamp

UNSUPPORTED = ("$select", "$filter", "$expand", "$orderby", "$search", "$top")
MAX_STATES_PER_MAILBOX = 50


class SyncState:
    """One delta chain: a mailbox, a window, and the snapshots of its newest generations."""

    def __init__(self, address, since, until):
        self.id = secrets.token_urlsafe(12)
        self.address, self.since, self.until = address.lower(), since, until
        self.snapshots = collections.OrderedDict()  # generation -> {key: version}
        self.pages = {}  # generation -> [[entry, ...], ...]
        self.highest = 0


def routes(router, emu):
    handler = DeltaAPI(emu).delta
    for base in ("/calendarView/delta", "/calendar/calendarView/delta", "/calendars/{calendar_id}/calendarView/delta"):
        add_user_route(router, "GET", base, handler)


def expire_tokens(emu, address=None):
    """Forget every sync state (of one mailbox): their tokens now answer 410."""
    with emu.lock:
        states = emu.delta_states
        doomed = [key for key, state in states.items() if address is None or state.address == address.lower()]
        for key in doomed:
            del states[key]
        return len(doomed)


def _encode(*parts):
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token):
    try:
        parts = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        raise GraphError(400, "ErrorInvalidParameter", "The sync state token is not valid.") from None
    if not isinstance(parts, list) or len(parts) not in (2, 3):
        raise GraphError(400, "ErrorInvalidParameter", "The sync state token is not valid.")
    return parts


class DeltaAPI:
    def __init__(self, emu):
        self.emu = emu
        self.states = emu.delta_states

    def delta(self, request, calendar_id=None):
        mailbox = request.context["mailbox"]
        if calendar_id is not None and calendar_id != mailbox.calendar_id:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        view = View(request)
        with self.emu.lock:
            if request.query.get("$skiptoken"):
                state, generation, page = self._lookup(_decode(request.query["$skiptoken"]), mailbox)
            elif request.query.get("$deltatoken"):
                state, generation, _page = self._lookup(_decode(request.query["$deltatoken"]), mailbox)
                generation, page = self._new_round(state, mailbox, state.snapshots[generation], view), 0
            else:
                state, generation, page = self._start(request, mailbox, view), 1, 0
            return self._answer(request, view, state, generation, page)

    def _start(self, request, mailbox, view):
        refused = [name for name in UNSUPPORTED if name in request.query]
        if refused:
            raise GraphError(
                400,
                "ErrorInvalidUrlQuery",
                "The following parameters are not supported with change "
                f"tracking over the 'Events' resource: '{', '.join(refused)}'.",
            )
        since, until = window(request)
        state = SyncState(mailbox.address, since, until)
        mine = [s for s in self.states.values() if s.address == state.address]
        if len(mine) >= MAX_STATES_PER_MAILBOX:
            del self.states[mine[0].id]
        self.states[state.id] = state
        self._new_round(state, mailbox, {}, view)
        return state

    def _lookup(self, parts, mailbox):
        state = self.states.get(parts[0])
        generation = parts[1]
        if state is None or state.address != mailbox.address.lower() or generation not in state.snapshots:
            kept = "".join(f"[{g}]" for g in (state.snapshots if state else []))
            highest = state.highest if state else generation
            raise GraphError(
                410,
                "SyncStateNotFound",
                f"The sync state generation is not found; generation={generation};[highest={highest}]{kept}",
            )
        return state, generation, (parts[2] if len(parts) == 3 else 0)

    def _new_round(self, state, mailbox, previous, view):
        """Diff the window against ``previous``; store the new generation's snapshot and pages."""
        units, snapshot = self._units(mailbox, state)
        changes = []
        for unit in units:
            changed = [entry for entry in unit if previous.get(entry[0]) != entry[1]]
            if changed:
                changes.append(changed)
        changes.extend([(key, None, "removed", None)] for key in previous if key not in snapshot)
        state.highest += 1
        generation = state.highest
        state.snapshots[generation] = snapshot
        state.pages[generation] = self._paginate(changes, self._page_size(view))
        while len(state.snapshots) > int(self.emu.settings["delta_generations"]):
            old, _snapshot = state.snapshots.popitem(last=False)
            state.pages.pop(old, None)
        return generation

    def _units(self, mailbox, state):
        """Current window content grouped per series: ``[(key, version, kind, item), ...]`` per unit."""
        units, snapshot = [], {}
        meetings = self.emu.meetings
        for event in sorted(mailbox.events.values(), key=lambda e: (e.start_utc, e.core)):
            master_key = (event.core, None)
            if event.kind == "seriesMaster":
                items = meetings.series_items(event, state.since, state.until)
                if not items:
                    continue
                unit = [(master_key, event.change_key, "item", event)]
                for item in items:
                    key = (event.core, (event.generation, _stamp(item)))
                    if item.kind == "occurrence":
                        unit.append((key, (item.start_utc, item.end_utc), "occurrence", item))
                    else:
                        unit.append((key, item.change_key, "item", item))
            elif _overlaps(event, state):
                unit = [(master_key, event.change_key, "item", event)]
            else:
                continue
            units.append(unit)
            snapshot.update((entry[0], entry[1]) for entry in unit)
        return units, snapshot

    @staticmethod
    def _paginate(changes, size):
        pages, current = [], []
        for unit in changes:
            if current and len(current) + len(unit) > size:
                pages.append(current)
                current = []
            current.extend(unit)
        pages.append(current)
        return pages

    def _page_size(self, view):
        if view.max_page_size:
            return min(view.max_page_size, int(self.emu.settings["delta_max_page_size"]))
        return int(self.emu.settings["delta_page_size"])

    def _answer(self, request, view, state, generation, page):
        pages = state.pages[generation]
        if not 0 <= page < len(pages):
            raise GraphError(400, "ErrorInvalidParameter", "The sync state token is not valid.")
        body = {
            "@odata.context": f"{self.emu.graph_url}/$metadata#Collection(event)",
            "value": [self._entry(entry, view) for entry in pages[page]],
        }
        base = f"{self.emu.link_base}{request.path}"
        if page + 1 < len(pages):
            body["@odata.nextLink"] = f"{base}?$skiptoken={_encode(state.id, generation, page + 1)}"
        else:
            body["@odata.deltaLink"] = f"{base}?$deltatoken={_encode(state.id, generation)}"
        extra = []
        if view.max_page_size:
            extra.append(f"odata.maxpagesize={self._page_size(view)}")
        if view.track_changes:
            extra.append("odata.track-changes")
        return json_response(body, 200, view.headers(extra))

    @staticmethod
    def _entry(entry, view):
        (core, occurrence), _version, kind, item = entry
        identifier = format_id(core, view.immutable, occurrence)
        if kind == "removed":
            return {"@odata.type": "#microsoft.graph.event", "id": identifier, "@removed": {"reason": "deleted"}}
        if kind == "occurrence":
            data = bare(item, view)
        else:
            data = dict({"@odata.type": "#microsoft.graph.event"}, **render(item, view))
        data["id"] = identifier
        return data


def _stamp(item):
    return item.slot.stamp if item.kind == "occurrence" else stamp(item.original_start)


def _overlaps(event, state):
    return overlaps(event.start_utc, event.end_utc, state.since, state.until)
