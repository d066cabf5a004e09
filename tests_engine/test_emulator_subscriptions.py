"""Emulator: change-notification subscriptions, the validation handshake and webhook delivery (graph-reference E),
against a tiny webhook receiver on 127.0.0.1 (stdlib ``http.server`` in a thread)."""

import collections
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from conftest import graph_caller
from webhook import Receiver

from emulator import Emulator
from emulator.control_client import EmulatorControl, EmulatorControlError
from emulator.subscriptions import VALIDATION_FAILED

ANNA, BOB = "anna@contoso.test", "bob@contoso.test"
IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}
FAST = {"notification_retries": 2, "notification_backoff_ms": 50, "notification_timeout": 1, "validation_timeout": 1}


@pytest.fixture()
def emu():
    with Emulator(**FAST) as emulator:
        emulator.add_mailbox(ANNA, "Anna")
        emulator.add_mailbox(BOB, "Bob")
        yield emulator


@pytest.fixture()
def receiver():
    hook = Receiver()
    yield hook
    hook.stop()


def later(minutes):
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def parse(stamp):
    return datetime.strptime(stamp[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def subscribe(graph, receiver, lifecycle=True, headers=None, **overrides):
    headers = IMMUTABLE if headers is None else headers
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": receiver.url(),
        "resource": "/me/events",
        "expirationDateTime": later(60),
        "clientState": "s3cret-state",
    }
    if lifecycle:
        body["lifecycleNotificationUrl"] = receiver.url("/lifecycle")
    body.update(overrides)
    return graph("POST", "/subscriptions", json=body, headers=headers)


def event_body(subject="Review", *attendees):
    return {
        "subject": subject,
        "start": {"dateTime": "2030-05-06T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-05-06T11:00:00", "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": a}, "type": "required"} for a in attendees],
    }


def wait(emu):
    assert emu.subscriptions.wait_idle(5), "notifications still queued"


# ------------------------------------------------------------
# Creation and the validation handshake
# ------------------------------------------------------------


def test_create_validates_both_urls_with_the_decoded_token(emu, graph, receiver):
    resp = subscribe(graph, receiver)
    assert resp.status_code == 201, resp.text
    sub = resp.json()
    assert sub["resource"] == "/me/events" and sub["changeType"] == "created,updated,deleted"
    assert sub["clientState"] == "s3cret-state" and sub["notificationUrl"] == receiver.url()
    assert sub["lifecycleNotificationUrl"] == receiver.url("/lifecycle") and sub["applicationId"] == "emulator-tests"
    validations = receiver.validations()
    assert [v["path"] for v in validations] == ["/notify", "/lifecycle"]
    for request in validations:
        assert request["headers"]["Content-Type"].startswith("text/plain")
        assert request["query"]["validationToken"].startswith("Validation: Testing client application")
        assert " " in request["query"]["validationToken"], "the receiver got it URL-encoded, decodes it itself"
        assert request["body"] == b""
    counters = emu.counters()
    assert (counters["validations"], counters["validations_failed"]) == (2, 0)
    assert counters["requests"]["POST /v1.0/subscriptions"] == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500},
        {"status": 202},
        {"body": "not the token"},
        {"content_type": "application/json"},
        {"delay": 1.6},  # validation_timeout is 1 s here (10 s by default)
    ],
    ids=["error", "not-200", "wrong-body", "wrong-type", "timeout"],
)
def test_failed_validation_refuses_the_subscription(emu, graph, receiver, answer):
    receiver.script.append(answer)
    resp = subscribe(graph, receiver, lifecycle=False)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidRequest"
    assert resp.json()["error"]["message"] == VALIDATION_FAILED
    assert emu.subscriptions.list() == []
    assert emu.counters()["validations_failed"] == 1


def test_failed_lifecycle_validation_refuses_too(emu, graph, receiver):
    receiver.script.extend([{}, {"status": 404}])
    resp = subscribe(graph, receiver)
    assert resp.status_code == 400 and resp.json()["error"]["message"] == VALIDATION_FAILED
    assert emu.subscriptions.list() == []


