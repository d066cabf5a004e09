"""Pure test suite: put the repository root on sys.path (the root __init__.py imports odoo, so the pure packages
``engine``, ``graph`` and ``emulator`` are imported as top-level packages), and the Graph caller the emulator tests
share.

Tests that use ``graph`` or ``graph_as`` define an ``emu`` fixture (an :class:`emulator.Emulator` with the mailboxes
they need); these fixtures call that emulator's Graph over HTTPS, verified with its CA.
"""

import sys
from pathlib import Path

import pytest
import requests

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DEFAULT_ADDRESS = "anna@contoso.test"


def graph_caller(emu, session, address=DEFAULT_ADDRESS, client_id="emulator-tests"):
    """``call(method, path, headers=None, token=<address's token>, **kw)`` -> ``requests.Response``.

    ``path`` is relative to ``emu.graph_url`` (``/me/events``) or an absolute URL (a nextLink); an explicit
    ``Authorization`` header wins over the token, ``token=None`` sends none.
    """
    default_token = emu.issue_token(address, client_id=client_id)

    def call(method, path, headers=None, token=default_token, **kw):
        url = path if path.startswith("https://") else emu.graph_url + path
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return session.request(method, url, headers=headers, verify=emu.ca_path, timeout=10, **kw)

    return call


@pytest.fixture()
def graph_as(emu):
    """``graph_as(address, client_id="emulator-tests")``: a Graph caller for that mailbox, on its own session
    (``trust_env = False``: this machine's ``REQUESTS_CA_BUNDLE`` would override ``verify``), closed after the test."""
    sessions = []

    def make(address=DEFAULT_ADDRESS, client_id="emulator-tests"):
        session = requests.Session()
        session.trust_env = False
        sessions.append(session)
        return graph_caller(emu, session, address, client_id)

    yield make
    for session in sessions:
        session.close()


@pytest.fixture()
def graph(graph_as):
    """Graph as anna@contoso.test."""
    return graph_as(DEFAULT_ADDRESS)
