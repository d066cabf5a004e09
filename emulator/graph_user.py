"""``/me``, the default calendar (graph-reference K: "/me", calendars) and the master list of categories."""

import uuid

from .errors import GraphError, bad_request, not_found
from .graph_common import add_user_route
from .server import json_response

CATEGORY_COLORS = {"none", *(f"preset{n}" for n in range(25))}


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

    def master_categories(request):
        mailbox = request.context["mailbox"]
        context = f"{emu.graph_url}/$metadata#users('{mailbox.id}')/outlook/masterCategories"
        with emu.lock:
            return json_response({"@odata.context": context, "value": [dict(c) for c in mailbox.master_categories]})

    def create_master_category(request):
        """displayName is unique in the master list, case-insensitively (outlookCategory resource); the error a
        duplicate gets is not documented: 409 here."""
        mailbox = request.context["mailbox"]
        body = request.json()
        name = body.get("displayName") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise bad_request("The displayName of a category is required.")
        color = body.get("color") or "none"
        if color not in CATEGORY_COLORS:
            raise bad_request(f"Invalid value '{color}' for property 'color'.")
        with emu.lock:
            if any(c["displayName"].lower() == name.lower() for c in mailbox.master_categories):
                raise GraphError(409, "ErrorItemAlreadyExists", "A category with this name already exists.")
            category = {"id": str(uuid.uuid4()), "displayName": name, "color": color}
            mailbox.master_categories.append(category)
        context = f"{emu.graph_url}/$metadata#users('{mailbox.id}')/outlook/masterCategories/$entity"
        return json_response(dict({"@odata.context": context}, **category), status=201)

    add_user_route(router, "GET", "", me, need="user")
    add_user_route(router, "GET", "/outlook/masterCategories", master_categories, need="settings_read")
    add_user_route(router, "POST", "/outlook/masterCategories", create_master_category, need="settings_write")
    add_user_route(router, "GET", "/calendar", calendar)
    add_user_route(router, "GET", "/calendars", calendars)
    add_user_route(router, "GET", "/calendars/{calendar_id}", one_calendar)
