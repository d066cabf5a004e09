"""Microsoft Graph change-notification webhooks (graph-reference E): parse, delegate, answer (STYLE R9).

Public routes (``auth="none"``, no CSRF: Microsoft calls them, not a browser; read/write, as Odoo 18 makes
``auth="none"`` routes read-only by default; no session cookie). They never call Graph and never sync: a valid
notification only marks its mailbox and triggers the sync cron, so Graph gets its
answer well within its 3-second budget.

Answers:

* ``?validationToken=…`` (subscription creation, both URLs): ``200 text/plain`` with the decoded token.
* a well-formed body ``{"value": [...]}``: ``202``, even when some or all items are ignored (unknown
  subscription, wrong ``clientState``): those are logged and counted on the subscription; a 4xx would only
  make Graph retry the same notification for hours.
* anything else (not JSON, no ``value`` list, too large): ``400`` (``413`` over 1 MB). Graph never sends
  those, so nothing retries them.
"""

import json
import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_ITEMS = 1000
MAX_TOKEN = 1024
# Microsoft calls these, not a browser: no CSRF, no session; read/write (Odoo 18 makes auth="none" read-only)
WEBHOOK_ROUTE = {
    "type": "http",
    "auth": "none",
    "methods": ["POST"],
    "csrf": False,
    "readonly": False,
    "save_session": False,
}


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
        """Answer Graph's validation handshake, or hand the request's items to ``outlook.subscription``'s
        method ``receive`` and acknowledge them (202)."""
        if validation_token is not None:
            return self._outlook_echo(validation_token)
        items = self._outlook_items()
        if isinstance(items, http.Response):
            return items
        getattr(request.env["outlook.subscription"], receive)(items)
        return request.make_response("", status=202)

    @staticmethod
    def _outlook_echo(token):
        """The validation handshake: the token, decoded, as plain text (never HTML)."""
        if len(token) > MAX_TOKEN:
            return request.make_response("", status=400)
        return request.make_response(
            token, headers=[("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
        )

    @staticmethod
    def _outlook_items():
        """The notifications of the body (dicts), or the error response to send."""
        if (request.httprequest.content_length or 0) > MAX_BODY:
            return request.make_response("", status=413)
        try:
            body = json.loads(request.httprequest.get_data(cache=False, as_text=False) or b"null")
        except (UnicodeDecodeError, ValueError):
            body = None
        items = body.get("value") if isinstance(body, dict) else None
        if not isinstance(items, list):
            _logger.info('outlook: refused a notification request that is not Graph\'s {"value": [...]}')
            return request.make_response("", status=400)
        return [item for item in items[:MAX_ITEMS] if isinstance(item, dict)]
