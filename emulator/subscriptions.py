"""Change notifications: ``/subscriptions`` and webhook delivery to loopback receivers (graph-reference E).

* ``POST /v1.0/subscriptions`` on ``/me/events`` (also ``me/events``, ``/users/{id|upn}/events``): Graph first POSTs
  ``notificationUrl?validationToken=<opaque>`` (``text/plain``, 10 s timeout) and wants ``200`` + ``text/plain`` +
  the decoded token back, else the create fails with 400 ``InvalidRequest`` "Subscription validation request
  failed. ..." (E, Obs); ``lifecycleNotificationUrl`` is validated the same way. ``expirationDateTime`` under
  45 minutes from now is bumped to 45 minutes; beyond ``subscription_max_minutes`` (4,230) is a 400.
  ``clientState`` at most 128 characters.
* ``GET /v1.0/subscriptions[/{id}]``, ``PATCH`` (renew), ``DELETE`` (204), ``POST …/reauthorize`` (204). A caller
  only sees the subscriptions of its own app (and, delegated, its own mailbox); expired ones answer 404.
* Delivery: after every change to an event of a subscribed mailbox (Graph writes and "as Outlook would" edits,
  attendee copies included), :meth:`Subscriptions.scan` diffs the mailbox against the last snapshot and queues
  ``{"value": [{subscriptionId, subscriptionExpirationDateTime, changeType, resource, resourceData, clientState,
  tenantId}]}`` for each subscription; a background thread POSTs it (never the request that made the change),
  3 s timeout, a non-2xx or a timeout is retried ``notification_retries`` times with doubling backoff, then dropped.
* Lifecycle notifications (``reauthorizationRequired``, ``missed``, ``subscriptionRemoved``) go to the
  ``lifecycleNotificationUrl`` when the control API fires them.

This machine has no outside network: notification URLs must be loopback (``127.0.0.1``, ``::1``, ``localhost``),
``http`` or ``https`` (https verified with the emulator's CA bundle). Real Graph wants a public https URL.
"""

import collections
import http.client
import json
import logging
import ssl
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import quote, urlsplit

from .errors import GraphError
from .graph_common import View
from .server import Response, json_response
from .store import format_id, now_utc
from .timezones import format_utc, parse_query_instant

_logger = logging.getLogger(__name__)

CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "missed", "subscriptionRemoved")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MIN_LIFETIME = timedelta(minutes=45)
MAX_CLIENT_STATE = 128
MAX_ITEMS_PER_POST = 100
VALIDATION_FAILED = (
    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
)
USER_AGENT = "Microsoft-Graph-Change-Tracking (emulator)"
LOG_SIZE = 500


def _invalid(message, code="InvalidRequest"):
    return GraphError(400, code, message)


def _not_found(subscription_id):
    return GraphError(404, "ResourceNotFound", f"Subscription '{subscription_id}' was not found.")


def loopback_url(value, field):
    """Check a notification URL: ``http(s)://`` on a loopback host. :return: the URL"""
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{field} is required.")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid(f"{field} must be an absolute http(s) URL.")
    if parts.hostname.lower() not in LOOPBACK_HOSTS:
        raise _invalid(
            f"{field} must point to a loopback address (127.0.0.1, ::1 or localhost): the emulator "
            "never calls other hosts."
        )
    return value.strip()


def _change_types(value):
    if not isinstance(value, str) or not value.strip():
        raise _invalid("changeType is required: a comma-separated list of created, updated, deleted.")
    kinds = [part.strip() for part in value.split(",")]
    wrong = [kind for kind in kinds if kind not in CHANGE_TYPES]
    if wrong:
        raise _invalid(f"Invalid changeType '{wrong[0]}'. Allowed values: created, updated, deleted.")
    return tuple(dict.fromkeys(kinds))