def test_expiration_is_bumped_to_45_minutes_and_capped(emu, graph, receiver):
    now = datetime.now(UTC)
    for asked in (later(5), later(-60)):
        sub = subscribe(graph, receiver, expirationDateTime=asked).json()
        assert timedelta(minutes=44) < parse(sub["expirationDateTime"]) - now < timedelta(minutes=46)
    sub = subscribe(graph, receiver, expirationDateTime=later(4230)).json()
    assert parse(sub["expirationDateTime"]) - now > timedelta(minutes=4229)
    too_long = subscribe(graph, receiver, expirationDateTime=later(4232))
    assert too_long.status_code == 400
    assert too_long.json()["error"] == {
        **too_long.json()["error"],
        "code": "InvalidRequest",
        "message": "Subscription expiration can only be 4230 minutes in the future.",
    }
    emu.configure(subscription_max_minutes=10080)
    assert subscribe(graph, receiver, expirationDateTime=later(10000)).status_code == 201


@pytest.mark.parametrize(
    "resource", ["/me/events", "me/events", "/users/{id}/events", "users/{upn}/events", "/Users/{upn}/Events"]
)
def test_resource_spellings(emu, graph, receiver, resource):
    anna = next(m for m in emu.mailboxes() if m["address"] == ANNA)
    resource = resource.format(id=anna["id"], upn=ANNA)
    resp = subscribe(graph, receiver, resource=resource)
    assert resp.status_code == 201, resp.text
    assert resp.json()["resource"] == resource
    assert emu.subscriptions.list()[0]["mailbox"] == ANNA


@pytest.mark.parametrize(
    "overrides, status, fragment",
    [
        ({"resource": f"/users/{BOB}/events"}, 403, "Access is denied"),
        ({"resource": "/me/messages"}, 400, "not supported"),
        ({"resource": "/me/calendarView"}, 400, "not supported"),
        ({"clientState": "x" * 129}, 400, "128"),
        ({"changeType": "created,moved"}, 400, "moved"),
        ({"changeType": ""}, 400, "changeType"),
        ({"notificationUrl": "https://odoo.example.com/outlook_calendar_sync/notify"}, 400, "loopback"),
        ({"notificationUrl": "http://10.0.0.1/notify"}, 400, "loopback"),
        ({"notificationUrl": "ftp://127.0.0.1/notify"}, 400, "http"),
        ({"lifecycleNotificationUrl": "https://example.com/lifecycle"}, 400, "loopback"),
        ({"expirationDateTime": "next week"}, 400, "expirationDateTime"),
        ({"expirationDateTime": None}, 400, "expirationDateTime"),
        ({"includeResourceData": True}, 400, "encryptionCertificate"),
    ],
)
def test_invalid_subscriptions_are_refused_before_any_call(emu, graph, receiver, overrides, status, fragment):
    resp = subscribe(graph, receiver, **overrides)
    assert resp.status_code == status, resp.text
    assert fragment in resp.json()["error"]["message"]
    assert receiver.requests == [] and emu.subscriptions.list() == []


