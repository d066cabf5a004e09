"""Control API: drive the emulator from tests, benchmarks and ``make demo``.

* :class:`OutlookActions` ("as Outlook would"): edits made by the user in Outlook. They change the store, bump change
  keys and show up in delta exactly like Graph writes, propagate to attendee mailboxes, but are not app requests: the
  messages they cause are logged as ``outlook_messages``, never as ``messages_sent`` (graph-reference H).
* :class:`ControlAPI`: the same operations as JSON over HTTP under ``/_emulator/...`` (client:
  :mod:`.control_client`). Not throttled, not faulted, not counted.
"""

import json
import logging

from .errors import GraphError
from .server import Response

_logger = logging.getLogger(__name__)


class OutlookActions:
    """What a user does in Outlook; every method takes the mailbox address first. Ids: either form."""

    def __init__(self, emu):
        self.emu = emu

    @property
    def _side(self):
        return self.emu.outlook_side

    def _changed(self, operation, *args):
        """Run an edit, then let subscribed mailboxes' change notifications go out (graph-reference E)."""
        try:
            return operation(*args)
        finally:
            self.emu.subscriptions.scan()

    def create_event(self, address, payload):
        """Create an item. Also accepts ``organizer`` (another address: the mailbox is then an attendee of an
        external meeting), ``iCalUId`` and ``responseStatus``. :return: the event (immutable id, UTC)"""
        return self._changed(self._side.create, address, payload)

    def update_event(self, address, event_id, patch):
        return self._changed(self._side.update, address, event_id, patch)

    def delete_event(self, address, event_id):
        return self._changed(self._side.delete, address, event_id)

    def corrupt_event(self, address, event_id, properties, drop=()):
        """Serve this item from now on (GET, lists, delta) with ``properties`` over the rendered ones (any JSON:
        mistyped, hostile, out of range) and without the ``drop`` properties, as an item Outlook's store could
        hold that no Graph write would create. ``{}`` and ``()`` make it plain again. Delta lists it as changed."""
        return self._changed(self._side.corrupt, address, event_id, properties, tuple(drop))

    def cancel_event(self, address, event_id, comment=None):
        return self._changed(self._side.cancel, address, event_id, comment)

    def respond(self, address, event_id, response, comment=None, send_response=True):
        """``response``: ``accepted``, ``tentativelyAccepted`` or ``declined``."""
        return self._changed(self._side.respond, address, event_id, response, comment, send_response)

    def get_event(self, address, event_id):
        return self._side.get(address, event_id)

    def list_events(self, address):
        """Raw store view: single instances, series masters and exceptions (with extended properties)."""
        return self._side.list(address)

    def instances(self, address, event_id, start, end):
        """Occurrences + exceptions of a series between two dates/datetimes (UTC), like ``/instances``."""
        return self._side.instances(address, event_id, start, end)

    def seed_events(self, address, payloads):
        return [self.create_event(address, payload) for payload in payloads]

    def seed_demo(self, address):
        """About 50 realistic events around today (see :mod:`.seed`). :return: the created events"""
        from .seed import seed_demo

        return self._changed(seed_demo, self.emu, address)


