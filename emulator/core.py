"""The :class:`Emulator`: one HTTPS server hosting Entra ID, Graph v1.0 and the ``/_emulator`` control API.

Every Graph / Entra request goes through :meth:`Emulator.process`: authentication (Bearer token, graph-reference J),
per (app, mailbox) throttling (C.1), injected faults, the route handler, post-processing faults, then counters.
``$batch`` items (C.3) run through the same method, so they are authenticated, throttled, faulted and counted one by
one.
"""

import logging
import shutil
import tempfile
import threading
import time
import uuid

from . import tls
from .control import ControlAPI, OutlookActions
from .entra import Entra, unauthorized
from .errors import GRAPH_ERROR_CODES, EntraError, GraphError
from .meetings import Meetings, OutlookSide
from .middleware import Counters, Faults, Throttle
from .server import HTTPSServer, Response, Router, json_bytes
from .store import Store
from .subscriptions import Subscriptions

_logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
DEFAULT_SETTINGS = {
    "access_token_ttl": 3600,  # seconds (I.4 expires_in)
    "refresh_token_ttl": 90 * 86400,  # J: 90 days
    "auth_code_ttl": 600,
    "consent_request_ttl": 3600,
    "list_page_size": 10,  # B.4 Obs: default page size of list/calendarView is 10
    "max_top": 1000,
    "delta_page_size": 10,  # B.5: unconfirmed default, a knob
    "delta_max_page_size": 1000,  # cap for Prefer: odata.maxpagesize
    "delta_generations": 3,  # B.6: only the newest few generations of a sync state survive
    "concurrency_limit": 4,  # C.1
    "request_budget": 10000,  # C.1: per app + mailbox ...
    "budget_window": 600,  # ... per 10 minutes
    "throttle_retry_after": 1,  # C.2 Obs: Graph often sends 1
    "batch_max": 20,  # C.3
    "batch_parallelism": 4,  # C.3: Outlook runs at most 4 items of a batch in parallel
    "link_host": None,  # host of nextLink/deltaLink; None = the emulator's base_url
    "scope_drop": [],  # I.4 / MSAL #450: scopes left out of the token response "scope"
    "scope_rename": {},  # I.4: {"Calendars.ReadWrite": "https://graph.microsoft.com/Calendars.ReadWrite"}
    "subscription_max_minutes": 4230,  # E: max lifetime of an Outlook event subscription (newer docs: 10080?)
    "validation_timeout": 10,  # E: seconds the notification endpoint has to answer the validation POST
    "notification_timeout": 3,  # E: seconds a notification POST may take before it counts as failed
    "notification_retries": 3,  # retries of a failed notification POST (real Graph: for up to 4 hours)
    "notification_backoff_ms": 1000,  # first retry after this, doubling for each further retry
}


