"""One ``requests.Session`` per sync run, shared by MSAL and the Graph client (STYLE R5).

Two things the plain session gets wrong for us:

* A ``Session.verify`` path is silently replaced by ``REQUESTS_CA_BUNDLE`` whenever a request passes
  no ``verify`` of its own (psf/requests#3829, graph-reference K), and MSAL never passes one. The
  session below injects its CA bundle into every request, so a private CA (the emulator's, or a
  corporate TLS proxy's) is really used.
* Every request gets a timeout, also MSAL's (which ignores its own ``timeout=`` once it is given an
  ``http_client``).

Retries of transient failures (503/504, connection resets) come from urllib3's ``Retry`` mounted on
the adapter, for idempotent methods only: a POST that timed out is retried by the sync engine with
the same ``transactionId`` instead (graph-reference D.1).
"""

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "outlook_calendar_sync (Odoo add-on)"


class OutlookSession(requests.Session):
    """A ``requests.Session`` whose CA bundle and timeout apply to every request."""

    def __init__(self, ca_bundle=None, timeout=DEFAULT_TIMEOUT):
        super().__init__()
        self.ca_bundle = ca_bundle or None
        self.default_timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method, url, **kwargs):
        if self.ca_bundle and kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.ca_bundle
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, **kwargs)


def make_session(ca_bundle=None, timeout=DEFAULT_TIMEOUT, retries=3):
    """Build the session of one run.

    :param ca_bundle: path of a PEM bundle to trust instead of the system CAs (optional)
    :param timeout: seconds, a number (Odoo's test guard rejects ``(connect, read)`` tuples)
    :param retries: how many times urllib3 retries idempotent requests on 502/503/504 and resets
    """
    session = OutlookSession(ca_bundle=ca_bundle, timeout=timeout)
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.5,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
