"""Keep credentials out of log lines, whoever writes them (defense in depth).

The add-on's own code never logs a token, and keeps token material out of every SQL statement that Odoo prints
when it fails (``models/outlook_mailbox_token.py``). Lines written by others can still carry credentials:

* ``odoo.sql_db`` prints a failed statement with its parameters ("bad query"), and every statement at DEBUG;
* ``werkzeug`` writes each request line with its query string: the OAuth callback's ``?code=...``, or the same URL
  percent-encoded in ``/web/login?redirect=...`` when the session had expired;
* ``odoo.http`` and ``odoo.http.rpc.*`` print exceptions and, in the debug log levels, RPC parameters (such as the
  client secret typed in the settings form);
* any library's exception text may quote a token response.

:class:`RedactingFilter` rewrites a record's message and traceback, replacing what is shaped like a credential by
``[redacted]``: JWTs (access and ID tokens), ``Bearer`` values, the ``secret`` fields of an MSAL token cache, and
the values of keys and URL parameters named like OAuth credentials (``code``, ``client_secret``, ``refresh_token``,
...). It never drops a line: the failure stays visible, without its secret.

Where it is installed (:func:`install`), and why that is robust: as a *logger* filter of the loggers above, it runs
when the record is created, before propagation and before any handler, so every handler (the console, a log file,
syslog, ``ir.logging``, one added later) receives the redacted record; as a *handler* filter of the root logger's
handlers it is the backstop for every other logger. Opaque tokens in a line that names nothing (a bare refresh token)
cannot be recognized by their shape: the code must never log one, and the test suite's log guard checks that.
"""

import logging
import re

MARK = "[redacted]"

# Odoo's and the libraries' loggers that print SQL parameters, URLs or request/response bodies.
LOGGERS = (
    "odoo.sql_db",
    "werkzeug",
    "odoo.http",
    "odoo.http.rpc.request",
    "odoo.http.rpc.response",
    "odoo.service.server",
    "urllib3.connectionpool",
    "msal",
    "msal.application",
    "msal.token_cache",
)

# Keys whose value is a credential wherever it stands: JSON ("secret": "..."), a Python repr, an SQL assignment
# ("builtin_refresh_token" = '...') or a header-like "client_secret: ...". MSAL's cache keeps every token under
# "secret". ``code`` is not here: "code" is a common key; it is redacted in URLs and forms only (below).
SECRET_KEYS = (
    "secret",
    "client_secret",
    "outlook_client_secret",
    "access_token",
    "refresh_token",
    "id_token",
    "builtin_refresh_token",
    "client_assertion",
    "code_verifier",
)
# URL / form parameters whose value is a credential (the callback's authorization code first).
SECRET_PARAMS = ("code", *SECRET_KEYS, "assertion")

_KEYS = "|".join(sorted(map(re.escape, SECRET_KEYS), key=len, reverse=True))
_PARAMS = "|".join(sorted(map(re.escape, SECRET_PARAMS), key=len, reverse=True))
_PATTERNS = (
    # "key": "value" / 'key': 'value' / "key" = 'value' / key=value / key: value (quotes possibly backslashed, as
    # in the repr of the bytes of a failed SQL statement)
    re.compile(
        rf"""(?P<head>(?<![\w-])(?P<kq>\\?["']?)(?:{_KEYS})(?P=kq)\s*(?:=>|[:=])\s*)"""
        r"""(?:(?P<q>\\?["'])(?P<quoted>[^"'\\]+)|(?P<bare>(?!\[redacted\])[^\s"'\\,;&)}\]]+))""",
        re.IGNORECASE,
    ),
    # ?code=... &refresh_token=... and their percent-encoded forms (%3Fcode%3D..., %26code%3D...)
    re.compile(
        rf"(?P<head>(?:[?&#]|%3F|%26|%23)(?:{_PARAMS})(?:=|%3D))(?P<bare>[^&\s#\"'%\\]+)",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<head>\bBearer\s+)(?P<bare>[A-Za-z0-9._~+/-]{8,}=*)", re.IGNORECASE),
    # a JWT: base64url header "eyJ...", payload, signature (possibly empty)
    re.compile(r"(?P<head>)(?P<bare>\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*)"),
)


def _replace(match):
    if match.group("bare") is not None:
        return match.group("head") + MARK
    return match.group("head") + match.group("q") + MARK


def redact(text):
    """``text`` with every credential-shaped value replaced by :data:`MARK` (idempotent)."""
    if not text:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(_replace, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the message, the traceback and the stack of each record with :func:`redact`; keeps every record."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's to report, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            # formatted now, as logging.Formatter would, so that every handler prints the redacted text
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


REDACTING_FILTER = RedactingFilter()


def install(loggers=LOGGERS):
    """Put :data:`REDACTING_FILTER` on ``loggers`` and on the root logger's handlers (idempotent)."""
    targets = [logging.getLogger(name) for name in loggers] + list(logging.getLogger().handlers)
    for target in targets:
        if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
            target.addFilter(REDACTING_FILTER)
    return REDACTING_FILTER