class Subscription:
    """One change-notification subscription on one mailbox's events."""

    def __init__(
        self,
        client_id,
        owner,
        address,
        resource,
        change_types,
        notification_url,
        lifecycle_url,
        expiration,
        client_state,
        immutable,
    ):
        self.id = str(uuid.uuid4())
        self.client_id = client_id
        self.owner = owner  # delegated: the signed-in address; app-only: None
        self.address = address  # the mailbox whose events are watched
        self.resource = resource
        self.change_types = change_types
        self.notification_url = notification_url
        self.lifecycle_url = lifecycle_url
        self.expiration = expiration
        self.client_state = client_state
        self.immutable = immutable
        self.creator_id = str(uuid.uuid4())
        self.reauthorization_required = False
        self.created = now_utc()

    def expired(self, now=None):
        return self.expiration <= (now or now_utc())

    def json(self, emu):
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.client_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": format_utc(self.expiration),
            "creatorId": self.creator_id,
            "includeResourceData": None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def control_json(self, emu):
        """What the control API shows: the Graph view plus the emulator's bookkeeping."""
        return dict(
            self.json(emu),
            mailbox=self.address,
            owner=self.owner,
            expired=self.expired(),
            reauthorizationRequired=self.reauthorization_required,
            immutableIds=self.immutable,
        )


