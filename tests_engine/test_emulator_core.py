"""Emulator core: TLS, Graph authentication errors, /me and calendars, counters, control API over HTTP, CLI."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from emulator import Emulator
from emulator.control_client import EmulatorControl, EmulatorControlError

ANNA, BOB = "anna@contoso.test", "bob@contoso.test"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA, "Anna Smith")
        emulator.add_mailbox(BOB)
        yield emulator


def test_tls_certificate_is_verified_against_the_emulator_ca(emu):
    assert emu.base_url.startswith("https://127.0.0.1:")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emu.base_url + "/_emulator/health", verify="/etc/ssl/certs/ca-certificates.crt", timeout=5)
    assert requests.get(emu.base_url + "/_emulator/health", verify=emu.ca_path, timeout=5).json()["status"] == "ok"
    localhost = emu.base_url.replace("127.0.0.1", "localhost")
    assert requests.get(localhost + "/_emulator/health", verify=emu.ca_path, timeout=5).status_code == 200


@pytest.mark.parametrize(
    "header, message",
    [
        (None, "Access token is empty."),
        ("Bearer not-a-token", "CompactToken parsing failed with error code: 80049217"),
        ("Basic abc", "Access token is empty."),
    ],
)
def test_graph_requires_a_bearer_token(graph, header, message):
    response = graph("GET", "/me", token=None, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and error["message"] == message
    assert {"date", "request-id", "client-request-id"} <= set(error["innerError"])
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_expired_access_token(emu, graph):
    token = emu.issue_token(BOB)
    assert graph("GET", "/me", token=token).status_code == 200
    assert emu.expire_access_tokens(BOB) >= 1
    response = graph("GET", "/me", token=token)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Lifetime validation failed, the token is expired."
    assert graph("GET", "/me").status_code == 200  # anna's token untouched


def test_me_and_calendars(emu, graph):
    me = graph("GET", "/me").json()
    assert me["mail"] == ANNA and me["userPrincipalName"] == ANNA and me["displayName"] == "Anna Smith"
    assert me["givenName"] == "Anna" and me["surname"] == "Smith" and me["id"]
    calendar = graph("GET", "/me/calendar").json()
    assert calendar["name"] == "Calendar" and calendar["isDefaultCalendar"] and calendar["canEdit"]
    assert calendar["owner"] == {"name": "Anna Smith", "address": ANNA}
    listed = graph("GET", "/me/calendars").json()["value"]
    assert [c["id"] for c in listed] == [calendar["id"]]
    assert graph("GET", f"/me/calendars/{calendar['id']}").json()["id"] == calendar["id"]
    assert graph("GET", "/me/calendars/nope").status_code == 404
    assert graph("GET", "/ME/Calendar").status_code == 200  # Graph paths are case-insensitive


def test_users_path_and_access_rules(emu, graph):
    assert graph("GET", f"/users/{ANNA}").json()["mail"] == ANNA
    me_id = graph("GET", "/me").json()["id"]
    assert graph("GET", f"/users/{me_id}/calendar").status_code == 200
    other = graph("GET", f"/users/{BOB}/calendar")
    assert other.status_code == 403 and other.json()["error"]["code"] == "ErrorAccessDenied"
    missing = graph("GET", "/users/ghost@contoso.test")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ErrorInvalidUser"


def test_scopes_are_enforced(emu, graph):
    token = emu.issue_token(ANNA, scopes=("Calendars.Read",))
    assert graph("GET", "/me", token=token).status_code == 403
    assert graph("GET", "/me/calendar", token=token).status_code == 200


def test_unknown_graph_segment(graph):
    response = graph("GET", "/me/nothingHere")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Resource not found for the segment 'nothingHere'."


def test_counters_normalise_paths_and_count_status(emu, graph):
    emu.reset_counters()
    graph("GET", "/me")
    graph("GET", "/me")
    graph("GET", "/me/calendars/whatever")
    graph("GET", "/me", token="bad")
    counters = emu.counters()
    assert counters["requests_total"] == 4
    assert counters["requests"] == {"GET /v1.0/me": 3, "GET /v1.0/me/calendars/{calendar_id}": 1}
    assert counters["status"] == {"200": 2, "404": 1, "401": 1}
    assert counters["by_mailbox"] == {ANNA: 3}
    assert counters["messages_sent"] == 0 and counters["messages"] == [] and counters["throttled"] == 0
    emu.reset_counters()
    assert emu.counters()["requests_total"] == 0


def test_control_api_over_http(emu, graph):
    control = EmulatorControl(emu.base_url, emu.ca_path)
    assert control.health()["status"] == "ok"
    assert control.tenant_id == emu.tenant_id and control.graph_url == emu.graph_url
    created = control.add_mailbox("carol@contoso.test", "Carol C")
    assert created["displayName"] == "Carol C" and created["id"]
    assert "carol@contoso.test" in [m["address"] for m in control.mailboxes()]
    control.register_app("ctl-app", "ctl-secret", ["https://x.test/cb"], name="Ctl")
    assert emu.entra.apps["ctl-app"].redirect_uris == ["https://x.test/cb"]
    control.reset_counters()
    graph("GET", "/me")
    assert control.counters()["requests"] == {"GET /v1.0/me": 1}
    fault = control.inject_fault("status", path="/v1.0/me$", status=503, count=2)
    assert fault["count"] == 2 and control.faults()[0]["status"] == 503
    assert graph("GET", "/me").status_code == 503
    control.clear_faults()
    assert graph("GET", "/me").status_code == 200
    assert control.configure(list_page_size=25)["list_page_size"] == 25
    assert emu.settings["list_page_size"] == 25
    control.configure(list_page_size=10)
    token = emu.issue_token("carol@contoso.test")
    assert control.expire_access_tokens("carol@contoso.test") == 1
    assert graph("GET", "/me", token=token).status_code == 401
    with pytest.raises(EmulatorControlError) as info:
        control.configure(no_such_knob=1)
    assert info.value.status == 400


def _wait_for(path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            with contextlib.suppress(ValueError):  # written half-way: read it again
                return json.loads(path.read_text())
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_until_signal(tmp_path, stop_signal):
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--state-dir",
            str(state),
            "--app",
            "cli-app:cli-secret:https://odoo.test:8069/cb",
            "--mailbox",
            ANNA,
            "--seed-demo",
            BOB,
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        info = _wait_for(state / "emulator.json")
        assert info["pid"] == process.pid and info["base_url"].startswith("https://127.0.0.1:")
        assert set(info) >= {"base_url", "ca_path", "graph_url", "authority_url", "tenant_id", "pid"}
        control = EmulatorControl.from_state_dir(str(state))
        assert [m["address"] for m in control.mailboxes()] == [ANNA, BOB]
        assert len(control.outlook.list_events(BOB)) >= 45 and control.outlook.list_events(ANNA) == []
        discovery = requests.get(
            f"{info['authority_url']}/common/v2.0/.well-known/openid-configuration", verify=info["ca_path"], timeout=5
        )
        assert discovery.status_code == 200
        process.send_signal(stop_signal)
        _out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err.decode()
    assert not (state / "emulator.json").exists()
    assert b"cli-app" in err and b"Traceback" not in err
    assert (state / "ca.pem").exists()


def test_state_dir_keeps_the_ca_between_runs(tmp_path):
    with Emulator(state_dir=str(tmp_path)) as first:
        ca = Path(first.ca_path).read_bytes()
        assert Path(first.ca_bundle_path).read_bytes().endswith(ca)
    with Emulator(state_dir=str(tmp_path)) as second:
        assert Path(second.ca_path).read_bytes() == ca  # a browser that trusted it keeps trusting it
        assert (
            requests.get(second.base_url + "/_emulator/health", verify=str(tmp_path / "ca.pem"), timeout=5).status_code
            == 200
        )


def test_stop_leaves_no_threads_behind():
    before = set(threading.enumerate())
    emulator = Emulator().start()
    emulator.add_mailbox(ANNA)
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {emulator.issue_token(ANNA)}"}
    for _ in range(3):  # keep-alive connection left open on purpose
        assert session.get(emulator.graph_url + "/me", headers=headers, verify=emulator.ca_path).status_code == 200
    emulator.stop()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", emulator.port), timeout=2)


def test_master_categories_need_the_mailbox_settings_permission(emu, graph):
    path = "/me/outlook/masterCategories"
    for method, kw in (("GET", {}), ("POST", {"json": {"displayName": "Odoo sync error", "color": "preset0"}})):
        response = graph(method, path, **kw)  # Calendars.ReadWrite + User.Read only
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "ErrorAccessDenied"
    read_only = emu.issue_token(ANNA, scopes=("MailboxSettings.Read",))
    assert graph("GET", path, token=read_only).json()["value"] == []
    assert graph("POST", path, token=read_only, json={"displayName": "x"}).status_code == 403
    assert emu.store.mailbox(ANNA).master_categories == []


def test_master_categories_are_created_once_with_their_color(emu, graph):
    token = emu.issue_token(ANNA, scopes=("MailboxSettings.ReadWrite",))
    path = "/me/outlook/masterCategories"
    created = graph("POST", path, token=token, json={"displayName": "Odoo sync error", "color": "preset0"})
    assert created.status_code == 201, created.text
    assert created.json()["displayName"] == "Odoo sync error" and created.json()["color"] == "preset0"
    duplicate = graph("POST", path, token=token, json={"displayName": "odoo SYNC error", "color": "preset4"})
    assert duplicate.status_code == 409
    assert graph("POST", path, token=token, json={"displayName": "Bad", "color": "purple"}).status_code == 400
    assert graph("POST", path, token=token, json={"color": "preset1"}).status_code == 400
    listed = graph("GET", f"/users/{ANNA}/outlook/masterCategories", token=token).json()["value"]
    assert [(c["displayName"], c["color"]) for c in listed] == [("Odoo sync error", "preset0")]
    emu.store.mailbox(ANNA).master_categories.clear()
