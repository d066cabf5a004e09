"""OAuth start and callback: parse, delegate to ``outlook.mailbox``, redirect (STYLE R9).

The MSAL flow (state, nonce, PKCE verifier) is kept in this browser's server-side Odoo session and
popped by the callback: it is bound to the session, to the user, and usable once.
"""

import logging
import time
from urllib.parse import urlsplit

from odoo import _, http
from odoo.http import request

from ..graph.errors import OutlookError, ReauthRequired

_logger = logging.getLogger(__name__)

SESSION_KEY = "outlook_auth_flow"
DEFAULT_RETURN = "/odoo/calendar"
FLOW_MAX_AGE = 30 * 60  # seconds a started sign-in stays valid in the session


def safe_return_path(value):
    """A same-origin path to come back to, or the Calendar: never an absolute or scheme-relative URL."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if not value.startswith("/") or value.startswith("//") or "\\" in value or parts.scheme or parts.netloc:
        return DEFAULT_RETURN
    return value


class OutlookAuthController(http.Controller):
    @http.route("/outlook_calendar_sync/connect", type="http", auth="user", methods=["GET"])
    def outlook_connect(self, return_to=None, **kwargs):
        """Start the sign-in: remember MSAL's flow in this session, send the browser to Microsoft."""
        refused = self._outlook_refuse_non_internal()
        if refused:
            return refused
        try:
            flow = request.env["outlook.mailbox"]._outlook_start_connect()
        except OutlookError as exc:
            return self._outlook_page(_("Outlook is not available"), exc.user_message(), status=503)
        request.session[SESSION_KEY] = {
            "flow": flow,
            "uid": request.session.uid,
            "return_to": safe_return_path(return_to),
            "started": time.time(),
        }
        return request.redirect(flow["auth_uri"], local=False)

    @http.route("/microsoft_account/authentication", type="http", auth="user", methods=["GET"])
    def outlook_oauth_callback(self, **params):
        """Microsoft's answer: a code (or an error) and our state."""
        refused = self._outlook_refuse_non_internal()
        if refused:
            return refused
        # Odoo saves the session, without the flow, only after this handler returned, and the handler flushes every
        # write of the connection (OutlookMailbox._outlook_finish_connect): when PostgreSQL refuses the transaction,
        # Odoo's retry finds the flow again, and the code already redeemed is not redeemed twice.
        stored = request.session.pop(SESSION_KEY, None)
        problem = self._outlook_flow_problem(stored, params)
        if problem:
            _logger.warning("outlook: rejected OAuth callback for user %s: %s", request.session.uid, problem)
            return self._outlook_page(_("This Outlook sign-in cannot be used"), problem, status=400)
        try:
            outcome = request.env["outlook.mailbox"]._outlook_finish_connect(stored["flow"], params)
        except ReauthRequired as exc:
            declined = exc.error == "access_denied"
            return self._outlook_page(
                _("Outlook was not connected"), exc.user_message(), status=200 if declined else 400
            )
        except OutlookError as exc:
            return self._outlook_page(_("Outlook was not connected"), exc.user_message(), status=400)
        _logger.info("outlook: mailbox %s connected", outcome.mailbox_id)
        return request.redirect(stored["return_to"])

    def _outlook_refuse_non_internal(self):
        """The page for a portal (or any non-internal) user, or ``None``: only internal users connect a mailbox."""
        if request.env.user._is_internal():
            return None
        _logger.warning("outlook: refused an Outlook connection to non-internal user %s", request.session.uid)
        return self._outlook_page(
            _("Outlook is not available"),
            _("Only internal users can connect an Outlook calendar."),
            status=403,
        )

    @staticmethod
    def _outlook_flow_problem(stored, params):
        """Why this callback must be refused, or ``None``."""
        restart = _("Start again from the Outlook button in Calendar.")
        if not stored or not isinstance(stored, dict) or not stored.get("flow"):
            problem = _("This sign-in was not started from this browser session, or it was already used.")
        elif stored.get("uid") != request.session.uid:
            problem = _("This sign-in was started by another Odoo user.")
        elif time.time() - stored.get("started", 0) > FLOW_MAX_AGE:
            problem = _("This sign-in took too long and expired.")
        elif not params.get("state") or params.get("state") != stored["flow"].get("state"):
            problem = _("The answer from Microsoft does not match the sign-in started here.")
        elif not params.get("code") and not params.get("error"):
            problem = _("Microsoft sent neither an authorization code nor an error.")
        else:
            return None
        return f"{problem} {restart}"

    @staticmethod
    def _outlook_page(title, message, status):
        page = request.render(
            "outlook_calendar_sync.connect_result",
            {"title": title, "message": message, "back_url": DEFAULT_RETURN},
        )
        page.status_code = status
        return page
