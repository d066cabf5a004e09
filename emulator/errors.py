"""Error bodies of Microsoft Graph and Microsoft Entra ID, byte for byte where the reference gives them.

* Graph: ``{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`` (graph-reference
  A.2, B.6, C.2, J).
* Entra token endpoint: ``{"error","error_description","error_codes","timestamp","trace_id","correlation_id",
  "error_uri"}`` + optional ``suberror`` / ``claims`` (graph-reference J).
"""

import datetime
import uuid

GRAPH_ERROR_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "ErrorAccessDenied",
    404: "ErrorItemNotFound",
    405: "BadRequest",
    409: "ErrorIrresolvableConflict",
    410: "SyncStateNotFound",
    412: "ErrorIrresolvableConflict",
    424: "FailedDependency",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "UnknownError",
    503: "UnknownError",
    504: "UnknownError",
}


def utc_stamp(moment=None, digits=0):
    """``2024-05-01T10:00:00Z`` (or with ``digits`` fractional digits)."""
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    text = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}{'0' * 7}"[:digits]
    return text + "Z"


class GraphError(Exception):
    """A Graph-shaped error answer: ``status`` + ``code`` + ``message`` (+ extra headers, e.g. Retry-After)."""

    def __init__(self, status, code, message, headers=None, inner=None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})
        self.inner = dict(inner or {})

    def body(self, request_id, client_request_id=None):
        inner = {"date": utc_stamp(), "request-id": request_id, "client-request-id": client_request_id or request_id}
        inner.update(self.inner)
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}


def graph_error(status, code=None, message=None, **kw):
    return GraphError(status, code or GRAPH_ERROR_CODES.get(status, "UnknownError"), message or "", **kw)


def bad_request(message, code="ErrorInvalidRequest"):
    return GraphError(400, code, message)


def not_found(message="The specified object was not found in the store."):
    return GraphError(404, "ErrorItemNotFound", message)


def throttled_body_error(retry_after):
    """429 body of graph-reference C.2 (the "Please retry again later." variant)."""
    return GraphError(
        429,
        "TooManyRequests",
        "Please retry again later.",
        headers={"Retry-After": str(retry_after)},
        inner={"code": "429", "message": "Please retry after", "status": "429"},
    )


class EntraError(Exception):
    """An OAuth error of the token endpoint (graph-reference J)."""

    def __init__(self, status, error, aadsts, description, suberror=None, claims=None):
        super().__init__(f"{error} AADSTS{aadsts}")
        self.status, self.error, self.aadsts = status, error, aadsts
        self.description, self.suberror, self.claims = description, suberror, claims

    def body(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = now.strftime("%Y-%m-%d %H:%M:%S") + "Z"
        body = {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.aadsts}: {self.description}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
            ),
            "error_codes": [self.aadsts],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.aadsts}",
        }
        if self.suberror:
            body["suberror"] = self.suberror
        if self.claims:
            body["claims"] = self.claims
        return body
