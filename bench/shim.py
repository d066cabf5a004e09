"""Transport shim that points Odoo's built-in ``microsoft_calendar`` at the emulator (benchmark processes only).

The built-in asserts that every URL's host is ``graph.microsoft.com`` or ``login.microsoftonline.com`` and calls the
module-level ``requests.request`` (graph-reference L), so nothing in it can be configured to reach a local server.
:func:`install` wraps ``requests.Session.request`` in *this process*: URLs on those two hosts go to the emulator, with
its CA as ``verify``; every other URL is left alone. Neither the built-in nor our add-on is changed; the emulator
writes its ``@odata.nextLink``/``@odata.deltaLink`` on ``https://graph.microsoft.com`` (setting ``link_host``) while
the built-in runs, and the shim brings those back to it too.
"""

import requests

MICROSOFT_HOSTS = ("https://graph.microsoft.com", "https://login.microsoftonline.com")
_original = None


def install(emulator_base_url, ca_path):
    """Reroute Microsoft's hosts to ``emulator_base_url`` for every ``requests`` call of this process."""
    global _original
    if _original is not None:
        return
    _original = requests.Session.request
    base = emulator_base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        text = str(url)
        for host in MICROSOFT_HOSTS:
            if text.startswith(host + "/") or text == host:
                url = base + text[len(host) :]
                kwargs["verify"] = ca_path
                break
        return _original(self, method, url, *args, **kwargs)

    requests.Session.request = request


def uninstall():
    global _original
    if _original is not None:
        requests.Session.request = _original
        _original = None
