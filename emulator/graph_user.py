"""``/me`` and the default calendar (graph-reference K: "/me", calendars)."""

from .errors import not_found
from .graph_common import add_user_route
from .server import json_response


def routes(router, emu):
    def me(request):
        mailbox = request.context["mailbox"]
        context = f"{emu.graph_url}/$metadata#users/$entity"
        return json_response(dict({"@odata.context": context}, **mailbox.user_json()))

    def calendar(request):
        mailbox = request.context["mailbox"]
        context = f"{emu.graph_url}/$metadata#users('{mailbox.id}')/calendar/$entity"
        return json_response(dict({"@odata.context": context}, **mailbox.calendar_json()))

    def calendars(request):
        mailbox = request.context["mailbox"]
        context = f"{emu.graph_url}/$metadata#users('{mailbox.id}')/calendars"
        return json_response({"@odata.context": context, "value": [mailbox.calendar_json()]})

    def one_calendar(request, calendar_id):
        mailbox = request.context["mailbox"]
        if calendar_id != mailbox.calendar_id:
            raise not_found()
        return calendar(request)

    add_user_route(router, "GET", "", me, need="user")
    add_user_route(router, "GET", "/calendar", calendar)
    add_user_route(router, "GET", "/calendars", calendars)
    add_user_route(router, "GET", "/calendars/{calendar_id}", one_calendar)
