"""Cross-cutting behaviour applied to every Graph / Entra request: counters, throttling, injected faults.

* Throttling per (app, mailbox): 4 concurrent in-flight requests (429 ``ApplicationThrottled`` "Application is over its
  MailboxConcurrency limit.") and 10,000 requests per 10 minutes (429 ``TooManyRequests``), both with ``Retry-After``
  (graph-reference C.1, C.2). Throttled requests still count toward the budget (C.2 guidance).
* Faults: ``status``, ``latency``, ``drop``, ``malformed``, ``item_malformed`` (graph-reference B.5: 503/504, broken
  pages; C.2: 429 + Retry-After).
* Counters: what the tests and benchmarks assert on (requests per normalised route, per mailbox, per status, messages
  Exchange would have sent, tokens issued).
"""

import collections
import itertools
import math
import re
import threading
import time

from .errors import GraphError

FAULT_KINDS = ("status", "latency", "drop", "malformed", "item_malformed")
# change notifications (graph-reference E): items delivered / dropped after retries, POST attempts, handshakes
NOTIFICATION_COUNTERS = (
    "notifications_sent",
    "notifications_failed",
    "notification_posts",
    "validations",
    "validations_failed",
    "lifecycle_sent",
    "lifecycle_failed",
)


class Counters:
    """Thread-safe request / message counters (see :meth:`snapshot` for the shape)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.requests_total = 0
            self.requests = collections.Counter()
            self.by_mailbox = collections.Counter()
            self.status = collections.Counter()
            self.throttled = 0
            self.batch_items = 0
            self.messages = []
            self.outlook_messages = []
            self.tokens_issued = 0
            self.faults_fired = 0
            self.notifications = collections.Counter()

    def record_request(self, key, mailbox, status, batch_item=False, throttled=False):
        with self._lock:
            self.requests_total += 1
            self.requests[key] += 1
            if mailbox:
                self.by_mailbox[mailbox] += 1
            self.status[str(status)] += 1
            self.throttled += bool(throttled)
            self.batch_items += bool(batch_item)

    def record_message(self, message, by_app):
        with self._lock:
            (self.messages if by_app else self.outlook_messages).append(dict(message))

    def record_notification(self, name, count=1):
        with self._lock:
            self.notifications[name] += count

    def record_token(self):
        with self._lock:
            self.tokens_issued += 1

    def record_fault(self):
        with self._lock:
            self.faults_fired += 1

    def snapshot(self):
        with self._lock:
            return {
                "requests_total": self.requests_total,
                "requests": dict(self.requests),
                "by_mailbox": dict(self.by_mailbox),
                "status": dict(self.status),
                "throttled": self.throttled,
                "batch_items": self.batch_items,
                "messages_sent": len(self.messages),
                "messages": [dict(m) for m in self.messages],
                "outlook_messages": len(self.outlook_messages),
                "outlook_message_log": [dict(m) for m in self.outlook_messages],
                "tokens_issued": self.tokens_issued,
                "faults_fired": self.faults_fired,
                **{name: self.notifications[name] for name in NOTIFICATION_COUNTERS},
            }


class Fault:
    _ids = itertools.count(1)

    def __init__(
        self,
        kind,
        method=None,
        path=None,
        mailbox=None,
        count=1,
        status=None,
        retry_after=None,
        delay=None,
        when="before",
    ):
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        if count is not None and int(count) < 1:
            raise ValueError("count must be >= 1 (or None for unlimited)")
        self.id = next(self._ids)
        self.kind, self.when = kind, when
        self.method = method.upper() if method else None
        self.path_text = path
        try:
            self.path = re.compile(path) if path else None
        except re.error as exc:
            raise ValueError(f"fault path is not a valid regular expression: {exc}") from exc
        self.mailbox = mailbox.lower() if mailbox else None
        self.count = None if count is None else int(count)
        self.status = int(status) if status else (503 if kind == "status" else None)
        self.retry_after = retry_after
        self.delay = float(delay or 0)

    def matches(self, method, path, mailbox):
        if self.method and self.method != method:
            return False
        if self.path and not self.path.search(path):
            return False
        return not self.mailbox or (mailbox or "").lower() == self.mailbox

    def describe(self):
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "path": self.path_text,
            "mailbox": self.mailbox,
            "count": self.count,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "when": self.when,
        }


class Faults:
    """Injected faults; each firing decrements ``count`` and the fault disappears at 0."""

    def __init__(self, counters):
        self._lock = threading.Lock()
        self._faults = []
        self._counters = counters

    def add(self, kind, **options):
        fault = Fault(kind, **options)
        with self._lock:
            self._faults.append(fault)
        return fault.describe()

    def clear(self):
        with self._lock:
            self._faults.clear()

    def list(self):
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def take(self, method, path, mailbox, kinds, when):
        """Consume and return the first matching fault among ``kinds`` firing ``when`` (or None)."""
        with self._lock:
            for fault in self._faults:
                timing = "after" if fault.kind in ("malformed", "item_malformed") else fault.when
                if fault.kind in kinds and timing == when and fault.matches(method, path, mailbox):
                    self._consume(fault)
                    return fault
        return None

    def _consume(self, fault):
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)
        self._counters.record_fault()

    def peek(self, method, path, mailbox, kind):
        with self._lock:
            return next((f for f in self._faults if f.kind == kind and f.matches(method, path, mailbox)), None)

    def consume(self, fault):
        with self._lock:
            if fault in self._faults:
                self._consume(fault)


class Throttle:
    """Per (app, mailbox) concurrency slots and sliding-window request budget (graph-reference C.1)."""

    def __init__(self, settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._in_flight = collections.Counter()
        self._history = collections.defaultdict(collections.deque)

    def reset(self):
        with self._lock:
            self._history.clear()

    def acquire(self, key):
        """Take a slot or raise a 429 :class:`GraphError`. Call :meth:`release` after a successful acquire."""
        now = time.monotonic()
        settings = self.settings
        with self._lock:
            history = self._history[key]
            window = float(settings["budget_window"])
            while history and history[0] <= now - window:
                history.popleft()
            over_budget = len(history) >= int(settings["request_budget"])
            if len(history) < 2 * int(settings["request_budget"]):
                history.append(now)  # throttled requests still count (graph-reference C.2)
            if over_budget:
                wait = max(1, math.ceil(history[0] + window - now))
                raise _throttled(wait, "TooManyRequests")
            if self._in_flight[key] >= int(settings["concurrency_limit"]):
                raise _throttled(settings["throttle_retry_after"], "ApplicationThrottled")
            self._in_flight[key] += 1

    def release(self, key):
        with self._lock:
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]


def _throttled(retry_after, code):
    if code == "ApplicationThrottled":
        error = GraphError(429, code, "Application is over its MailboxConcurrency limit.")
        error.headers["Retry-After"] = str(retry_after)
    else:
        error = GraphError(
            429,
            "TooManyRequests",
            "Please retry again later.",
            headers={"Retry-After": str(retry_after)},
            inner={"code": "429", "message": "Please retry after", "status": "429"},
        )
    error.throttled = True
    return error
