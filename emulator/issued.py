"""What the emulators of this process issued that must never reach a log line.

Authorization codes, access, refresh and ID tokens, and the client secrets apps were registered with. Every
:class:`~.entra.Entra` adds to the one process-wide :data:`ISSUED`, so that a test run's log guard
(``tools/pytest_plugins/outlook_odoo_quiet.py``) can check each log line against everything issued so far, whichever
emulator (test class) issued it. Nothing is removed: a token one test dropped can still be leaked by the next one.
A few hundred bytes per token: a demo or a benchmark issues a handful per mailbox and hour.
"""

import threading


class IssuedSecrets:
    """An append-only, thread-safe list of ``(kind, value)``; ``kind`` is ``code``, ``access_token``,
    ``refresh_token``, ``id_token`` or ``client_secret``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items = []

    def add(self, kind, value):
        if value:
            with self._lock:
                self._items.append((kind, value))

    def since(self, start):
        """The items issued after the first ``start`` ones (a reader keeps how many it has seen)."""
        with self._lock:
            return self._items[start:]

    def __len__(self):
        with self._lock:
            return len(self._items)


ISSUED = IssuedSecrets()
