"""Microsoft Graph calls for one mailbox (graph-reference A-D). Knows nothing about Odoo.

Every request carries ``Prefer: IdType="ImmutableId"`` so event ids survive moves between folders
(graph-reference D.2), goes through the run's shared session, and maps error statuses to the typed
errors of :mod:`.errors`.
"""

import logging

import requests

from .errors import DeltaExpired, GraphError, ReauthRequired, Throttled, TransientError

_logger = logging.getLogger(__name__)

IMMUTABLE_ID = 'IdType="ImmutableId"'


def graph_error_body(resp):
    """``(code, message)`` of a Graph error response, tolerant of non-JSON bodies."""
    try:
        error = resp.json().get("error") or {}
    except ValueError:
        return None, (resp.text or "").strip()[:200]
    if isinstance(error, str):  # some gateways answer {"error": "..."}
        return error, error
    return error.get("code"), error.get("message") or ""


def retry_after_seconds(resp, default=5.0):
    value = resp.headers.get("Retry-After")
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return default


def raise_for_graph_status(resp):
    """Raise the typed error matching a Graph response, or return it when it succeeded."""
    if resp.status_code < 400:
        return resp
    code, message = graph_error_body(resp)
    text = "%s %s (HTTP %s)" % (code or "Error", message, resp.status_code)
    if resp.status_code == 401:
        raise ReauthRequired("Microsoft Graph refused the access token: %s" % text, error=code)
    if resp.status_code == 410 or (code or "").lower() in ("syncstatenotfound", "resyncrequired", "syncstateinvalid"):
        raise DeltaExpired("The Outlook sync state expired: %s" % text, status=resp.status_code, code=code)
    if resp.status_code == 429 or (resp.status_code == 503 and "Retry-After" in resp.headers):
        raise Throttled("Microsoft Graph is throttling: %s" % text, retry_after=retry_after_seconds(resp),
                        status=resp.status_code, code=code)
    if resp.status_code >= 500:
        raise TransientError("Microsoft Graph failed: %s" % text)
    raise GraphError("Microsoft Graph rejected the request: %s" % text, status=resp.status_code, code=code)


class GraphClient:
    """Graph v1.0 for the mailbox whose tokens ``get_token`` returns.

    :param session: the run's :class:`~.http.OutlookSession`
    :param graph_url: e.g. ``https://graph.microsoft.com/v1.0`` (the emulator plugs in here)
    :param get_token: callable returning a valid access token (MSAL refreshes behind it)
    """

    def __init__(self, session, graph_url, get_token, timeout=None):
        self.session = session
        self.graph_url = graph_url.rstrip("/")
        self.get_token = get_token
        self.timeout = timeout

    def _headers(self, extra_prefer=()):
        return {
            "Authorization": "Bearer %s" % self.get_token(),
            "Accept": "application/json",
            "Prefer": ", ".join((IMMUTABLE_ID, *extra_prefer)),
        }

    def _url(self, path_or_url):
        if path_or_url.startswith(("https://", "http://")):
            return path_or_url
        return "%s/%s" % (self.graph_url, path_or_url.lstrip("/"))

    def request(self, method, path_or_url, *, prefer=(), **kwargs):
        """Send one Graph request; return the response or raise a typed error."""
        try:
            resp = self.session.request(
                method, self._url(path_or_url), headers=self._headers(prefer), timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise TransientError("Cannot reach Microsoft Graph (%s)." % exc) from exc
        return raise_for_graph_status(resp)

    def get_json(self, path_or_url, **kwargs):
        resp = self.request("GET", path_or_url, **kwargs)
        try:
            return resp.json()
        except ValueError as exc:
            raise GraphError("Microsoft Graph sent a response that is not JSON.", status=resp.status_code) from exc

    def me(self):
        """The signed-in mailbox: ``{"id", "displayName", "mail", "userPrincipalName", ...}``."""
        return self.get_json("/me")
