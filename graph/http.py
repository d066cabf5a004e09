"""One ``requests.Session`` per sync run, shared by MSAL and the Graph client (STYLE R5).

Two things the plain session gets wrong for us:

* A ``Session.verify`` path is silently replaced by ``REQUESTS_CA_BUNDLE`` whenever a request passes
  no ``verify`` of its own (psf/requests#3829, graph-reference K), and MSAL never passes one. The
  session below injects its CA bundle into every request, so a private CA (the emulator's, or a
  corporate TLS proxy's) is really used.
* Every request gets a timeout, also MSAL's (which ignores its own ``timeout=`` once it is given an
  ``http_client``).

Retries come from urllib3's ``Retry`` mounted on the adapter (:class:`GraphRetry`): 429 and 503/504
honour ``Retry-After`` up to :data:`MAX_RETRY_AFTER` seconds (beyond that the answer goes back to the
sync, which parks the mailbox until then and resumes from its checkpoint), other failures back off
exponentially with jitter (graph-reference C.2). Every method is retried: a refused request was not
applied, a repeated create carries the same ``transactionId`` (D.1), PATCH is idempotent, and a
repeated cancel or answer finds the item already done.
"""

import random

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
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


MAX_RETRY_AFTER = 30  # seconds a request waits for Graph inside a run; longer waits park the mailbox


class GraphRetry(Retry):
    """urllib3's ``Retry`` the way Graph asks for it (graph-reference C.2)."""

    BACKOFF_MAX = 30

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        wait = self.get_retry_after(response) if response is not None else None
        if wait is not None and wait > MAX_RETRY_AFTER:
            # not inside this run: urllib3 hands the 429 back (raise_on_status=False), the sync parks
            raise MaxRetryError(_pool, url, ResponseError(f"Retry-After of {wait} s"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_backoff_time(self):
        """Exponential backoff with full jitter, so throttled workers do not retry in step."""
        backoff = super().get_backoff_time()
        return random.uniform(backoff / 2, backoff) if backoff else 0


def make_session(ca_bundle=None, timeout=DEFAULT_TIMEOUT, retries=5):
    """Build the session of one run.

    :param ca_bundle: path of a PEM bundle to trust instead of the system CAs (optional)
    :param timeout: seconds, a number (Odoo's test guard rejects ``(connect, read)`` tuples)
    :param retries: how many times a request is retried (throttling, 5xx, resets, time-outs)
    """
    session = OutlookSession(ca_bundle=ca_bundle, timeout=timeout)
    retry = GraphRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.5,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
