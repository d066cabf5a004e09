"""Helpers shared by the Graph route modules: user-scoped routes, ``Prefer`` headers, OData paging links.

``Prefer`` handling follows graph-reference B.2 / D.2 / F: ``outlook.timezone``, ``outlook.body-content-type``,
``IdType="ImmutableId"``, ``odata.maxpagesize``; several preferences may share one header (RFC 7240) and the applied
ones are echoed in ``Preference-Applied``.
"""

import re
from urllib.parse import parse_qsl, quote, urlencode

from . import timezones
from .errors import GraphError

_PREFERENCE = re.compile(r'\s*([^=,;\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,;]*))?\s*[,;]?')


def add_user_route(router, method, suffix, handler, need="read"):
    """Register ``/v1.0/me{suffix}`` and ``/v1.0/users/{user}{suffix}``."""
    for prefix in ("/v1.0/me", "/v1.0/users/{user}"):
        router.add(method, prefix + suffix, handler, "graph", need=need)


def parse_prefer(header):
    """``Prefer`` header -> ``{lower-case name: value without quotes}``."""
    found = {}
    for name, value in _PREFERENCE.findall(header or ""):
        value = (value or "").strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        found[name.lower()] = value
    return found


class View:
    """How one request wants events shaped: id form, time zone, body type, page size."""

    def __init__(self, request=None):
        """``request=None``: the control API's view (immutable ids, UTC, HTML bodies)."""
        prefer = parse_prefer(request.headers.get("Prefer")) if request is not None else {"idtype": "immutableid"}
        self.applied = []
        self.immutable = prefer.get("idtype", "").lower() == "immutableid"
        if self.immutable:
            self.applied.append('IdType="ImmutableId"')
        self.tz = "UTC"
        wanted = prefer.get("outlook.timezone")
        if wanted and timezones.is_supported(wanted):  # unsupported names fall back to UTC, nothing applied
            self.tz = wanted
            self.applied.append(f'outlook.timezone="{wanted}"')
        self.text_body = prefer.get("outlook.body-content-type", "").lower() == "text"
        if "outlook.body-content-type" in prefer:
            self.applied.append(f'outlook.body-content-type="{"text" if self.text_body else "html"}"')
        self.max_page_size = None
        if prefer.get("odata.maxpagesize", "").isdigit() and int(prefer["odata.maxpagesize"]) > 0:
            self.max_page_size = int(prefer["odata.maxpagesize"])
        self.track_changes = "odata.track-changes" in prefer
        self.select = None
        self.expand_filter = None

    def headers(self, extra=()):
        applied = list(self.applied) + list(extra)
        return {"Preference-Applied": ", ".join(applied)} if applied else {}


def user_prefix(request):
    """``/v1.0/me`` or ``/v1.0/users/{user}`` exactly as the request spelled it (links keep that form)."""
    match = re.match(r"^(/v1\.0/(?:me|users/[^/]+))", request.path, re.IGNORECASE)
    return match.group(1) if match else "/v1.0/me"


def context_url(emu, mailbox, suffix):
    return f"{emu.graph_url}/$metadata#users('{mailbox.id}')/{suffix}"


def page_link(emu, request, **changes):
    """Absolute link to the same path with query parameters replaced (``None`` removes one)."""
    query = dict(parse_qsl(request.query_string, keep_blank_values=True))
    for key, value in changes.items():
        key = "$" + key[1:] if key.startswith("_") else key
        if value is None:
            query.pop(key, None)
        else:
            query[key] = str(value)
    text = urlencode(query, safe="$',():/", quote_via=quote)  # spaces as %20, like Graph
    return f"{emu.link_base}{request.path}" + (f"?{text}" if text else "")


def int_param(request, name, default, maximum=None):
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.")
    value = int(raw)
    return min(value, maximum) if maximum else value
