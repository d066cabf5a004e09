"""What the browser tours need beyond Odoo's tour runner: screenshots on request, and a way to the
emulator's consent page, whose HTTPS certificate Chromium does not trust.

* **Screenshots.** A tour step logs ``outlook_screenshot:<name>``; the test asks Chrome for the page
  (``Page.captureScreenshot``), writes ``.run/screenshots/<name>.png`` (or ``$OUTLOOK_SCREENSHOTS``) and then
  marks ``<body data-outlook-shot="<name>">``, which the tour's next step waits for: the picture is taken
  before the tour goes on. Odoo's own screenshots (on failure) stay where Odoo writes them.
* **The emulator's pages.** Odoo's test browser already routes every request that does not go to Odoo
  through the test (``Fetch.requestPaused``; Odoo answers 404 to external ones). Requests to the emulator
  are relayed instead: sent by the test with ``requests``, TLS verified against the emulator's CA, and the
  emulator's real answer (page, form post, redirect) handed to Chromium as is. Chromium thus renders the
  emulator's consent page and follows its redirect back to Odoo, without trusting any certificate itself.
* **The click on Accept.** The tour runtime lives in Odoo's pages only; on the emulator's origin a script
  the test registers (``Page.addScriptToEvaluateOnNewDocument``) takes the screenshot and clicks the real
  Accept button. The tour resumes when Odoo's page loads again (tours keep their step in localStorage).
"""

import base64
import json
import logging
import os
import re
from pathlib import Path

import requests

from odoo.tests.common import ChromeBrowser

_logger = logging.getLogger(__name__)

SHOT_PREFIX = "outlook_screenshot:"
SCREENSHOTS = Path(
    os.environ.get("OUTLOOK_SCREENSHOTS") or Path(__file__).resolve().parents[1] / ".run" / "screenshots"
)
HOP_HEADERS = {"connection", "content-length", "content-encoding", "transfer-encoding", "keep-alive"}

CONSENT_CLICKER = """
(() => {
    if (location.origin !== %(origin)s) { return; }
    document.addEventListener("DOMContentLoaded", async () => {
        const accept = document.getElementById("accept");
        if (!accept) { return; }
        console.log(%(signal)s);
        const deadline = Date.now() + 10000;
        while (document.body.dataset.outlookShot !== %(name)s && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        accept.click();
    });
})();
"""


class OutlookTourMixin:
    """Mix into an ``HttpCase`` that also has ``self.emulator`` (``OutlookEmulatorMixin``)."""

    browser_size = "1280,800"
    consent_screenshot = "consent"  # name of the consent page's screenshot

    def setUp(self):
        super().setUp()
        self.screenshots = []
        original_init = ChromeBrowser.__init__
        test = self

        def init(browser, *args, **kwargs):
            original_init(browser, *args, **kwargs)
            test._outlook_instrument(browser)

        self.patch(ChromeBrowser, "__init__", init)

    def _outlook_instrument(self, browser):
        on_console = browser._handlers["Runtime.consoleAPICalled"]
        on_request = browser._handlers["Fetch.requestPaused"]

        def console(type, args=None, **kwargs):  # noqa: A002 -- Chrome's event parameter name
            value = str((args or [{}])[0].get("value", ""))
            if type == "log" and value.startswith(SHOT_PREFIX):
                self._outlook_screenshot(browser, value[len(SHOT_PREFIX) :])
            return on_console(type=type, args=args, **kwargs)

        def request(**params):
            if params["request"]["url"].startswith(self.emulator.base_url):
                return self._outlook_relay(browser, params)
            return on_request(**params)

        browser._handlers["Runtime.consoleAPICalled"] = console
        browser._handlers["Fetch.requestPaused"] = request
        script = CONSENT_CLICKER % {
            "origin": json.dumps(self.emulator.base_url.rstrip("/")),
            "signal": json.dumps(SHOT_PREFIX + self.consent_screenshot),
            "name": json.dumps(self.consent_screenshot),
        }
        browser._websocket_request("Page.addScriptToEvaluateOnNewDocument", params={"source": script})

    def _outlook_screenshot(self, browser, name):
        """Capture the page, save it, then tell the page (the tour waits for ``data-outlook-shot``)."""
        if not re.fullmatch(r"[\w-]+", name):
            raise ValueError(f"bad screenshot name {name!r}")
        future = browser._websocket_send("Page.captureScreenshot", params={"format": "png"}, with_future=True)

        def saved(done):
            try:
                png = base64.b64decode(done.result()["data"])
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                (SCREENSHOTS / f"{name}.png").write_bytes(png)
                self.screenshots.append(name)
            except Exception:  # a missing picture must not hide the test's own outcome
                _logger.exception("outlook: screenshot %s not saved", name)
            browser._websocket_send(
                "Runtime.evaluate", params={"expression": f"document.body.dataset.outlookShot = {json.dumps(name)}"}
            )

        future.add_done_callback(saved)

    def _outlook_relay(self, browser, params):
        """Answer a paused request to the emulator with the emulator's real answer (over verified TLS)."""
        request = params["request"]
        body = request.get("postData")
        if body is None and request.get("postDataEntries"):
            body = b"".join(base64.b64decode(entry.get("bytes", "")) for entry in request["postDataEntries"])
        headers = {
            name: value
            for name, value in request.get("headers", {}).items()
            if name.lower() in ("content-type", "accept", "accept-language", "cookie")
        }
        try:
            answer = requests.request(
                request["method"],
                request["url"],
                data=body,
                headers=headers,
                verify=self.emulator.ca_path,
                allow_redirects=False,
                timeout=10,
            )
        except requests.RequestException as exc:
            _logger.warning("outlook: emulator request %s failed: %s", request["url"], exc)
            browser._websocket_send(
                "Fetch.failRequest", params={"requestId": params["requestId"], "errorReason": "ConnectionFailed"}
            )
            return
        browser._websocket_send(
            "Fetch.fulfillRequest",
            params={
                "requestId": params["requestId"],
                "responseCode": answer.status_code,
                "responseHeaders": [
                    {"name": name, "value": value}
                    for name, value in answer.headers.items()
                    if name.lower() not in HOP_HEADERS
                ],
                "body": base64.b64encode(answer.content).decode(),
            },
        )