class Subscriptions:
    """Subscriptions of the emulated tenant, their Graph routes, and change detection (guarded by ``emu.lock``)."""

    def __init__(self, emu):
        self.emu = emu
        self.items = {}  # id -> Subscription
        self.snapshots = {}  # mailbox address (lower) -> {core: change_key}
        self.dispatcher = Dispatcher(emu)

    # ------------------------------------------------------------------ routes

    def routes(self, router):
        base = "/v1.0/subscriptions"
        router.add("POST", base, self.create, "graph", need="read", tenant_wide=True)
        router.add("GET", base, self.list_route, "graph", need="read", tenant_wide=True)
        router.add("GET", base + "/{subscription_id}", self.get, "graph", need="read", tenant_wide=True)
        router.add("PATCH", base + "/{subscription_id}", self.update, "graph", need="read", tenant_wide=True)
        router.add("DELETE", base + "/{subscription_id}", self.delete, "graph", need="read", tenant_wide=True)
        router.add(
            "POST", base + "/{subscription_id}/reauthorize", self.reauthorize, "graph", need="read", tenant_wide=True
        )

    def _context(self, entity=True):
        return f"{self.emu.graph_url}/$metadata#subscriptions" + ("/$entity" if entity else "")

    def _answer(self, subscription, status=200):
        with self.emu.lock:
            body = dict({"@odata.context": self._context()}, **subscription.json(self.emu))
        return json_response(body, status)

    def create(self, request):  # pylint: disable=method-required-super # not an Odoo model
        principal = request.context["principal"]
        body = request.json()
        change_types = _change_types(body.get("changeType"))
        address, resource = self._resource(body.get("resource"), principal, request.context.get("mailbox"))
        notification_url = loopback_url(body.get("notificationUrl"), "notificationUrl")
        lifecycle_url = body.get("lifecycleNotificationUrl")
        if lifecycle_url is not None:
            lifecycle_url = loopback_url(lifecycle_url, "lifecycleNotificationUrl")
        client_state = body.get("clientState")
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE):
            raise _invalid(f"clientState must be a string of at most {MAX_CLIENT_STATE} characters.")
        if body.get("includeResourceData"):
            raise _invalid(
                "includeResourceData needs an encryptionCertificate; the emulator sends basic notifications only."
            )
        expiration = self._expiration(body.get("expirationDateTime"))
        for url in filter(None, (notification_url, lifecycle_url)):  # outside the lock: Odoo may be slow
            self._validate(url)
        subscription = Subscription(
            principal.client_id,
            principal.address,
            address,
            resource,
            change_types,
            notification_url,
            lifecycle_url,
            expiration,
            client_state,
            View(request).immutable,
        )
        with self.emu.lock:
            self.items[subscription.id] = subscription
            mailbox = self.emu.store.require(address)
            self.snapshots.setdefault(address.lower(), _snapshot(mailbox))
        _logger.info("emulator: subscription %s on %s for %s", subscription.id, resource, address)
        return self._answer(subscription, 201)

    def list_route(self, request):
        principal = request.context["principal"]
        with self.emu.lock:
            mine = [s.json(self.emu) for s in self.items.values() if self._visible(s, principal)]
        return json_response({"@odata.context": self._context(False), "value": mine})

    def get(self, request, subscription_id):
        return self._answer(self._own(request, subscription_id))

    def update(self, request, subscription_id):
        subscription = self._own(request, subscription_id)
        body = request.json()
        unknown = set(body) - {"expirationDateTime", "notificationUrl"}
        if unknown:
            raise _invalid(f"Only expirationDateTime and notificationUrl can be updated, not {min(unknown)}.")
        url = loopback_url(body["notificationUrl"], "notificationUrl") if "notificationUrl" in body else None
        expiration = self._expiration(body["expirationDateTime"]) if "expirationDateTime" in body else None
        if url and url != subscription.notification_url:
            self._validate(url)
        with self.emu.lock:
            if self.items.get(subscription.id) is not subscription:
                raise _not_found(subscription_id)
            if expiration:
                subscription.expiration = expiration
            if url:
                subscription.notification_url = url
            subscription.reauthorization_required = False  # a renewal also reauthorizes (E)
        return self._answer(subscription)

    def delete(self, request, subscription_id):
        subscription = self._own(request, subscription_id)
        with self.emu.lock:
            self.items.pop(subscription.id, None)
        return Response(204)

    def reauthorize(self, request, subscription_id):
        subscription = self._own(request, subscription_id)
        with self.emu.lock:
            subscription.reauthorization_required = False
        return Response(204)

    # ------------------------------------------------------------------ checks

    def _resource(self, value, principal, mailbox):
        """``/me/events`` or ``/users/{id|upn}/events`` -> ``(address, resource as given)``."""
        if not isinstance(value, str) or not value.strip():
            raise _invalid("resource is required.")
        parts = [part for part in value.strip().split("/") if part]
        if len(parts) == 2 and [p.lower() for p in parts] == ["me", "events"]:
            if mailbox is None:
                raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            return mailbox.address, value
        if len(parts) == 3 and parts[0].lower() == "users" and parts[2].lower() == "events":
            target = self.emu.store.lookup_user(parts[1])
            if not principal.app_only and target.address.lower() != principal.address.lower():
                raise GraphError(
                    403,
                    "ExtensionError",
                    "Operation: Create; Exception: [Status Code: Forbidden; "
                    "Reason: Access is denied. Check credentials and try again.]",
                )
            return target.address, value
        raise _invalid(
            f"The resource '{value}' is not supported by the emulator: use /me/events or /users/{{id}}/events."
        )

    def _expiration(self, value):
        if not isinstance(value, str) or not value.strip():
            raise _invalid("expirationDateTime is required.")
        moment = parse_query_instant(value.strip(), "expirationDateTime")
        now = now_utc()
        maximum = int(self.emu.settings["subscription_max_minutes"])
        if moment > now + timedelta(minutes=maximum):
            raise _invalid(f"Subscription expiration can only be {maximum} minutes in the future.")
        return max(moment, now + MIN_LIFETIME)

    def _validate(self, url):
        """The validation handshake (E): POST ``url?validationToken=…``, expect the decoded token back."""
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        target = f"{url}{'&' if '?' in url else '?'}validationToken={quote(token, safe='')}"
        self.emu.record_notification("validations")
        try:
            status, content_type, body = post(
                self.emu, target, b"", "text/plain; charset=utf-8", int(self.emu.settings["validation_timeout"])
            )
        except (OSError, http.client.HTTPException) as exc:
            _logger.info("emulator: validation of %s failed: %s", url, exc)
            status, content_type, body = None, "", b""
        ok = (
            status == 200
            and content_type.split(";")[0].strip().lower() == "text/plain"
            and body.decode("utf-8", "replace") == token
        )
        if not ok:
            self.emu.record_notification("validations_failed")
            _logger.info("emulator: validation of %s refused (status %s, %s)", url, status, content_type)
            raise _invalid(VALIDATION_FAILED)

    def _visible(self, subscription, principal):
        if subscription.client_id != principal.client_id or subscription.expired():
            return False
        return principal.app_only or (subscription.owner or "").lower() == (principal.address or "").lower()

    def _own(self, request, subscription_id):
        with self.emu.lock:
            subscription = self.items.get(subscription_id)
            if subscription is None or not self._visible(subscription, request.context["principal"]):
                raise _not_found(subscription_id)
            return subscription

    # ------------------------------------------------------------------ change detection

    def scan(self):
        """Queue notifications for what changed in subscribed mailboxes since the last scan. :return: how many"""
        if not self.items:
            return 0
        jobs = collections.defaultdict(list)
        with self.emu.lock:
            now = now_utc()
            active = [s for s in self.items.values() if not s.expired(now)]
            watched = {s.address.lower() for s in active}
            for address in list(self.snapshots):
                if address not in watched:
                    del self.snapshots[address]
            for address in watched:
                mailbox = self.emu.store.mailbox(address)
                current = _snapshot(mailbox)
                changes = _diff(self.snapshots.get(address, current), current)
                self.snapshots[address] = current
                for subscription in (s for s in active if s.address.lower() == address):
                    for core, kind, change_key in changes:
                        if kind in subscription.change_types:
                            jobs[subscription.notification_url].append(
                                self._notification(subscription, mailbox, core, kind, change_key)
                            )
        count = sum(len(items) for items in jobs.values())
        for url, items in jobs.items():
            for start in range(0, len(items), MAX_ITEMS_PER_POST):
                self.dispatcher.enqueue(url, items[start : start + MAX_ITEMS_PER_POST], "change")
        return count

    def _notification(self, subscription, mailbox, core, kind, change_key):
        event_id = format_id(core, subscription.immutable)
        resource = f"Users/{mailbox.id}/Events/{event_id}"
        return {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": format_utc(subscription.expiration),
            "changeType": kind,
            "resource": resource,
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Event",
                "@odata.id": resource,
                "@odata.etag": f'W/"{change_key}"',
                "id": event_id,
            },
            "clientState": subscription.client_state,
            "tenantId": self.emu.tenant_id,
        }

    # ------------------------------------------------------------------ control (Python API)

    def list(self):
        """Every subscription (expired ones too), with the emulator's bookkeeping."""
        with self.emu.lock:
            return [s.control_json(self.emu) for s in self.items.values()]

    def _require(self, subscription_id):
        subscription = self.items.get(subscription_id)
        if subscription is None:
            raise KeyError(f"no subscription {subscription_id!r}")
        return subscription

    def fire(self, subscription_id, event):
        """Send a lifecycle notification; ``subscriptionRemoved`` also deletes the subscription. :return: it"""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycle event must be one of {', '.join(LIFECYCLE_EVENTS)}")
        with self.emu.lock:
            subscription = self._require(subscription_id)
            if not subscription.lifecycle_url:
                raise ValueError("this subscription has no lifecycleNotificationUrl")
            item = {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": format_utc(subscription.expiration),
                "tenantId": self.emu.tenant_id,
                "clientState": subscription.client_state,
                "lifecycleEvent": event,
            }
            if event == "reauthorizationRequired":
                subscription.reauthorization_required = True
            elif event == "subscriptionRemoved":
                self.items.pop(subscription.id, None)
            described = subscription.control_json(self.emu)
        self.dispatcher.enqueue(subscription.lifecycle_url, [item], "lifecycle")
        return described

    def expire(self, subscription_id):
        """Move the expiration into the past: no more notifications, Graph answers 404 for it."""
        with self.emu.lock:
            subscription = self._require(subscription_id)
            subscription.expiration = now_utc() - timedelta(seconds=1)
            return subscription.control_json(self.emu)

    def clear(self):
        """Forget every subscription and queued notification. :return: how many subscriptions were dropped"""
        with self.emu.lock:
            count = len(self.items)
            self.items.clear()
            self.snapshots.clear()
        self.dispatcher.clear()
        return count

    def pause(self):
        self.dispatcher.pause()

    def resume(self):
        self.dispatcher.resume()

    def wait_idle(self, timeout=10.0):
        """Wait until no notification is queued or in flight. :return: True when idle (False: timed out)"""
        return self.dispatcher.wait_idle(timeout)

    def deliveries(self):
        """The last deliveries: ``{"url", "kind", "items", "attempt", "status", "error", "outcome"}``."""
        return self.dispatcher.log()

    def stop(self):
        self.dispatcher.stop()


