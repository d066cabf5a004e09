"""HTTP client of the ``/_emulator`` control API, for a CLI-started emulator in another process.

Same method names as :class:`emulator.Emulator` (and ``.outlook``). Every call passes ``verify=<ca.pem>`` itself:
a session-level ``verify`` would be replaced by ``REQUESTS_CA_BUNDLE`` (graph-reference K).
"""

import json
import os

import requests


class EmulatorControlError(RuntimeError):
    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class _Caller:
    def __init__(self, base_url, ca_path, timeout):
        self.base_url, self.ca_path, self.timeout = base_url.rstrip("/"), ca_path, timeout
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: no proxies, no REQUESTS_CA_BUNDLE override

    def __call__(self, method, path, payload=None):
        response = self.session.request(
            method, f"{self.base_url}/_emulator{path}", json=payload, verify=self.ca_path, timeout=self.timeout
        )
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text}
        if response.status_code >= 400:
            raise EmulatorControlError(response.status_code, data.get("error") if isinstance(data, dict) else data)
        return data


class OutlookControl:
    """``EmulatorControl.outlook``: the "as Outlook would" edits over HTTP."""

    def __init__(self, call):
        self._call = call

    def create_event(self, address, payload):
        return self._call("POST", f"/outlook/{address}/events", payload)

    def update_event(self, address, event_id, patch):
        return self._call("PATCH", f"/outlook/{address}/events/{event_id}", patch)

    def delete_event(self, address, event_id):
        return self._call("DELETE", f"/outlook/{address}/events/{event_id}")

    def cancel_event(self, address, event_id, comment=None):
        return self._call("POST", f"/outlook/{address}/events/{event_id}/cancel", {"comment": comment})

    def corrupt_event(self, address, event_id, properties, drop=()):
        return self._call(
            "POST", f"/outlook/{address}/events/{event_id}/corrupt", {"properties": properties, "drop": list(drop)}
        )

    def respond(self, address, event_id, response, comment=None, send_response=True):
        return self._call(
            "POST",
            f"/outlook/{address}/events/{event_id}/respond",
            {"response": response, "comment": comment, "send_response": send_response},
        )

    def get_event(self, address, event_id):
        return self._call("GET", f"/outlook/{address}/events/{event_id}")

    def list_events(self, address):
        return self._call("GET", f"/outlook/{address}/events")

    def instances(self, address, event_id, start, end):
        return self._call(
            "GET", f"/outlook/{address}/events/{event_id}/instances", {"start": str(start), "end": str(end)}
        )

    def seed_events(self, address, payloads):
        return self._call("POST", f"/outlook/{address}/seed", {"events": list(payloads)})

    def seed_demo(self, address):
        return self._call("POST", f"/outlook/{address}/seed-demo")


class SubscriptionsControl:
    """``EmulatorControl.subscriptions``: change-notification subscriptions and their delivery over HTTP."""

    def __init__(self, call):
        self._call = call

    def list(self):
        return self._call("GET", "/subscriptions")

    def clear(self):
        return self._call("DELETE", "/subscriptions")["cleared"]

    def fire(self, subscription_id, event):
        """``event``: ``reauthorizationRequired``, ``missed`` or ``subscriptionRemoved`` (which deletes it)."""
        return self._call("POST", f"/subscriptions/{subscription_id}/lifecycle", {"event": event})

    def expire(self, subscription_id):
        return self._call("POST", f"/subscriptions/{subscription_id}/expire")

    def deliveries(self):
        return self._call("GET", "/notifications")

    def pause(self):
        self._call("POST", "/notifications/pause")

    def resume(self):
        self._call("POST", "/notifications/resume")

    def wait_idle(self, timeout=10.0):
        return self._call("POST", "/notifications/wait", {"timeout": timeout})["idle"]


class EmulatorControl:
    """Drive an emulator over HTTP: ``EmulatorControl(base_url, ca_path)``."""

    def __init__(self, base_url, ca_path, timeout=30):
        self._call = _Caller(base_url, ca_path, timeout)
        self.base_url, self.ca_path = self._call.base_url, ca_path
        self.outlook = OutlookControl(self._call)
        self.subscriptions = SubscriptionsControl(self._call)
        self._info = None

    @classmethod
    def from_state_dir(cls, state_dir, timeout=30):
        """Attach to the emulator whose CLI wrote ``state_dir/emulator.json``."""
        with open(os.path.join(state_dir, "emulator.json"), encoding="utf-8") as handle:
            info = json.load(handle)
        return cls(info["base_url"], info["ca_path"], timeout=timeout)

    def info(self):
        if self._info is None:
            self._info = self._call("GET", "/info")
        return self._info

    authority_url = property(lambda self: self.info()["authority_url"])
    graph_url = property(lambda self: self.info()["graph_url"])
    tenant_id = property(lambda self: self.info()["tenant_id"])
    ca_bundle_path = property(lambda self: self.info()["ca_bundle_path"])

    def health(self):
        return self._call("GET", "/health")

    def register_app(self, client_id, client_secret, redirect_uris=None, name="Odoo"):
        return self._call(
            "POST",
            "/apps",
            {"client_id": client_id, "client_secret": client_secret, "redirect_uris": redirect_uris, "name": name},
        )

    def add_mailbox(self, address, display_name=None):
        return self._call("POST", "/mailboxes", {"address": address, "display_name": display_name})

    def mailboxes(self):
        return self._call("GET", "/mailboxes")

    def counters(self):
        return self._call("GET", "/counters")

    def reset_counters(self):
        self._call("POST", "/counters/reset")

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
        return self._call(
            "POST",
            "/faults",
            {
                "kind": kind,
                "method": method,
                "path": path,
                "mailbox": mailbox,
                "count": count,
                "status": status,
                "retry_after": retry_after,
                "delay": delay,
                "when": when,
            },
        )

    def faults(self):
        return self._call("GET", "/faults")

    def clear_faults(self):
        self._call("DELETE", "/faults")

    def configure(self, **settings):
        return self._call("POST", "/settings", settings)

    def expire_access_tokens(self, address=None):
        return self._call("POST", "/tokens/expire-access", {"address": address})["expired"]

    def revoke_access_tokens(self, address=None):
        return self._call("POST", "/tokens/revoke-access", {"address": address})["revoked"]

    def revoke_refresh_tokens(self, address=None, aadsts=700082):
        return self._call("POST", "/tokens/revoke-refresh", {"address": address, "aadsts": aadsts})["revoked"]

    def expire_auth_codes(self):
        return self._call("POST", "/tokens/expire-codes")["expired"]

    def expire_delta_tokens(self, address=None):
        return self._call("POST", "/delta/expire", {"address": address})["expired"]

    def reset_throttling(self):
        self._call("POST", "/throttling/reset")

    def consent(self, auth_uri, account=None, decision="accept"):
        return self._call("POST", "/consent", {"auth_uri": auth_uri, "account": account, "decision": decision})
