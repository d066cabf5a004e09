"""Graph event routes: ``/me/events`` CRUD, ``instances``, responses, ``cancel``, ``calendarView``.

graph-reference A (POST 201 / PATCH 200 full event, 404 ``ErrorItemNotFound``), D.1 (``transactionId``), D.3
(``$filter`` on extended properties, ``$expand``), G.4 (``instances`` = occurrences + exceptions in range, cancelled
ones excluded), H (accept / tentativelyAccept / decline / cancel -> 202), B.2/B.4 (``calendarView`` needs
``startDateTime``/``endDateTime``; expanded occurrences with full properties, no master; default page size 10).
Also reachable as ``/users/{id|upn}/…`` and under ``/me/calendar/…`` and ``/me/calendars/{id}/…``.
"""

from . import odata
from .errors import GraphError, not_found
from .graph_common import View, add_user_route, context_url, int_param, page_link
from .render import render, select
from .server import Response, json_response
from .timezones import parse_query_instant

WINDOW_MESSAGE = (
    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime."
)
EVENT_PROPERTIES = {
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "onlineMeeting",
    "originalStart",
    "singleValueExtendedProperties",
}
RESPONSES = {"accept": "accepted", "tentativelyAccept": "tentativelyAccepted", "decline": "declined"}
COLLECTIONS = ("/events", "/calendar/events", "/calendars/{calendar_id}/events")


def routes(router, emu):
    api = EventsAPI(emu)
    for base in COLLECTIONS:
        add_user_route(router, "GET", base, api.list_events)
        add_user_route(router, "POST", base, api.create_event, need="write")
        item = base + "/{event_id}"
        add_user_route(router, "GET", item, api.get_event)
        add_user_route(router, "PATCH", item, api.update_event, need="write")
        add_user_route(router, "DELETE", item, api.delete_event, need="write")
        add_user_route(router, "GET", item + "/instances", api.instances)
        for action in RESPONSES:
            add_user_route(router, "POST", f"{item}/{action}", api.respond(action), need="write")
        add_user_route(router, "POST", item + "/cancel", api.cancel, need="write")
    for base in ("/calendarView", "/calendar/calendarView", "/calendars/{calendar_id}/calendarView"):
        add_user_route(router, "GET", base, api.calendar_view)


def window(request, required=True):
    start, end = request.query.get("startDateTime"), request.query.get("endDateTime")
    if not start or not end:
        if required:
            raise GraphError(400, "ErrorInvalidParameter", WINDOW_MESSAGE)
        return None, None
    since, until = parse_query_instant(start, "startDateTime"), parse_query_instant(end, "endDateTime")
    if until < since:
        raise GraphError(
            400, "ErrorInvalidParameter", "The parameter 'EndDateTime' must be later than 'StartDateTime'."
        )
    return since, until


