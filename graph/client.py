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
    text = "{} {} (HTTP {})".format(code or "Error", message, resp.status_code)
    if resp.status_code == 401:
        raise ReauthRequired(f"Microsoft Graph refused the access token: {text}", error=code)
    if resp.status_code == 410 or (code or "").lower() in ("syncstatenotfound", "resyncrequired", "syncstateinvalid"):
        raise DeltaExpired(f"The Outlook sync state expired: {text}", status=resp.status_code, code=code)
    if resp.status_code == 429 or (resp.status_code == 503 and "Retry-After" in resp.headers):
        raise Throttled(
            f"Microsoft Graph is throttling: {text}",
            retry_after=retry_after_seconds(resp),
            status=resp.status_code,
            code=code,
        )
    if resp.status_code >= 500:
        raise TransientError(f"Microsoft Graph failed: {text}")
    raise GraphError(f"Microsoft Graph rejected the request: {text}", status=resp.status_code, code=code)


class GraphClient:
    """Graph v1.0 for the mailbox whose tokens ``get_token`` returns.

    :param session: the run's :class:`~.http.OutlookSession`
    :param graph_url: e.g. ``https://graph.microsoft.com/v1.0`` (the emulator plugs in here)
    :param get_token: callable returning a valid access token (MSAL refreshes behind it)
    :param refresh_token: callable returning a new access token even when the cached one looks valid
        (raises :class:`ReauthRequired` when Microsoft refuses the refresh); ``None``: a 401 is final
    """

    def __init__(self, session, graph_url, get_token, timeout=None, refresh_token=None):
        self.session = session
        self.graph_url = graph_url.rstrip("/")
        self.get_token = get_token
        self.refresh_token = refresh_token
        self.timeout = timeout
        self.requests_sent = 0  # Graph requests of this client, for the sync log

    def _headers(self, extra_prefer=(), token=None):
        return {
            "Authorization": f"Bearer {token or self.get_token()}",
            "Accept": "application/json",
            "Prefer": ", ".join((IMMUTABLE_ID, *extra_prefer)),
        }

    def _url(self, path_or_url):
        if path_or_url.startswith(("https://", "http://")):
            return path_or_url
        return "{}/{}".format(self.graph_url, path_or_url.lstrip("/"))

    def request(self, method, path_or_url, *, prefer=(), token=None, **kwargs):
        """Send one Graph request; return the response or raise a typed error.

        :param token: an access token for other scopes than the sync's (default: ``get_token()``)
        """
        resp = self._send(method, path_or_url, prefer, token, kwargs)
        if resp.status_code == 401 and token is None and self.refresh_token:
            # Graph refused a token MSAL still holds as valid (revoked server side, clocks apart): one new
            # token and one more try; a refused refresh or a second 401 means the user must reconnect
            _logger.info("outlook: Graph answered 401 to a cached access token; refreshing it once")
            resp = self._send(method, path_or_url, prefer, self.refresh_token(), kwargs)
        return raise_for_graph_status(resp)

    def _send(self, method, path_or_url, prefer, token, kwargs):
        self.requests_sent += 1
        try:
            return self.session.request(
                method, self._url(path_or_url), headers=self._headers(prefer, token), timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach Microsoft Graph ({exc}).") from exc

    def get_json(self, path_or_url, **kwargs):
        resp = self.request("GET", path_or_url, **kwargs)
        try:
            return resp.json()
        except ValueError as exc:
            raise GraphError("Microsoft Graph sent a response that is not JSON.", status=resp.status_code) from exc

    def me(self):
        """The signed-in mailbox: ``{"id", "displayName", "mail", "userPrincipalName", ...}``."""
        return self.get_json("/me")

    def ensure_master_categories(self, colors, token):
        """Add the categories of ``colors`` (``{displayName: "preset0", ...}``) missing from the mailbox's master
        list, so that they show in those colors (a name the user already has keeps the user's color).

        :param token: an access token with MailboxSettings.ReadWrite
        :return: the names created
        """
        existing = self.get_json("/me/outlook/masterCategories", token=token).get("value") or []
        known = {(category.get("displayName") or "").lower() for category in existing}
        created = []
        for name, color in colors.items():
            if name and name.lower() not in known:
                self.request(
                    "POST", "/me/outlook/masterCategories", token=token, json={"displayName": name, "color": color}
                )
                created.append(name)
        return created


class DeltaPage:
    """One page of ``calendarView/delta``: its items and the link to the next page or the next round."""

    __slots__ = ("items", "next_link", "delta_link")

    def __init__(self, items, next_link=None, delta_link=None):
        self.items = items
        self.next_link = next_link
        self.delta_link = delta_link

    @property
    def checkpoint(self):
        """The link to store once this page is applied: resuming from it never loses an item."""
        return self.next_link or self.delta_link


EVENT_STAMP_GUID = "{66f5a359-4659-4830-9070-00047ec6ac6e}"  # a fixed GUID that names our property set
EVENT_STAMP_ID = f"String {EVENT_STAMP_GUID} Name OdooEventId"


def stamped_body(body, transaction_id, stamp):
    """A create body with its ``transactionId`` and our id stamp (graph-reference D.1, D.3)."""
    return dict(
        body, transactionId=transaction_id, singleValueExtendedProperties=[{"id": EVENT_STAMP_ID, "value": stamp}]
    )


class CalendarClient(GraphClient):
    """The calendar calls the sync makes (graph-reference A-D, H)."""

    def delta_url(self, start, end):
        """First request of a delta round over the window ``[start, end)`` (UTC naive datetimes)."""
        return "/me/calendarView/delta?startDateTime={}&endDateTime={}".format(
            start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def delta_page(self, url, page_size):
        """Fetch one delta page. Graph keeps the window and page size inside the links it returns."""
        body = self.get_json(url, prefer=(f"odata.maxpagesize={page_size}",))
        items = body.get("value")
        if not isinstance(items, list):
            raise GraphError("Microsoft Graph sent a delta page without a value list.")
        return DeltaPage(items, body.get("@odata.nextLink"), body.get("@odata.deltaLink"))

    def event(self, event_id):
        return self.get_json(f"/me/events/{event_id}")

    def instances(self, master_id, start, end):
        """Every occurrence and exception of a series inside ``[start, end)``, all pages."""
        url = "/me/events/{}/instances?startDateTime={}&endDateTime={}&$top=1000".format(
            master_id,
            start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        found = []
        while url:
            body = self.get_json(url)
            found.extend(body.get("value") or [])
            url = body.get("@odata.nextLink")
        return found

    def create_event(self, body, transaction_id, stamp):
        """POST an event. ``transactionId`` makes a retried POST return the first one instead of a copy;
        the extended property lets us find the event again with ``$filter`` (graph-reference D.1, D.3)."""
        return self.request("POST", "/me/events", json=stamped_body(body, transaction_id, stamp)).json()

    def update_event(self, event_id, patch):
        return self.request("PATCH", f"/me/events/{event_id}", json=patch).json()

    def delete_event(self, event_id):
        """DELETE; an event that is already gone (404/410) counts as deleted (graph-reference H)."""
        try:
            self.request("DELETE", f"/me/events/{event_id}")
        except GraphError as exc:
            if exc.status not in (404, 410):
                raise

    def cancel_event(self, event_id, comment=""):
        """Organizer only: cancel the meeting, which mails a cancellation to every attendee."""
        try:
            self.request("POST", f"/me/events/{event_id}/cancel", json={"comment": comment})
        except GraphError as exc:
            if exc.status not in (404, 410):
                raise

    def respond(self, event_id, action, send_response=True):
        """``action``: accept, tentativelyAccept or decline, on this mailbox's copy."""
        self.request("POST", f"/me/events/{event_id}/{action}", json={"sendResponse": bool(send_response)})

    def stamped_ids(self, prefix):
        """Ids of every event carrying a stamp of this database (Outlook copies of synced events keep it)."""
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{EVENT_STAMP_ID}' and startswith(ep/value, '{prefix}'))"
        url, found = "/me/events", []
        params = {"$filter": flt, "$select": "id", "$top": "1000"}
        while url:
            body = self.get_json(url, params=params)
            found.extend(item["id"] for item in body.get("value") or [] if item.get("id"))
            url, params = body.get("@odata.nextLink"), None
        return found

    # change notifications (graph-reference E)

    def create_subscription(self, notification_url, lifecycle_url, client_state, expiration):
        """Subscribe to this mailbox's events. Before answering, Graph POSTs a validation token to both URLs,
        which must echo it within 10 s, else this raises a 400 :class:`GraphError`.

        :param expiration: naive UTC datetime (Graph bumps it to at least 45 minutes, refuses it beyond its maximum)
        :param lifecycle_url: where ``reauthorizationRequired``/``missed``/``subscriptionRemoved`` go (or None)
        :return: the subscription (``id``, ``expirationDateTime``, ...)
        """
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": notification_url,
            "resource": "/me/events",
            "expirationDateTime": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "clientState": client_state,
        }
        if lifecycle_url:
            body["lifecycleNotificationUrl"] = lifecycle_url
        return self.request("POST", "/subscriptions", json=body).json()

    def renew_subscription(self, subscription_id, expiration):
        """Extend a subscription (also answers a ``reauthorizationRequired``). A 404 means it is gone: create one."""
        body = {"expirationDateTime": expiration.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return self.request("PATCH", f"/subscriptions/{subscription_id}", json=body).json()

    def reauthorize_subscription(self, subscription_id):
        """Answer a ``reauthorizationRequired`` lifecycle event without extending the subscription."""
        self.request("POST", f"/subscriptions/{subscription_id}/reauthorize")

    def delete_subscription(self, subscription_id):
        """Stop the notifications; a subscription that is already gone (404) counts as deleted."""
        try:
            self.request("DELETE", f"/subscriptions/{subscription_id}")
        except GraphError as exc:
            if exc.status != 404:
                raise

    def batch(self, calls):
        """``$batch`` the ``(method, url, body)`` calls; :class:`BatchResponse` per call, in order."""
        return batch_calls(self, calls)

    def find_stamped(self, stamp):
        """Events carrying our stamp (after a create whose answer was lost)."""
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{EVENT_STAMP_ID}' and ep/value eq '{stamp}')"
        return self.get_json("/me/events", params={"$filter": flt}).get("value") or []


BATCH_MAX = 20  # requests per JSON batch (graph-reference C.3)


class BatchResponse:
    """One item's answer in a ``$batch``: its status, headers and JSON body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers or {}, body if isinstance(body, dict) else {}

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def retry_after(self):
        value = {key.lower(): value for key, value in self.headers.items()}.get("retry-after")
        try:
            return max(float(value), 0.0)
        except (TypeError, ValueError):
            return None

    def error(self):
        """The typed error of a failed item (gone items are answered by the caller)."""
        error = self.body.get("error") if isinstance(self.body.get("error"), dict) else {}
        text = "{} {} (HTTP {})".format(error.get("code") or "Error", error.get("message") or "", self.status)
        if self.status == 401:
            return ReauthRequired(f"Microsoft Graph refused the access token: {text}", error=error.get("code"))
        if self.status == 429:
            return Throttled(
                f"Microsoft Graph is throttling: {text}", retry_after=self.retry_after or 5, code=error.get("code")
            )
        if self.status >= 500:
            return TransientError(f"Microsoft Graph failed: {text}")
        return GraphError(f"Microsoft Graph rejected the request: {text}", status=self.status, code=error.get("code"))


def batch_calls(client, calls):
    """Send ``calls`` (``(method, url, body)`` or ``(method, url, body, headers)``) in ``$batch`` requests of
    :data:`BATCH_MAX`; return one :class:`BatchResponse` per call, in the same order. Items are independent
    (no ``dependsOn``)."""
    answers = []
    refreshed = False
    for offset in range(0, len(calls), BATCH_MAX):
        chunk = calls[offset : offset + BATCH_MAX]
        chunk_answers = _send_batch(client, chunk)
        refused = [index for index, answer in enumerate(chunk_answers) if answer.status == 401]
        if refused and client.refresh_token and not refreshed:
            # as for a single request: one new token, the refused items once more
            _logger.info("outlook: Graph answered 401 to %s batched items; refreshing the token once", len(refused))
            client.refresh_token()
            refreshed = True
            for index, answer in zip(refused, _send_batch(client, [chunk[i] for i in refused]), strict=True):
                chunk_answers[index] = answer
        still_refused = next((answer for answer in chunk_answers if answer.status == 401), None)
        if still_refused is not None and client.refresh_token:
            raise still_refused.error()  # a fresh token refused too: the user must reconnect
        answers.extend(chunk_answers)
    return answers


def _send_batch(client, chunk):
    """One ``$batch`` request for at most :data:`BATCH_MAX` calls; a :class:`BatchResponse` per call."""
    requests_ = []
    for index, (method, url, body, *extra) in enumerate(chunk):
        headers = {"Prefer": IMMUTABLE_ID, **(extra[0] if extra else {})}
        item = {"id": str(index), "method": method, "url": url, "headers": headers}
        if body is not None:
            item["body"] = body
            item["headers"]["Content-Type"] = "application/json"
        requests_.append(item)
    result = client.request("POST", "/$batch", json={"requests": requests_}).json()
    by_id = {str(item.get("id")): item for item in result.get("responses") or []}
    answers = []
    for index in range(len(chunk)):
        item = by_id.get(str(index)) or {"status": 502, "body": {"error": {"code": "MissingBatchItem"}}}
        answers.append(BatchResponse(int(item.get("status") or 502), item.get("headers"), item.get("body")))
    return answers
