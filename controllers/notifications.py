"""Microsoft Graph change-notification webhooks (graph-reference E): parse, delegate, answer (STYLE R9).

Public routes (``auth="none"``, no CSRF: Microsoft calls them, not a browser; read/write, as Odoo 18 makes
``auth="none"`` routes read-only by default; no session cookie). They never call Graph and never sync: a valid
notification is only written down (``outlook.notification.inbox``, one insert, no row that another request
updates) and the sync cron triggered, so Graph gets its answer well within its 3-second budget.

The body is read once, before Odoo parses any form out of it (``ir.http._pre_dispatch``, models/ir_http.py), and
at most :data:`MAX_BODY` + 1 bytes of it, whatever the headers say (chunked, no or a false Content-Length); the
bytes read are kept on the request, so Odoo's retry after a serialization failure reads the same body again.

Answers:

* ``?validationToken=…`` (subscription creation, both URLs): ``200 text/plain`` with the decoded token.
* a well-formed body ``{"value": [...]}``: ``202``, even when some or all items are ignored (unknown
  subscription, wrong ``clientState``): those are logged and counted on the subscription; a 4xx would only
  make Graph retry the same notification for hours.
* over 1 MB: ``413``, without reading the rest. Anything else that is not Graph's JSON (not UTF-8, nested too
  deeply, a wrong type anywhere, duplicate keys...: :func:`~..graph.notifications.parse_notifications`): ``400``,
  one log line, nothing written. Graph never sends those, so nothing retries them.
"""

import logging

from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import ClientDisconnected

from odoo import http
from odoo.http import request

from ..graph.notifications import MAX_BODY, MalformedNotifications, parse_notifications

_logger = logging.getLogger(__name__)

MAX_TOKEN = 1024
READ_SIZE = 64 * 1024  # bytes read from the socket at a time
BODY_KEY = "outlook_calendar_sync.webhook_body"  # where the body read once waits for Odoo's retries
# Microsoft calls these, not a browser: no CSRF, no session; read/write (Odoo 18 makes auth="none" read-only);
# outlook_webhook: models/ir_http.py reads the body before Odoo's own form parsing could
WEBHOOK_ROUTE = {
    "type": "http",
    "auth": "none",
    "methods": ["POST"],
    "csrf": False,
    "readonly": False,
    "save_session": False,
    "outlook_webhook": True,
}


def webhook_body(httprequest):
    """This request's body, read once: ``(bytes, None)``, or ``(None, status)`` to answer (413 too large, 400
    cut short). Later calls (Odoo's retries of the request) get the same answer without reading again."""
    environ = httprequest.environ  # Odoo's copy of the WSGI environ: one per request, kept across retries
    if BODY_KEY not in environ:
        environ[BODY_KEY] = _read_body(httprequest)
    return environ[BODY_KEY]


def _read_body(httprequest):
    # Odoo's request wraps werkzeug's, whose input stream it does not expose
    wsgi_request = getattr(httprequest, "_HTTPRequest__wrapped", httprequest)
    # werkzeug would parse a form (any size, chunked too) out of a form-typed body before the controller
    # runs: this route has no form
    wsgi_request.form = ImmutableMultiDict()
    wsgi_request.files = ImmutableMultiDict()
    if (wsgi_request.content_length or 0) > MAX_BODY:
        return None, 413  # said too large: nothing read
    stream, parts, size = wsgi_request.stream, [], 0
    try:
        while size <= MAX_BODY:
            part = stream.read(min(READ_SIZE, MAX_BODY + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
    except (ClientDisconnected, OSError) as exc:  # cut short, a bad chunk header, a time-out
        _logger.info("outlook: refused a notification request whose body could not be read (%s)", exc)
        return None, 400
    if size > MAX_BODY:
        return None, 413  # the rest is never read
    return b"".join(parts), None


class OutlookNotificationController(http.Controller):
    @http.route("/outlook_calendar_sync/notify", **WEBHOOK_ROUTE)
    def outlook_notify(self, validationToken=None, **kwargs):  # Graph names it so
        """Change notifications of the mailboxes' events."""
        return self._outlook_accept(validationToken, "_outlook_receive_changes")

    @http.route("/outlook_calendar_sync/lifecycle", **WEBHOOK_ROUTE)
    def outlook_lifecycle(self, validationToken=None, **kwargs):  # Graph names it so
        """Lifecycle notifications: reauthorizationRequired, missed, subscriptionRemoved."""
        return self._outlook_accept(validationToken, "_outlook_receive_lifecycle")

    def _outlook_accept(self, validation_token, receive):
        """Answer Graph's validation handshake, or hand the request's notifications to ``outlook.subscription``'s
        method ``receive`` and acknowledge them (202)."""
        if validation_token is not None:
            return self._outlook_echo(validation_token)
        body, status = webhook_body(request.httprequest)
        if status:
            return request.make_response("", status=status)
        try:
            notifications = parse_notifications(body)
        except MalformedNotifications as exc:
            _logger.info("outlook: refused a notification request: %s", exc)
            return request.make_response("", status=400)
        getattr(request.env["outlook.subscription"], receive)(notifications)
        return request.make_response("", status=202)

    @staticmethod
    def _outlook_echo(token):
        """The validation handshake: the token, decoded, as plain text (never HTML)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN:
            return request.make_response("", status=400)
        return request.make_response(
            token, headers=[("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
        )
