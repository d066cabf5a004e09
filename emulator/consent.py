"""Play the user on the emulator's consent page over real HTTPS (stdlib only).

Tests and launchers get an ``auth_uri`` from MSAL's ``initiate_auth_code_flow`` (graph-reference I.3); this helper
GETs it, picks the account, posts Accept/Decline and returns what the browser would bring back to ``redirect_uri``.
"""

import http.client
import re
import ssl
from html import unescape
from urllib.parse import parse_qsl, urlencode, urlsplit

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_OPTION = re.compile(r'<option value="([^"]*)"')
_ACTION = re.compile(r'<form method="(?:post|POST)"[^>]* action="([^"]*)"')
_ERROR = re.compile(r'id="error">([^<]*)<')


class ConsentError(RuntimeError):
    """The authorize endpoint showed an error page instead of the consent page."""


def _connection(parts, ca_path, timeout):
    context = ssl.create_default_context(cafile=ca_path)
    return http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context, timeout=timeout)


def _callback_params(response, body):
    if response.status == 302:
        location = response.getheader("Location") or ""
        parts = urlsplit(location)
        return location, dict(parse_qsl(parts.fragment or parts.query, keep_blank_values=True))
    if response.status == 200 and "hiddenform" in body:
        action = unescape(_ACTION.search(body).group(1))
        return action, {unescape(k): unescape(v) for k, v in _HIDDEN.findall(body)}
    match = _ERROR.search(body)
    raise ConsentError(unescape(match.group(1)) if match else f"unexpected answer {response.status}")


def consent_redirect(auth_uri, ca_path, account=None, decision="accept", timeout=10):
    """:return: ``(redirect target URL, params)``; for query mode the URL already carries the params"""
    parts = urlsplit(auth_uri)
    connection = _connection(parts, ca_path, timeout)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        if response.status != 200 or 'name="request_id"' not in body:
            return _callback_params(response, body)
        fields = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(body)}
        options = [unescape(v) for v in _OPTION.findall(body)]
        chosen = account or fields.get("account") or (options[0] if options else "")
        form = urlencode({"request_id": fields["request_id"], "account": chosen, "decision": decision})
        connection.request(
            "POST", unescape(_ACTION.search(body).group(1)), form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        response = connection.getresponse()
        return _callback_params(response, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


def drive_consent(auth_uri, ca_path, account=None, decision="accept", timeout=10):
    """:return: the params the browser brings to ``redirect_uri`` (``code``/``state``/... or ``error``...)"""
    return consent_redirect(auth_uri, ca_path, account, decision, timeout)[1]
