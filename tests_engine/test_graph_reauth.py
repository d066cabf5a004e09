"""A 401 on an access token MSAL still holds as valid: one forced refresh and one more try, then reconnect."""

import pytest
from test_graph_auth import ANNA, connect, settings  # noqa: F401  (the fixtures of that module)

from emulator import Emulator
from graph.auth import MailboxAuth
from graph.errors import ReauthRequired
from graph.run import GraphRun

CLIENT_ID = "0c9b1d52-8f7e-4c3a-9f10-2b7d3e4a5c61"
SECRET = "engine-suite-secret"
REDIRECT = "https://odoo.example.test/microsoft_account/authentication"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.start()
        emulator.register_app(CLIENT_ID, SECRET, redirect_uris=[REDIRECT])
        emulator.add_mailbox(ANNA, display_name="Anna")
        yield emulator


@pytest.fixture()
def client_of(emu, settings):  # noqa: F811
    """``client_of()``: a connected mailbox's Graph client, built as the sync builds it (counters reset)."""

    def make():
        blob = connect(emu, settings)
        run = GraphRun(settings)
        auth = MailboxAuth(settings, run.session, blob)
        emu.reset_counters()
        return run.client(auth), auth

    yield make
    emu.clear_faults()


def test_revoked_access_token_is_refreshed_once_and_the_request_succeeds(emu, client_of):
    client, auth = client_of()
    emu.revoke_access_tokens(ANNA)  # MSAL's cache still holds the token as valid
    assert "value" in client.get_json("/me/events")
    assert emu.counters()["tokens_issued"] == 1  # one forced refresh
    assert emu.counters()["status"]["401"] == 1
    assert auth.cache_blob_if_changed()  # the new tokens are kept for the next run
    assert "value" in client.get_json("/me/events")  # the new token serves the next requests without a refresh
    assert emu.counters()["tokens_issued"] == 1


def test_one_injected_401_then_success(emu, client_of):
    client, _auth = client_of()
    emu.inject_fault("status", path=r"^/v1\.0/me/events$", status=401, count=1)
    assert "value" in client.get_json("/me/events")
    assert emu.counters()["tokens_issued"] == 1


def test_refused_refresh_needs_reconnection(emu, client_of):
    client, _auth = client_of()
    emu.revoke_access_tokens(ANNA)
    emu.revoke_refresh_tokens(ANNA)
    with pytest.raises(ReauthRequired) as caught:
        client.get_json("/me/events")
    assert caught.value.error == "invalid_grant"


def test_401_twice_needs_reconnection(emu, client_of):
    client, _auth = client_of()
    emu.inject_fault("status", path=r"^/v1\.0/me/events$", status=401, count=2)
    with pytest.raises(ReauthRequired, match="InvalidAuthenticationToken"):
        client.get_json("/me/events")
    assert emu.counters()["tokens_issued"] == 1  # one refresh only, no loop


def test_the_401_looks_like_graphs(emu, client_of):
    client, _auth = client_of()
    emu.inject_fault("status", path=r"^/v1\.0/me/events$", status=401, count=1)
    response = client.session.get(
        emu.graph_url + "/me/events", headers={"Authorization": f"Bearer {client.get_token()}"}, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def _events(client, count):
    return [
        client.request(
            "POST",
            "/me/events",
            json={
                "subject": f"Batched {n}",
                "start": {"dateTime": f"2031-01-0{n + 1}T09:00:00", "timeZone": "UTC"},
                "end": {"dateTime": f"2031-01-0{n + 1}T10:00:00", "timeZone": "UTC"},
            },
        ).json()["id"]
        for n in range(count)
    ]


def test_batch_item_401_is_refreshed_once_and_sent_again(emu, client_of):
    client, _auth = client_of()
    ids = _events(client, 3)
    emu.inject_fault("status", method="PATCH", path=r"/me/events/", status=401, count=2)
    answers = client.batch([("PATCH", f"/me/events/{event_id}", {"subject": "renamed"}) for event_id in ids])
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert emu.counters()["tokens_issued"] == 1
    assert {item["subject"] for item in emu.outlook.list_events(ANNA) if item["id"] in ids} == {"renamed"}


def test_batch_item_401_again_after_the_refresh_needs_reconnection(emu, client_of):
    client, _auth = client_of()
    ids = _events(client, 2)
    emu.inject_fault("status", method="PATCH", path=r"/me/events/", status=401, count=3)
    with pytest.raises(ReauthRequired):
        client.batch([("PATCH", f"/me/events/{event_id}", {"subject": "renamed"}) for event_id in ids])
    assert emu.counters()["tokens_issued"] == 1