def _snapshot(mailbox):
    return {core: event.change_key for core, event in mailbox.events.items()} if mailbox else {}


def _diff(before, after):
    changes = [(core, "created", key) for core, key in after.items() if core not in before]
    changes += [(core, "updated", key) for core, key in after.items() if core in before and before[core] != key]
    changes += [(core, "deleted", key) for core, key in before.items() if core not in after]
    return changes


def post(emu, url, body, content_type, timeout):
    """One POST to a loopback receiver (stdlib, no proxies, exact timeout). :return: ``(status, type, body)``"""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in LOOPBACK_HOSTS:
        raise OSError(f"refusing to call a non-loopback host: {parts.hostname}")
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=emu.ca_bundle_path)
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": content_type, "User-Agent": USER_AGENT, "Connection": "close"},
        )
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read(1024 * 1024)
    finally:
        connection.close()


class _Job:
    __slots__ = ("attempt", "due", "items", "kind", "url")

    def __init__(self, url, items, kind):
        self.url, self.items, self.kind = url, items, kind
        self.attempt, self.due = 0, 0.0


class Dispatcher:
    """Background delivery: one daemon thread, jobs retried with doubling backoff, then dropped."""

    def __init__(self, emu):
        self.emu = emu
        self._cond = threading.Condition()
        self._jobs = []
        self._busy = False
        self._paused = False
        self._stopped = False
        self._thread = None
        self._log = collections.deque(maxlen=LOG_SIZE)

    def enqueue(self, url, items, kind):
        with self._cond:
            if self._stopped:
                return
            self._jobs.append(_Job(url, items, kind))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="emulator-notifications", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _next(self):
        """Wait for a due job (under the condition). :return: the job, or None when stopped"""
        while not self._stopped:
            if not self._paused and self._jobs:
                now = time.monotonic()
                job = min(self._jobs, key=lambda j: j.due)
                if job.due <= now:
                    self._jobs.remove(job)
                    self._busy = True
                    return job
                self._cond.wait(min(job.due - now, 0.5))
            else:
                self._cond.wait(0.5)
        return None

    def _run(self):
        while True:
            with self._cond:
                job = self._next()
            if job is None:
                return
            try:
                self._deliver(job)
            except Exception:  # a bug: log it, keep the thread alive
                _logger.exception("emulator: notification delivery to %s failed unexpectedly", job.url)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, job):
        settings = self.emu.settings
        body = json.dumps({"value": job.items}).encode("utf-8")
        job.attempt += 1
        self.emu.record_notification("notification_posts")
        status, error = None, None
        try:
            status, _type, _body = post(
                self.emu, job.url, body, "application/json; charset=utf-8", int(settings["notification_timeout"])
            )
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivered = status is not None and 200 <= status < 300
        retry = not delivered and job.attempt <= int(settings["notification_retries"])
        outcome = "delivered" if delivered else ("retry" if retry else "dropped")
        self._log.append(
            {
                "url": job.url,
                "kind": job.kind,
                "items": job.items,
                "attempt": job.attempt,
                "status": status,
                "error": error,
                "outcome": outcome,
            }
        )
        counter = "lifecycle" if job.kind == "lifecycle" else "notifications"
        if delivered:
            self.emu.record_notification(f"{counter}_sent", len(job.items))
        elif retry:
            job.due = time.monotonic() + int(settings["notification_backoff_ms"]) / 1000 * 2 ** (job.attempt - 1)
            with self._cond:
                self._jobs.append(job)
        else:
            self.emu.record_notification(f"{counter}_failed", len(job.items))
            _logger.info(
                "emulator: dropped %s notification(s) for %s after %s attempts (%s)",
                len(job.items),
                job.url,
                job.attempt,
                error or status,
            )

    def pause(self):
        with self._cond:
            self._paused = True

    def resume(self):
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def clear(self):
        with self._cond:
            self._jobs.clear()
            self._cond.notify_all()

    def wait_idle(self, timeout):
        # counted, not clocked: freezegun may freeze time.monotonic() in the caller's thread
        with self._cond:
            for _ in range(max(1, int(timeout / 0.05))):
                if not (self._jobs or self._busy):
                    return True
                if self._paused and not self._busy:
                    return False
                self._cond.wait(0.05)
            return not (self._jobs or self._busy)

    def log(self):
        with self._cond:
            return [dict(entry) for entry in self._log]

    def stop(self):
        """Drop what is queued and end the thread (an emulator started again gets a new one)."""
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        with self._cond:
            if thread is None or not thread.is_alive():
                self._stopped, self._thread = False, None