class ControlAPI:
    """``/_emulator/...`` JSON routes mirroring the Python API."""

    def __init__(self, emu):
        self.emu = emu

    def routes(self, router):
        emu, outlook, subscriptions = self.emu, self.emu.outlook, self.emu.subscriptions
        table = [
            ("GET", "/health", lambda body: {"status": "ok", **emu.info()}),
            ("GET", "/info", lambda body: emu.info()),
            ("GET", "/apps", lambda body: [a.public() for a in emu.entra.apps.values()]),
            (
                "POST",
                "/apps",
                lambda body: emu.register_app(
                    body["client_id"], body["client_secret"], body.get("redirect_uris"), body.get("name", "Odoo")
                ),
            ),
            ("GET", "/mailboxes", lambda body: emu.mailboxes()),
            ("POST", "/mailboxes", lambda body: emu.add_mailbox(body["address"], body.get("display_name"))),
            ("GET", "/counters", lambda body: emu.counters()),
            ("POST", "/counters/reset", lambda body: emu.reset_counters()),
            ("GET", "/faults", lambda body: emu.faults.list()),
            ("POST", "/faults", lambda body: emu.inject_fault(body.pop("kind"), **body)),
            ("DELETE", "/faults", lambda body: emu.clear_faults()),
            ("GET", "/settings", lambda body: emu.configure()),
            ("POST", "/settings", lambda body: emu.configure(**body)),
            ("POST", "/tokens/expire-access", lambda body: {"expired": emu.expire_access_tokens(body.get("address"))}),
            ("POST", "/tokens/revoke-access", lambda body: {"revoked": emu.revoke_access_tokens(body.get("address"))}),
            (
                "POST",
                "/tokens/revoke-refresh",
                lambda body: {
                    "revoked": emu.revoke_refresh_tokens(body.get("address"), int(body.get("aadsts", 700082)))
                },
            ),
            ("POST", "/tokens/expire-codes", lambda body: {"expired": emu.expire_auth_codes()}),
            ("POST", "/delta/expire", lambda body: {"expired": emu.expire_delta_tokens(body.get("address"))}),
            ("POST", "/throttling/reset", lambda body: emu.reset_throttling()),
            (
                "POST",
                "/consent",
                lambda body: emu.consent(body["auth_uri"], body.get("account"), body.get("decision", "accept")),
            ),
            ("GET", "/outlook/{address}/events", lambda body, address: outlook.list_events(address)),
            ("POST", "/outlook/{address}/events", lambda body, address: outlook.create_event(address, body)),
            (
                "GET",
                "/outlook/{address}/events/{event_id}",
                lambda body, address, event_id: outlook.get_event(address, event_id),
            ),
            (
                "PATCH",
                "/outlook/{address}/events/{event_id}",
                lambda body, address, event_id: outlook.update_event(address, event_id, body),
            ),
            (
                "DELETE",
                "/outlook/{address}/events/{event_id}",
                lambda body, address, event_id: outlook.delete_event(address, event_id),
            ),
            (
                "POST",
                "/outlook/{address}/events/{event_id}/corrupt",
                lambda body, address, event_id: outlook.corrupt_event(
                    address, event_id, body.get("properties") or {}, body.get("drop") or ()
                ),
            ),
            (
                "POST",
                "/outlook/{address}/events/{event_id}/cancel",
                lambda body, address, event_id: outlook.cancel_event(address, event_id, body.get("comment")),
            ),
            (
                "POST",
                "/outlook/{address}/events/{event_id}/respond",
                lambda body, address, event_id: outlook.respond(
                    address, event_id, body["response"], body.get("comment"), body.get("send_response", True)
                ),
            ),
            (
                "GET",
                "/outlook/{address}/events/{event_id}/instances",
                lambda body, address, event_id: outlook.instances(address, event_id, body["start"], body["end"]),
            ),
            ("POST", "/outlook/{address}/seed", lambda body, address: outlook.seed_events(address, body["events"])),
            ("POST", "/outlook/{address}/seed-demo", lambda body, address: outlook.seed_demo(address)),
            ("GET", "/subscriptions", lambda body: subscriptions.list()),
            ("DELETE", "/subscriptions", lambda body: {"cleared": subscriptions.clear()}),
            (
                "POST",
                "/subscriptions/{subscription_id}/lifecycle",
                lambda body, subscription_id: subscriptions.fire(subscription_id, body["event"]),
            ),
            (
                "POST",
                "/subscriptions/{subscription_id}/expire",
                lambda body, subscription_id: subscriptions.expire(subscription_id),
            ),
            ("GET", "/notifications", lambda body: subscriptions.deliveries()),
            ("POST", "/notifications/pause", lambda body: subscriptions.pause()),
            ("POST", "/notifications/resume", lambda body: subscriptions.resume()),
            (
                "POST",
                "/notifications/wait",
                lambda body: {"idle": subscriptions.wait_idle(float(body.get("timeout", 10)))},
            ),
        ]
        for method, path, handler in table:
            router.add(method, "/_emulator" + path, handler, "control")

    def dispatch(self, route, params, request):
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body.strip() else {}
        except (UnicodeDecodeError, ValueError) as exc:
            return Response(400, {"error": f"invalid JSON body: {exc}"})
        if not isinstance(body, dict):
            return Response(400, {"error": "the body must be a JSON object"})
        if request.method == "GET":
            body = dict(request.query, **body)
        try:
            result = route.handler(body, **params)
        except GraphError as exc:
            return Response(exc.status, {"error": exc.message, "code": exc.code})
        except KeyError as exc:
            unknown = "mailbox" in str(exc) or "no subscription" in str(exc)
            return Response(404 if unknown else 400, {"error": f"missing or unknown: {exc}"})
        except (ValueError, TypeError) as exc:
            return Response(400, {"error": str(exc)})
        except Exception:  # a bug: say so, keep serving
            _logger.exception("emulator: control route %s %s failed", request.method, request.path)
            return Response(500, {"error": "emulator bug, see its log"})
        return Response(200, result if result is not None else {"ok": True})
