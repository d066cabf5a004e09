"""Typed errors raised by the Graph and Entra client (STYLE R5, R13).

Callers branch on the class, never on a message text:

* :class:`ConfigurationError` -- the admin's settings are wrong (bad secret, unknown app or tenant,
  unreachable authority): the admin must act, every user is affected.
* :class:`ReauthRequired` -- this user's grant is gone (revoked, expired, consent missing): the user
  must reconnect; other users are fine.
* :class:`Throttled` -- Graph asked us to slow down for ``retry_after`` seconds.
* :class:`DeltaExpired` -- the delta token is no longer known: run a full resync.
* :class:`TransientError` -- network trouble or a 5xx: try again later.
* :class:`GraphError` -- any other Graph answer we did not expect, with its status and code.
"""

# AADSTS codes that mean "this user's grant is gone, reconnect" (graph-reference J).
REAUTH_AADSTS = frozenset({700082, 70008, 50173, 65001, 50076, 50079, 53003, 50132, 50133, 50055, 70043, 70044})
# AADSTS codes that mean "the app registration / settings are wrong" (graph-reference J).
CONFIG_AADSTS = frozenset({7000215, 7000222, 700016, 50011, 500011, 90002, 900023, 90014})


class OutlookError(Exception):
    """Base class: ``str(exc)`` is a sentence a person can act on."""

    def user_message(self):
        return str(self)


class ConfigurationError(OutlookError):
    """The Outlook settings of this database are wrong or incomplete."""


class ReauthRequired(OutlookError):
    """The user must connect their Outlook account again."""

    def __init__(self, message, *, error=None, aadsts=None):
        super().__init__(message)
        self.error = error
        self.aadsts = aadsts


class TransientError(OutlookError):
    """A network problem or a server-side failure; retrying later may succeed."""


class GraphError(OutlookError):
    """Graph answered with an unexpected error status."""

    def __init__(self, message, *, status=None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


class Throttled(GraphError):
    """429 (or 503 with Retry-After): wait ``retry_after`` seconds before the next request."""

    def __init__(self, message, *, retry_after, status=429, code=None):
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class DeltaExpired(GraphError):
    """The delta (sync state) token is no longer valid: the caller must resync from scratch."""


def aadsts_codes(result):
    """Return the AADSTS error codes of an Entra error response (a dict from msal) as ints."""
    codes = result.get("error_codes") or []
    return {int(code) for code in codes if str(code).isdigit()}
