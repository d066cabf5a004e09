"""HTTPS transport, request/response objects and the path router.

A real ``ThreadingHTTPServer`` on loopback, TLS-wrapped per connection in the connection's own thread (a slow client
cannot stall ``accept``), HTTP/1.1 keep-alive like Graph (graph-reference I.5, K). Bodies are JSON unless a handler says
otherwise. Nothing here knows about Graph semantics: :mod:`.core` runs the pipeline (auth, throttling, faults,
counters) and the route modules answer.
"""

import json
import logging
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import GraphError

_logger = logging.getLogger(__name__)

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
MAX_BODY = 8 * 1024 * 1024


class Headers(dict):
    """Case-insensitive header mapping (keys stored lower-case)."""

    def __init__(self, items=()):
        super().__init__()
        for key, value in items:
            if key in self:  # repeated list headers (e.g. two Prefer lines) are joined, RFC 9110 5.3
                value = f"{self[key]}, {value}"
            self[key] = value

    def __setitem__(self, key, value):  # pylint: disable=missing-return # dict.__setitem__ returns nothing
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class Request:
    """One HTTP request (or one ``$batch`` item)."""

    def __init__(self, method, target, headers=None, body=b"", client="127.0.0.1"):
        parts = urlsplit(target)
        self.method = method.upper()
        self.target = target
        self.path = re.sub(r"/{2,}", "/", unquote(parts.path)) or "/"
        self.query_string = parts.query
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.headers = headers if isinstance(headers, Headers) else Headers((headers or {}).items())
        self.body = body or b""
        self.client = client
        self.batch_item = False
        self.context = {}  # filled by the pipeline: app, mailbox, prefer...

    def json(self):
        """Body as a JSON object; 400 ``BadRequest`` when it is not one."""
        if not self.body.strip():
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise GraphError(400, "BadRequest", f"Unable to read JSON request payload. {exc}") from exc
        if not isinstance(data, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. An object was expected.")
        return data

    def form(self):
        """``application/x-www-form-urlencoded`` body as a dict (first value wins)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        return dict(parse_qsl(text, keep_blank_values=True))


def json_bytes(data):
    """UTF-8 JSON; a text holding a lone surrogate (Exchange stores UTF-16, where one can hide) goes out
    ``\\ud800``-escaped, as .NET's serializer writes it, since UTF-8 cannot carry it."""
    try:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data).encode("ascii")


class Response:
    """Status, headers, body bytes. ``drop=True`` closes the connection without answering."""

    def __init__(self, status=200, body=b"", headers=None, content_type=None, drop=False):
        self.status = status
        self.headers = Headers((headers or {}).items())
        if isinstance(body, (dict, list)):
            body = json_bytes(body)
            content_type = content_type or JSON_TYPE
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        if content_type:
            self.headers["Content-Type"] = content_type
        self.drop = drop

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, ValueError):
            return None


def json_response(data, status=200, headers=None):
    return Response(status, data, headers=headers)


class Route:
    def __init__(self, method, template, handler, area, meta):
        self.method, self.template, self.handler, self.area, self.meta = method, template, handler, area, meta
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
        self.regex = re.compile(f"^{pattern}/?$", re.IGNORECASE if area == "graph" else 0)


class Router:
    """Ordered list of routes; ``{name}`` captures one path segment."""

    def __init__(self):
        self.routes = []

    def add(self, method, template, handler, area, **meta):
        self.routes.append(Route(method.upper(), template, handler, area, meta))

    def match(self, method, path):
        """:return: ``(route, params)``; ``(None, allowed_methods)`` when the path exists with another method."""
        allowed = set()
        for route in self.routes:
            found = route.regex.match(path)
            if not found:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, found.groupdict()
            allowed.add(route.method)
        return None, allowed


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections end after a minute

    def version_string(self):
        return self.server_version

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if not size:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _dispatch(self):
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.send_error(400)
            return
        request = Request(self.command, self.path, Headers(self.headers.items()), body, self.client_address[0])
        response = self.server.app.handle(request)
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(_title(key), value)
        self.send_header("Content-Length", str(len(response.body)))
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(response.body)
        self.flush_headers()  # status line, headers and body in one write

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        _logger.debug("emulator http: " + format, *args)


def _title(key):
    special = {
        "request-id": "request-id",
        "client-request-id": "client-request-id",
        "www-authenticate": "WWW-Authenticate",
    }
    return special.get(key, "-".join(part.capitalize() for part in key.split("-")))


class HTTPSServer(ThreadingHTTPServer):
    """Threaded HTTPS server; the TLS handshake runs in the connection thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, ssl_context):
        super().__init__(address, _Handler)
        self.app, self.ssl_context = app, ssl_context
        self._connections, self._connections_lock = set(), threading.Lock()

    def finish_request(self, request, client_address):
        request.settimeout(15)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle/delayed-ACK stalls
        try:
            connection = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            _logger.debug("emulator: TLS handshake with %s failed: %s", client_address, exc)
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            try:
                connection.close()
            except OSError:
                _logger.debug("emulator: closing a connection failed", exc_info=True)

    def handle_error(self, request, client_address):
        _logger.debug("emulator: connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self, wait=5.0):
        """Shut down every open keep-alive connection and wait for their threads to notice."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                _logger.debug("emulator: connection already closed")
        for _ in range(int(wait / 0.02)):  # counted, not clocked: freezegun may freeze time.monotonic()
            with self._connections_lock:
                if not self._connections:
                    return
            time.sleep(0.02)