class EventsAPI:
    def __init__(self, emu):
        self.emu = emu
        self.meetings = emu.meetings

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _mailbox(request, calendar_id=None):
        mailbox = request.context["mailbox"]
        if calendar_id is not None and calendar_id != mailbox.calendar_id:
            raise not_found()
        return mailbox

    def _shape(self, request, view):
        view.select = odata.parse_select(request.query.get("$select"), EVENT_PROPERTIES)
        view.expand_filter = odata.parse_expand(request.query.get("$expand"))
        return view

    def _one(self, request, mailbox, item, view, status=200, extra_headers=None):
        data = select(render(item, view, view.expand_filter), view.select)
        body = dict({"@odata.context": context_url(self.emu, mailbox, "events/$entity")}, **data)
        return json_response(body, status, dict(view.headers(), **(extra_headers or {})))

    def _page(self, request, mailbox, items, view, default_size):
        """Render a list with ``$filter``/``$orderby``/``$top``/``$skip`` and an absolute ``@odata.nextLink``."""
        tree = odata.parse_filter(request.query["$filter"]) if request.query.get("$filter") else None
        order = odata.parse_orderby(request.query.get("$orderby"))
        size = int_param(request, "$top", view.max_page_size or default_size, int(self.emu.settings["max_top"]))
        size = size or default_size
        skip = int_param(request, "$skip", 0)
        if tree is not None or order:
            pairs = [(item, render(item, view, view.expand_filter)) for item in items]
            if tree is not None:
                pairs = [(i, d) for i, d in pairs if odata.evaluate(tree, self._filter_view(i, d))]
            rendered = odata.sort_items([d for _i, d in pairs], order)
            total, chosen = len(rendered), rendered[skip : skip + size]
        else:
            total = len(items)
            chosen = [render(item, view, view.expand_filter) for item in items[skip : skip + size]]
        body = {
            "@odata.context": context_url(self.emu, mailbox, "events"),
            "value": [select(data, view.select) for data in chosen],
        }
        if skip + size < total:
            body["@odata.nextLink"] = page_link(self.emu, request, **{"_skip": skip + size})
        return json_response(body, 200, view.headers())

    @staticmethod
    def _filter_view(item, data):
        holder = item.master if item.kind == "occurrence" else item
        return dict(data, singleValueExtendedProperties=[dict(p) for p in holder.extended.values()])

    # ------------------------------------------------------------------ routes

    def list_events(self, request, calendar_id=None):
        """Single instances and series masters (occurrences only through calendarView / instances)."""
        mailbox = self._mailbox(request, calendar_id)
        view = self._shape(request, View(request))
        with self.emu.lock:
            items = sorted(mailbox.events.values(), key=lambda e: (e.created, e.core))
            return self._page(request, mailbox, items, view, int(self.emu.settings["list_page_size"]))

    def create_event(self, request, calendar_id=None):
        mailbox = self._mailbox(request, calendar_id)
        view = View(request)
        payload = request.json()
        with self.emu.lock:
            event, _created = self.meetings.create(mailbox, payload, "app")
            location = f"{self.emu.graph_url}/users('{mailbox.id}')/events('{event.id(view.immutable)}')"
            return self._one(request, mailbox, event, view, 201, {"Location": location})

    def get_event(self, request, event_id, calendar_id=None):
        mailbox = self._mailbox(request, calendar_id)
        view = self._shape(request, View(request))
        with self.emu.lock:
            return self._one(request, mailbox, self.meetings.resolve(mailbox, event_id), view)

    def update_event(self, request, event_id, calendar_id=None):
        mailbox = self._mailbox(request, calendar_id)
        view = View(request)
        patch = request.json()
        with self.emu.lock:
            item = self.meetings.resolve(mailbox, event_id)
            changed = self.meetings.update(mailbox, item, patch, "app", if_match=request.headers.get("If-Match"))
            return self._one(request, mailbox, changed, view)

    def delete_event(self, request, event_id, calendar_id=None):
        mailbox = self._mailbox(request, calendar_id)
        with self.emu.lock:
            item = self.meetings.resolve(mailbox, event_id)
            self.meetings.check_etag(item, request.headers.get("If-Match"))
            self.meetings.delete(mailbox, item, "app")
        return Response(204)

    def respond(self, action):
        def handler(request, event_id, calendar_id=None):
            mailbox = self._mailbox(request, calendar_id)
            body = request.json() if request.body.strip() else {}
            send = body.get("sendResponse", True)
            if not isinstance(send, bool):
                raise GraphError(
                    400,
                    "RequestBodyRead",
                    "Cannot convert a primitive value to the expected type 'Edm.Boolean' (sendResponse).",
                )
            with self.emu.lock:
                item = self.meetings.resolve(mailbox, event_id)
                self.meetings.respond(
                    mailbox, item, RESPONSES[action], "app", body.get("comment"), send, body.get("proposedNewTime")
                )
            return Response(202)

        handler.__name__ = action
        return handler

    def cancel(self, request, event_id, calendar_id=None):
        mailbox = self._mailbox(request, calendar_id)
        body = request.json() if request.body.strip() else {}
        with self.emu.lock:
            item = self.meetings.resolve(mailbox, event_id)
            self.meetings.cancel(mailbox, item, "app", body.get("comment"))
        return Response(202)

    def instances(self, request, event_id, calendar_id=None):
        mailbox = self._mailbox(request, calendar_id)
        since, until = window(request)
        view = self._shape(request, View(request))
        with self.emu.lock:
            master = self.meetings.resolve(mailbox, event_id)
            items = self.meetings.series_items(master, since, until) if master.kind == "seriesMaster" else []
            return self._page(request, mailbox, items, view, int(self.emu.settings["list_page_size"]))

    def calendar_view(self, request, calendar_id=None):
        mailbox = self._mailbox(request, calendar_id)
        since, until = window(request)
        view = self._shape(request, View(request))
        with self.emu.lock:
            items = self.meetings.expand(mailbox, since, until)
            return self._page(request, mailbox, items, view, int(self.emu.settings["list_page_size"]))