def test_subscriptions_need_a_token_and_a_calendar_scope(emu, graph, receiver):
    assert subscribe(graph, receiver, headers={"Authorization": ""}).status_code == 401
    token = emu.issue_token(ANNA, scopes=("User.Read",))
    assert subscribe(graph, receiver, headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_app_only_subscribes_to_a_users_events(emu, graph_as, receiver):
    emu.register_app("daemon-app", "daemon-secret")
    call = graph_as(ANNA)
    form = {
        "client_id": "daemon-app",
        "client_secret": "daemon-secret",
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
    }
    token = call("POST", f"{emu.authority_url}/{emu.tenant_id}/oauth2/v2.0/token", data=form, token=None)
    token = token.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert subscribe(call, receiver, headers=auth).status_code == 400, "/me needs a delegated token"
    resp = subscribe(call, receiver, headers=auth, resource=f"/users/{BOB}/events")
    assert resp.status_code == 201, resp.text
    listed = call("GET", "/subscriptions", headers=auth).json()["value"]
    assert [s["id"] for s in listed] == [resp.json()["id"]]


# ------------------------------------------------------------
# Reading, renewing, deleting, reauthorizing
# ------------------------------------------------------------


def test_list_get_renew_delete(emu, graph, graph_as, receiver):
    sub = subscribe(graph, receiver).json()
    assert [s["id"] for s in graph("GET", "/subscriptions").json()["value"]] == [sub["id"]]
    assert graph("GET", f"/subscriptions/{sub['id']}").json()["clientState"] == "s3cret-state"
    # another user of the same app, and another app for the same user, see nothing
    assert graph_as(BOB)("GET", "/subscriptions").json()["value"] == []
    assert graph_as(BOB)("GET", f"/subscriptions/{sub['id']}").status_code == 404
    other_app = graph_as(ANNA, client_id="other-app")
    assert other_app("GET", f"/subscriptions/{sub['id']}").status_code == 404
    assert other_app("DELETE", f"/subscriptions/{sub['id']}").status_code == 404

    renewed = graph("PATCH", f"/subscriptions/{sub['id']}", json={"expirationDateTime": later(3000)})
    assert renewed.status_code == 200
    assert parse(renewed.json()["expirationDateTime"]) > parse(sub["expirationDateTime"]) + timedelta(hours=40)
    assert graph("PATCH", f"/subscriptions/{sub['id']}", json={"expirationDateTime": later(5000)}).status_code == 400
    assert graph("PATCH", f"/subscriptions/{sub['id']}", json={"resource": "/me/messages"}).status_code == 400

    assert graph("DELETE", f"/subscriptions/{sub['id']}").status_code == 204
    gone = graph("GET", f"/subscriptions/{sub['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ResourceNotFound"
    assert graph("PATCH", f"/subscriptions/{sub['id']}", json={"expirationDateTime": later(60)}).status_code == 404


def test_renewing_to_a_new_url_validates_it(emu, graph, receiver):
    sub = subscribe(graph, receiver, lifecycle=False).json()
    receiver.script.append({"status": 500})
    moved = graph("PATCH", f"/subscriptions/{sub['id']}", json={"notificationUrl": receiver.url("/other")})
    assert moved.status_code == 400 and moved.json()["error"]["message"] == VALIDATION_FAILED
    moved = graph("PATCH", f"/subscriptions/{sub['id']}", json={"notificationUrl": receiver.url("/other")})
    assert moved.status_code == 200 and moved.json()["notificationUrl"] == receiver.url("/other")


def test_expired_subscription_is_gone_and_silent(emu, graph, receiver):
    sub = subscribe(graph, receiver).json()
    emu.subscriptions.expire(sub["id"])
    assert graph("GET", "/subscriptions").json()["value"] == []
    assert graph("PATCH", f"/subscriptions/{sub['id']}", json={"expirationDateTime": later(60)}).status_code == 404
    graph("POST", "/me/events", json=event_body())
    wait(emu)
    assert receiver.posts() == []
    assert emu.subscriptions.list()[0]["expired"] is True


# ------------------------------------------------------------
# Delivery
# ------------------------------------------------------------


def test_graph_writes_are_notified_with_the_documented_shape(emu, graph, receiver):
    sub = subscribe(graph, receiver).json()
    anna = next(m for m in emu.mailboxes() if m["address"] == ANNA)
    created = graph("POST", "/me/events", json=event_body(), headers=IMMUTABLE).json()
    wait(emu)
    [item] = receiver.notifications()
    resource = f"Users/{anna['id']}/Events/{created['id']}"
    assert item == {
        "subscriptionId": sub["id"],
        "subscriptionExpirationDateTime": sub["expirationDateTime"],
        "changeType": "created",
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": created["@odata.etag"],
            "id": created["id"],
        },
        "clientState": "s3cret-state",
        "tenantId": emu.tenant_id,
    }
    post = receiver.posts()[0]
    assert post["headers"]["Content-Type"].startswith("application/json")

    patched = graph("PATCH", f"/me/events/{created['id']}", json={"subject": "Moved"}, headers=IMMUTABLE).json()
    wait(emu)
    assert receiver.notifications()[-1]["changeType"] == "updated"
    assert receiver.notifications()[-1]["resourceData"]["@odata.etag"] == patched["@odata.etag"]
    graph("DELETE", f"/me/events/{created['id']}")
    wait(emu)
    assert [n["changeType"] for n in receiver.notifications()] == ["created", "updated", "deleted"]
    assert emu.counters()["notifications_sent"] == 3
    # reads notify nothing
    graph("GET", "/me/events")
    wait(emu)
    assert len(receiver.notifications()) == 3


def test_delivery_never_happens_inside_the_write(emu, graph, receiver):
    subscribe(graph, receiver)
    receiver.script.append({"delay": 0.8})
    started = time.monotonic()
    assert graph("POST", "/me/events", json=event_body()).status_code == 201
    assert time.monotonic() - started < 0.5, "the write waited for the webhook"
    wait(emu)
    assert emu.counters()["notifications_sent"] == 1


def test_change_types_filter_and_rest_ids_without_prefer(emu, graph, receiver):
    subscribe(graph, receiver, headers={}, changeType="updated")
    created = graph("POST", "/me/events", json=event_body()).json()  # REST id: no Prefer header
    graph("PATCH", f"/me/events/{created['id']}", json={"subject": "Renamed"})
    graph("DELETE", f"/me/events/{created['id']}")
    wait(emu)
    [item] = receiver.notifications()
    assert item["changeType"] == "updated" and item["resourceData"]["id"] == created["id"]
    assert not created["id"].startswith("AAkALgAAAAAAHYQDEapmEc2byACqAC")


def test_outlook_edits_and_attendee_copies_are_notified(emu, graph, graph_as, receiver):
    anna_sub = subscribe(graph, receiver).json()
    bob_sub = subscribe(graph_as(BOB), receiver, lifecycle=False, clientState="bob-state").json()
    meeting = emu.outlook.create_event(ANNA, event_body("Board", BOB))
    wait(emu)
    by_sub = collections.defaultdict(list)
    for item in receiver.notifications():
        by_sub[item["subscriptionId"]].append((item["changeType"], item["resourceData"]["id"]))
    bob_copy = next(e for e in emu.outlook.list_events(BOB) if e["iCalUId"] == meeting["iCalUId"])
    assert by_sub == {anna_sub["id"]: [("created", meeting["id"])], bob_sub["id"]: [("created", bob_copy["id"])]}

    def step(action, *args):
        seen = len(receiver.notifications())
        action(*args)
        wait(emu)
        return sorted((n["subscriptionId"] == bob_sub["id"], n["changeType"]) for n in receiver.notifications()[seen:])

    # the organizer's edit reaches Bob's copy; Bob's answer updates Anna's attendee status; the cancellation
    # deletes Anna's item and marks Bob's copy cancelled
    assert step(emu.outlook.update_event, ANNA, meeting["id"], {"subject": "Board (moved)"}) == [
        (False, "updated"),
        (True, "updated"),
    ]
    assert step(emu.outlook.respond, BOB, bob_copy["id"], "accepted") == [(False, "updated"), (True, "updated")]
    assert step(emu.outlook.cancel_event, ANNA, meeting["id"]) == [(False, "deleted"), (True, "updated")]
    assert {n["clientState"] for n in receiver.notifications() if n["subscriptionId"] == bob_sub["id"]} == {"bob-state"}
    assert emu.counters()["messages_sent"] == 0, "Outlook's own mails are outlook_messages"


def test_batch_items_are_notified(emu, graph, receiver):
    subscribe(graph, receiver)
    batch = {
        "requests": [
            {
                "id": str(i),
                "method": "POST",
                "url": "/me/events",
                "body": event_body(f"E{i}"),
                "headers": {"Content-Type": "application/json"},
            }
            for i in range(3)
        ]
    }
    assert graph("POST", "/$batch", json=batch).status_code == 200
    wait(emu)
    assert [n["changeType"] for n in receiver.notifications()] == ["created"] * 3


def test_failed_deliveries_are_retried_with_backoff_then_dropped(emu, graph, receiver):
    subscribe(graph, receiver)
    receiver.script.extend([{"status": 500}, {"status": 503}])
    graph("POST", "/me/events", json=event_body())
    wait(emu)
    posts = receiver.posts()
    assert len(posts) == 3 and len(receiver.notifications()) == 3, "the same notification, three times"
    assert posts[1]["at"] - posts[0]["at"] >= 0.045 and posts[2]["at"] - posts[1]["at"] >= 0.095
    counters = emu.counters()
    assert (counters["notifications_sent"], counters["notifications_failed"], counters["notification_posts"]) == (
        1,
        0,
        3,
    )

    receiver.script.extend([{"status": 500}, {"status": 410}, {"delay": 1.5}])  # 1 + 2 retries, all failing
    graph("POST", "/me/events", json=event_body("Second"))
    time.sleep(1.2)
    wait(emu)
    counters = emu.counters()
    assert (counters["notifications_sent"], counters["notifications_failed"], counters["notification_posts"]) == (
        1,
        1,
        6,
    )
    assert [d["outcome"] for d in emu.subscriptions.deliveries()][-3:] == ["retry", "retry", "dropped"]


def test_unreachable_receiver_counts_as_failed(emu, graph, receiver):
    subscribe(graph, receiver, lifecycle=False)
    receiver.stop()
    graph("POST", "/me/events", json=event_body())
    wait(emu)
    assert emu.counters()["notifications_failed"] == 1
    assert emu.subscriptions.deliveries()[-1]["error"]


def test_pause_holds_notifications_until_resume(emu, graph, receiver):
    subscribe(graph, receiver)
    emu.subscriptions.pause()
    graph("POST", "/me/events", json=event_body())
    assert emu.subscriptions.wait_idle(0.3) is False
    assert receiver.posts() == []
    emu.subscriptions.resume()
    wait(emu)
    assert len(receiver.notifications()) == 1


# ------------------------------------------------------------
# Lifecycle notifications
# ------------------------------------------------------------


def test_lifecycle_events(emu, graph, receiver):
    sub = subscribe(graph, receiver).json()
    emu.subscriptions.fire(sub["id"], "reauthorizationRequired")
    wait(emu)
    [item] = receiver.notifications("/lifecycle")
    assert item == {
        "subscriptionId": sub["id"],
        "subscriptionExpirationDateTime": sub["expirationDateTime"],
        "tenantId": emu.tenant_id,
        "clientState": "s3cret-state",
        "lifecycleEvent": "reauthorizationRequired",
    }
    assert emu.subscriptions.list()[0]["reauthorizationRequired"] is True
    assert graph("POST", f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    assert emu.subscriptions.list()[0]["reauthorizationRequired"] is False
    emu.subscriptions.fire(sub["id"], "reauthorizationRequired")
    graph("PATCH", f"/subscriptions/{sub['id']}", json={"expirationDateTime": later(120)})
    assert emu.subscriptions.list()[0]["reauthorizationRequired"] is False, "a renewal reauthorizes too"

    emu.subscriptions.fire(sub["id"], "missed")
    emu.subscriptions.fire(sub["id"], "subscriptionRemoved")
    wait(emu)
    assert [n["lifecycleEvent"] for n in receiver.notifications("/lifecycle")] == [
        "reauthorizationRequired",
        "reauthorizationRequired",
        "missed",
        "subscriptionRemoved",
    ]
    assert graph("GET", f"/subscriptions/{sub['id']}").status_code == 404
    assert emu.counters()["lifecycle_sent"] == 4
    assert receiver.notifications() == [], "lifecycle events never go to the notification URL"


def test_lifecycle_needs_a_lifecycle_url_and_a_known_event(emu, graph, receiver):
    sub = subscribe(graph, receiver, lifecycle=False).json()
    with pytest.raises(ValueError):
        emu.subscriptions.fire(sub["id"], "missed")
    with pytest.raises(ValueError):
        emu.subscriptions.fire(sub["id"], "exploded")
    with pytest.raises(KeyError):
        emu.subscriptions.fire("nope", "missed")


# ------------------------------------------------------------
# Control API over HTTP
# ------------------------------------------------------------


def test_control_api_over_http(emu, graph, receiver):
    control = EmulatorControl(emu.base_url, emu.ca_path)
    sub = subscribe(graph, receiver).json()
    [listed] = control.subscriptions.list()
    assert listed["id"] == sub["id"] and listed["mailbox"] == ANNA and listed["clientState"] == "s3cret-state"
    control.subscriptions.pause()
    control.outlook.create_event(ANNA, event_body())
    assert control.subscriptions.wait_idle(0.2) is False
    control.subscriptions.resume()
    assert control.subscriptions.wait_idle(5) is True
    assert control.counters()["notifications_sent"] == 1
    assert control.subscriptions.deliveries()[-1]["outcome"] == "delivered"
    control.subscriptions.fire(sub["id"], "missed")
    assert control.subscriptions.wait_idle(5) and control.counters()["lifecycle_sent"] == 1
    assert control.subscriptions.expire(sub["id"])["expired"] is True
    with pytest.raises(EmulatorControlError) as info:
        control.subscriptions.fire("nope", "missed")
    assert info.value.status == 404
    with pytest.raises(EmulatorControlError) as info:
        control.subscriptions.fire(sub["id"], "exploded")
    assert info.value.status == 400
    assert control.subscriptions.clear() == 1 and control.subscriptions.list() == []
    control.reset_counters()
    assert control.counters()["notifications_sent"] == 0


def test_a_restarted_emulator_delivers_again(receiver, tmp_path):
    emulator = Emulator(state_dir=str(tmp_path), **FAST)  # the same CA after the restart
    emulator.add_mailbox(ANNA)
    session = requests.Session()
    session.trust_env = False
    for _ in range(2):
        emulator.start()
        try:
            assert subscribe(graph_caller(emulator, session), receiver).status_code == 201
            emulator.outlook.create_event(ANNA, event_body())
            wait(emulator)
        finally:
            emulator.stop()
    session.close()
    assert len(receiver.notifications()) == 1 + 2, "the first subscription outlives the restart, as all state does"