class Emulator:
    """Local Microsoft Entra ID + Microsoft Graph (calendar) server on loopback HTTPS.

    :param host: interface to bind (loopback only)
    :param port: 0 picks a free port
    :param state_dir: where ``ca.pem`` / server certificate / signing key go (a temp dir when None)
    :param settings: any key of :data:`DEFAULT_SETTINGS`
    """

    def __init__(self, host="127.0.0.1", port=0, state_dir=None, **settings):
        self.host, self.port, self.state_dir = host, int(port), state_dir
        self.settings = dict(DEFAULT_SETTINGS)
        self.configure(**settings)
        self.tenant_id = str(uuid.uuid4())
        self.lock = threading.RLock()
        self.delta_states = {}
        self._counters = Counters()
        self.faults = Faults(self._counters)
        self.throttle = Throttle(self.settings)
        self.store = Store(self)
        self.meetings = Meetings(self)
        self.outlook_side = OutlookSide(self, self.meetings)
        self.entra = Entra(self)
        self.outlook = OutlookActions(self)
        self.control = ControlAPI(self)
        self.subscriptions = Subscriptions(self)
        self.router = Router()
        self._register_routes()
        self._server = self._thread = None
        self._temp_dir = None
        self.ca_path = self.ca_bundle_path = None

    def _register_routes(self):
        from . import batch, delta, graph_events, graph_user

        self.control.routes(self.router)
        self.entra.routes(self.router)
        graph_user.routes(self.router, self)
        graph_events.routes(self.router, self)
        delta.routes(self.router, self)
        batch.routes(self.router, self)
        self.subscriptions.routes(self.router)

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        """Create certificates, bind, serve in a background thread. :return: self"""
        if self._server:
            return self
        if self.state_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="outlook-emulator-")
        state_dir = self.state_dir or self._temp_dir
        files = tls.ensure_certificates(state_dir, self.host)
        self.entra.set_signing_key(tls.load_signing_key(state_dir))
        self._server = HTTPSServer((self.host, self.port), self, tls.server_context(files))
        self.port = self._server.server_address[1]
        self.ca_path, self.ca_bundle_path = files.ca_path, files.bundle_path
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"outlook-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        _logger.info("emulator: serving %s (Graph %s, CA %s)", self.base_url, self.graph_url, self.ca_path)
        return self

    def stop(self):
        """Stop serving, close keep-alive connections, join the server thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self.subscriptions.stop()
        server.shutdown()
        server.server_close()
        server.close_connections()
        self._thread.join(timeout=5)
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
        _logger.info("emulator: stopped %s", self.base_url)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base_url(self):
        return f"https://{self.host}:{self.port}"

    @property
    def authority_url(self):
        return self.base_url

    @property
    def graph_url(self):
        return self.base_url + "/v1.0"

    @property
    def link_base(self):
        """Scheme + host used in ``@odata.nextLink`` / ``@odata.deltaLink`` (knob ``link_host``)."""
        return (self.settings.get("link_host") or self.base_url).rstrip("/")

    def info(self):
        return {
            "base_url": self.base_url,
            "ca_path": self.ca_path,
            "ca_bundle_path": self.ca_bundle_path,
            "graph_url": self.graph_url,
            "authority_url": self.authority_url,
            "tenant_id": self.tenant_id,
        }

    # ------------------------------------------------------------------ public API

    def configure(self, **settings):
        """Change knobs (see :data:`DEFAULT_SETTINGS`). :return: the settings now in force"""
        unknown = set(settings) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown emulator settings: {', '.join(sorted(unknown))}")
        checked = {key: _check_setting(key, value) for key, value in settings.items()}
        self.settings.update(checked)
        return dict(self.settings)

    def register_app(self, client_id, client_secret, redirect_uris=None, name="Odoo"):
        return self.entra.register_app(client_id, client_secret, redirect_uris, name)

    def add_mailbox(self, address, display_name=None):
        return self.store.add_mailbox(address, display_name).public()

    def issue_token(self, address, client_id="emulator-tests", scopes=("Calendars.ReadWrite", "User.Read")):
        """Mint a delegated access token for ``address`` without the consent flow (tests and benchmarks).

        :return: the bearer token string (throttling is keyed by ``client_id`` + mailbox)
        """
        return self.entra.mint_access_token(address, client_id, scopes)

    def issued_secrets(self, kinds=None):
        """The credentials this emulator handed out (codes, access/refresh/ID tokens, registered client secrets),
        optionally only those of ``kinds``: what must never appear in a log line.

        :return: a list of ``(kind, value)`` in issue order
        """
        with self.lock:
            return [(kind, value) for kind, value in self.entra.issued if kinds is None or kind in kinds]

    def mailboxes(self):
        with self.lock:
            return [m.public() for m in self.store.mailboxes.values()]

    def counters(self):
        return self._counters.snapshot()

    def reset_counters(self):
        self._counters.reset()

    def record_token(self):
        self._counters.record_token()

    def record_message(self, message, by_app):
        self._counters.record_message(message, by_app)

    def record_notification(self, name, count=1):
        self._counters.record_notification(name, count)

    def inject_fault(
        self,
        kind,
        *,
        method=None,
        path=None,
        mailbox=None,
        count=1,
        status=None,
        retry_after=None,
        delay=None,
        when="before",
    ):
        """Arm a fault (kinds: status, latency, drop, malformed, item_malformed). :return: its description"""
        return self.faults.add(
            kind,
            method=method,
            path=path,
            mailbox=mailbox,
            count=count,
            status=status,
            retry_after=retry_after,
            delay=delay,
            when=when,
        )

    def clear_faults(self):
        self.faults.clear()

    def expire_access_tokens(self, address=None):
        return self.entra.expire_access_tokens(address)

    def revoke_access_tokens(self, address=None):
        """Graph refuses the access tokens issued so far (401) while their refresh tokens stay valid."""
        return self.entra.revoke_access_tokens(address)

    def revoke_refresh_tokens(self, address=None, aadsts=700082):
        return self.entra.revoke_refresh_tokens(address, aadsts)

    def expire_auth_codes(self):
        return self.entra.expire_auth_codes()

    def expire_delta_tokens(self, address=None):
        from .delta import expire_tokens

        return expire_tokens(self, address)

    def reset_throttling(self):
        self.throttle.reset()

    def consent(self, auth_uri, account=None, decision="accept"):
        """Play the user on the consent page of ``auth_uri``. :return: the query/form params sent to redirect_uri"""
        from .consent import drive_consent

        return drive_consent(auth_uri, self.ca_path, account=account, decision=decision)

    # ------------------------------------------------------------------ pipeline

    def handle(self, request):
        route, params = self.router.match(request.method, request.path)
        if route is None:
            return self._unrouted(request, params)
        if route.area == "control":
            return self.control.dispatch(route, params, request)
        return self.process(request, route, params)

    def process(self, request, route, params):
        """Run one Graph/Entra request (or ``$batch`` item) through auth, throttling, faults, handler, counters."""
        request_id = str(uuid.uuid4())
        state = {"mailbox": None, "throttle": None, "throttled": False}
        try:
            response = self._run(request, route, dict(params), state)
        except GraphError as exc:
            state["throttled"] = getattr(exc, "throttled", False)
            response = self._graph_error(exc, request, request_id)
        except EntraError as exc:
            response = Response(exc.status, exc.body(), headers={"Cache-Control": "no-store, no-cache"})
        except Exception:  # a bug in the emulator: log it, answer a Graph-shaped 500
            _logger.exception("emulator: error while answering %s %s", request.method, request.path)
            response = self._graph_error(
                GraphError(500, "InternalServerError", "Emulator bug, see its log."), request, request_id
            )
        finally:
            if state["throttle"]:
                self.throttle.release(state["throttle"])
        if route.area != "entra":
            response.headers["request-id"] = request_id
            response.headers["client-request-id"] = request.headers.get("client-request-id") or request_id
        status = "dropped" if response.drop else response.status
        key = f"{request.method} {route.template}".replace("{event_id}", "{id}")
        self._counters.record_request(key, state["mailbox"], status, request.batch_item, state["throttled"])
        if route.area == "graph" and request.method in WRITE_METHODS:
            self.subscriptions.scan()  # queue change notifications; a background thread delivers them (E)
        return response

    def _run(self, request, route, params, state):
        if route.area == "entra":
            state["mailbox"] = self.entra.peek_address(request)
        else:
            principal = self.entra.authenticate(request)
            request.context["principal"] = principal
            if route.area == "graph":
                mailbox = self._target_mailbox(principal, params, route.meta.get("tenant_wide", False))
                request.context["mailbox"] = mailbox
                principal.require(route.meta.get("need", "read"))
                if mailbox is not None:  # tenant-wide routes (/subscriptions) called app-only have none
                    state["mailbox"] = mailbox.address
                    key = (principal.client_id, mailbox.address.lower())
                    self.throttle.acquire(key)
                    state["throttle"] = key
        before = self.faults.take(
            request.method, request.path, state["mailbox"], ("status", "drop", "latency"), "before"
        )
        if before is not None:
            early = self._apply_fault(before, route, request)
            if early is not None:
                return early
        response = route.handler(request, **params)
        return self._after_faults(request, route, response, state["mailbox"])

    def _after_faults(self, request, route, response, mailbox):
        item_fault = self.faults.peek(request.method, request.path, mailbox, "item_malformed")
        if item_fault is not None and _corrupt_first_item(response):
            self.faults.consume(item_fault)
        after = self.faults.take(request.method, request.path, mailbox, ("drop", "latency", "malformed"), "after")
        if after is None:
            return response
        if after.kind == "malformed":
            body = response.body or b'{"value": [{"id": "'
            response.status = after.status or 200
            response.body = body[: max(1, len(body) // 2)]
            response.headers["Content-Type"] = "application/json"
            return response
        return self._apply_fault(after, route, request) or response

    def _apply_fault(self, fault, route, request):
        if fault.kind == "latency":
            time.sleep(fault.delay)
            return None
        if fault.kind == "drop":
            return Response(drop=True)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if route.area == "entra":
            code = "temporarily_unavailable" if fault.status >= 429 else "invalid_request"
            error = EntraError(
                fault.status,
                code,
                90033 if fault.status >= 429 else 9002313,
                "A transient error has occurred. Please try again."
                if fault.status >= 429
                else "Invalid request. Request is malformed or invalid.",
            )
            return Response(fault.status, error.body(), headers=headers)
        raise _fault_error(fault.status, headers)

    def _target_mailbox(self, principal, params, tenant_wide=False):
        user = params.pop("user", None)
        if user is None:
            if principal.app_only and tenant_wide:
                return None
            if principal.app_only:
                raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            return self.store.lookup_user(principal.address)
        mailbox = self.store.lookup_user(user)
        if not principal.app_only and mailbox.address.lower() != principal.address.lower():
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return mailbox

    @staticmethod
    def _graph_error(exc, request, request_id):
        body = exc.body(request_id, request.headers.get("client-request-id"))
        return Response(exc.status, body, headers=exc.headers, content_type="application/json")

    def _unrouted(self, request, allowed):
        if request.path.startswith("/_emulator"):
            return Response(404, {"error": f"no control route {request.method} {request.path}"})
        if allowed:
            error = GraphError(
                405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
            )
        else:
            segment = request.path.rstrip("/").rsplit("/", 1)[-1]
            error = GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        self._counters.record_request(f"{request.method} (unrouted)", None, error.status)
        return self._graph_error(error, request, str(uuid.uuid4()))


def _check_setting(key, value):
    default = DEFAULT_SETTINGS[key]
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or int(value) < 0:
            raise ValueError(f"setting {key} must be a non-negative number")
        return int(value)
    if key == "link_host":
        if value is not None and not (isinstance(value, str) and value.startswith(("https://", "http://"))):
            raise ValueError("link_host must be an http(s) URL or None")
        return value.rstrip("/") if value else None
    if not isinstance(value, type(default)):
        raise ValueError(f"setting {key} must be a {type(default).__name__}")
    return value


_FAULT_MESSAGES = {
    429: "Please retry again later.",
    503: "The service is currently unavailable. Please retry later.",
    504: "The operation has timed out.",
}


def _fault_error(status, headers):
    if status == 401:
        # as Graph refuses a token the client still holds as valid (its clock ahead of Microsoft's)
        error = unauthorized("Access token has expired or is not yet valid.")
        error.headers.update(headers)
        return error
    if status == 429:
        error = GraphError(
            429,
            "TooManyRequests",
            _FAULT_MESSAGES[429],
            headers=headers,
            inner={"code": "429", "message": "Please retry after", "status": "429"},
        )
    else:
        error = GraphError(
            status,
            GRAPH_ERROR_CODES.get(status, "UnknownError"),
            _FAULT_MESSAGES.get(status, f"Injected fault {status}."),
            headers=headers,
        )
    return error


def _corrupt_first_item(response):
    """``item_malformed``: break ``start.dateTime`` (or ``id``) of the first item of a ``value`` list."""
    data = response.json()
    items = data.get("value") if isinstance(data, dict) else None
    if not items or not isinstance(items[0], dict):
        return False
    item = items[0]
    if isinstance(item.get("start"), dict):
        item["start"]["dateTime"] = "not-a-date\u0000"
    else:
        item["id"] = None
    response.body = json_bytes(data)
    return True
