"""The Graph client's subscription calls (graph/client.py) against the emulator and a local webhook receiver
(graph-reference E): create with the validation handshake, renew, reauthorize, delete, typed errors."""

from datetime import UTC, datetime, timedelta

import pytest
from webhook import Receiver

from emulator import Emulator
from graph.client import CalendarClient
from graph.errors import GraphError, ReauthRequired
from graph.http import make_session

ANNA = "anna@contoso.test"


@pytest.fixture()
def emu():
    with Emulator(notification_retries=0, validation_timeout=1) as emulator:
        emulator.add_mailbox(ANNA, "Anna")
        yield emulator


@pytest.fixture()
def receiver():
    hook = Receiver()
    yield hook
    hook.stop()


@pytest.fixture()
def token(emu):
    return {"value": emu.issue_token(ANNA, client_id="odoo-app")}


@pytest.fixture()
def client(emu, token):
    session = make_session(emu.ca_path)
    yield CalendarClient(session, emu.graph_url, lambda: token["value"])
    session.close()


def in_hours(hours):
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(hours=hours)


def subscribe(client, receiver, hours=48):
    return client.create_subscription(receiver.url(), receiver.url("/lifecycle"), "state-123", in_hours(hours))


def test_create_subscribes_to_my_events_with_immutable_ids(emu, client, receiver):
    sub = subscribe(client, receiver)
    assert sub["resource"] == "/me/events" and sub["changeType"] == "created,updated,deleted"
    assert sub["clientState"] == "state-123" and sub["lifecycleNotificationUrl"] == receiver.url("/lifecycle")
    assert sub["expirationDateTime"].startswith(in_hours(48).strftime("%Y-%m-%dT%H:%M"))
    assert [v["path"] for v in receiver.validations()] == ["/notify", "/lifecycle"]
    [stored] = emu.subscriptions.list()
    assert stored["immutableIds"] is True and stored["mailbox"] == ANNA and stored["applicationId"] == "odoo-app"
    # the notification names the event by the id the client knows (immutable: Prefer on every request)
    created = client.create_event(
        {
            "subject": "Ping",
            "start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-01T10:30:00", "timeZone": "UTC"},
        },
        "tx-1",
        "42",
    )
    assert emu.subscriptions.wait_idle(5)
    assert [n["resourceData"]["id"] for n in receiver.notifications()] == [created["id"]]


def test_create_without_lifecycle_url(emu, client, receiver):
    sub = client.create_subscription(receiver.url(), None, "state", in_hours(1))
    assert sub["lifecycleNotificationUrl"] is None and len(receiver.validations()) == 1


def test_failed_validation_is_a_typed_400(emu, client, receiver):
    receiver.script.append({"status": 404})
    with pytest.raises(GraphError) as info:
        subscribe(client, receiver)
    assert (info.value.status, info.value.code) == (400, "InvalidRequest")
    assert "validation request failed" in str(info.value)
    assert emu.subscriptions.list() == []


def test_too_long_a_lifetime_is_a_typed_400(emu, client, receiver):
    with pytest.raises(GraphError) as info:
        subscribe(client, receiver, hours=80)
    assert info.value.status == 400 and "4230 minutes" in str(info.value)


def test_renew_and_reauthorize(emu, client, receiver):
    sub = subscribe(client, receiver, hours=2)
    renewed = client.renew_subscription(sub["id"], in_hours(60))
    assert renewed["id"] == sub["id"] and renewed["expirationDateTime"] > sub["expirationDateTime"]
    emu.subscriptions.fire(sub["id"], "reauthorizationRequired")
    assert emu.subscriptions.list()[0]["reauthorizationRequired"] is True
    assert client.reauthorize_subscription(sub["id"]) is None
    assert emu.subscriptions.list()[0]["reauthorizationRequired"] is False
    assert emu.counters()["requests"]["POST /v1.0/subscriptions/{subscription_id}/reauthorize"] == 1


def test_renewing_a_gone_subscription_is_a_typed_404(emu, client, receiver):
    sub = subscribe(client, receiver)
    emu.subscriptions.expire(sub["id"])
    for call in (
        lambda: client.renew_subscription(sub["id"], in_hours(24)),
        lambda: client.reauthorize_subscription(sub["id"]),
    ):
        with pytest.raises(GraphError) as info:
            call()
        assert info.value.status == 404


def test_delete_is_idempotent(emu, client, receiver):
    sub = subscribe(client, receiver)
    client.delete_subscription(sub["id"])
    assert emu.subscriptions.list() == []
    client.delete_subscription(sub["id"])  # already gone: no error
    assert emu.counters()["status"].get("404") == 1


def test_expired_token_is_reauth_required(emu, client, receiver, token):
    sub = subscribe(client, receiver)
    emu.expire_access_tokens(ANNA)
    with pytest.raises(ReauthRequired):
        client.delete_subscription(sub["id"])
    token["value"] = emu.issue_token(ANNA, client_id="other-app")
    with pytest.raises(GraphError) as info:
        client.renew_subscription(sub["id"], in_hours(24))
    assert info.value.status == 404, "another app cannot touch it"
