"""The webhook's body parser (graph/notifications.py) against hostile input: any body either gives typed,
bounded notifications or raises MalformedNotifications -- never another exception (the webhook's 400 and
"no traceback" rest on this)."""

import json
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from graph.notifications import (
    MAX_BODY,
    MAX_CLIENT_STATE,
    MAX_ITEMS,
    MAX_TEXT,
    MalformedNotifications,
    Notification,
    parse_notifications,
)

SUBSCRIPTION = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
CHANGE = {
    "subscriptionId": SUBSCRIPTION,
    "subscriptionExpirationDateTime": "2026-11-24T18:23:45.9356913Z",
    "changeType": "updated",
    "resource": "Users/ff4d2f73/Events/AAMkAGI2",
    "resourceData": {
        "@odata.type": "#Microsoft.Graph.Event",
        "@odata.id": "Users/ff4d2f73/Events/AAMkAGI2",
        "@odata.etag": 'W/"DwAAABYAAAA"',
        "id": "AAMkAGI2",
    },
    "clientState": "secretClientValue",
    "tenantId": "bb8775a4-4d8c-42cf-a1d4-4d58c2bb668f",
}
LIFECYCLE = {
    "subscriptionId": SUBSCRIPTION,
    "subscriptionExpirationDateTime": "2026-11-24T18:23:45.9356913Z",
    "tenantId": "bb8775a4-4d8c-42cf-a1d4-4d58c2bb668f",
    "clientState": "secretClientValue",
    "lifecycleEvent": "reauthorizationRequired",
}
# the keys the add-on reads, where a wrong type must be refused
READ_KEYS = ("subscriptionId", "clientState", "changeType", "lifecycleEvent", "resourceData")
DATA_KEYS = ("id", "@odata.etag")


def body(*items, **extra):
    return json.dumps({"value": list(items), **extra}).encode()


def assert_well_typed(notifications):
    """What the webhook's callers rely on."""
    assert isinstance(notifications, list)
    assert len(notifications) <= MAX_ITEMS
    for notification in notifications:
        assert isinstance(notification, Notification)
        assert isinstance(notification.subscription_id, str) and notification.subscription_id
        assert isinstance(notification.client_state, str) and len(notification.client_state) <= MAX_CLIENT_STATE
        for text in (notification.subscription_id, notification.client_state, notification.change_type,
                     notification.lifecycle_event, notification.resource_id, notification.etag):  # fmt: skip
            assert text is None or (isinstance(text, str) and len(text) <= MAX_TEXT and "\x00" not in text)
            if text:
                text.encode("utf-8")  # never a lone surrogate


def parsed_or_refused(data):
    try:
        notifications = parse_notifications(data)
    except MalformedNotifications as exc:
        assert str(exc)
        return None
    assert_well_typed(notifications)
    return notifications


# any JSON value, with the strings a database or hmac chokes on
json_text = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | json_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
    max_leaves=20,
)


def test_graph_notifications_are_read():
    [change] = parse_notifications(body(CHANGE))
    assert change == Notification(
        subscription_id=SUBSCRIPTION,
        client_state="secretClientValue",
        change_type="updated",
        resource_id="AAMkAGI2",
        etag='W/"DwAAABYAAAA"',
    )
    [lifecycle] = parse_notifications(body(LIFECYCLE))
    assert (lifecycle.lifecycle_event, lifecycle.change_type, lifecycle.resource_id) == (
        "reauthorizationRequired",
        None,
        None,
    )
    assert parse_notifications(b'{"value": []}') == []
    # a notification without clientState never matches a subscription, but is well-formed
    assert parse_notifications(body(dict(CHANGE, clientState=None)))[0].client_state == ""
    # what Graph may add one day is ignored
    assert len(parse_notifications(body(dict(CHANGE, encryptedContent={"data": "x"}), validationTokens=["t"]))) == 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"null",
        b"not json",
        b"[]",
        b'["value"]',
        b'{"value": "x"}',
        b'{"value": {"0": {}}}',
        b'{"value": [1]}',
        b'{"value": [null]}',
        b'{"value": [{}]}',
        b'{"value": [{"subscriptionId": ""}]}',
        json.dumps({"value": [CHANGE], "extra": float("nan")}).encode(),  # NaN is not JSON
        b'{"value": [], "value": []}',  # duplicate keys: no single meaning
        b'{"value": [{"subscriptionId": "a", "subscriptionId": "b"}]}',
        body(CHANGE).decode().encode("utf-16"),  # JSON must be UTF-8
        b'{"value": [{"subscriptionId": "\xff\xfe"}]}',  # not UTF-8
        b'{"value": [{"subscriptionId": "\\ud800"}]}',  # a lone surrogate
        b'{"value": [{"subscriptionId": "a\\u0000b"}]}',  # PostgreSQL refuses NUL in text
        body(dict(CHANGE, subscriptionId=[SUBSCRIPTION])),
        body(dict(CHANGE, subscriptionId={"id": SUBSCRIPTION})),
        body(dict(CHANGE, subscriptionId=42)),
        body(dict(CHANGE, subscriptionId="x" * (MAX_TEXT + 1))),
        body(dict(CHANGE, clientState="x" * (MAX_CLIENT_STATE + 1))),
        body(dict(CHANGE, clientState=["secretClientValue"])),
        body(dict(CHANGE, resourceData="AAMkAGI2")),
        body(dict(CHANGE, resourceData={"id": ["AAMkAGI2"]})),
        body(dict(CHANGE, changeType=1)),
        b'{"value": [], "n": ' + b"9" * 5000 + b"}",  # a huge number
        *(body(*[CHANGE] * (MAX_ITEMS + 1)),),
    ],
)
def test_malformed_bodies_are_refused(data):
    with pytest.raises(MalformedNotifications):
        parse_notifications(data)


@pytest.mark.parametrize("depth", [50, 5000, MAX_BODY // 2])
def test_deep_nesting_is_refused_or_read_without_recursion_error(depth):
    nested = b'{"value": [], "x": ' + b"[" * depth + b"]" * depth + b"}"
    deep_item = b'{"value": [' + b'{"a": ' * depth + b"1" + b"}" * depth + b"]}"
    for data in (nested, deep_item, b"[" * depth):
        if len(data) <= MAX_BODY:
            parsed_or_refused(data)  # never RecursionError
    with pytest.raises(MalformedNotifications):
        parse_notifications(b'{"value": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")


def test_oversized_body_is_refused():
    with pytest.raises(MalformedNotifications):
        parse_notifications(b" " * (MAX_BODY + 1))
    with pytest.raises(MalformedNotifications):
        parse_notifications(None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
@example(b'{"value": [{"subscriptionId": "\\udfff"}]}')
def test_any_bytes_give_notifications_or_a_refusal(data):
    parsed_or_refused(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_values)
def test_any_json_document_gives_notifications_or_a_refusal(document):
    parsed_or_refused(json.dumps(document).encode())
    parsed_or_refused(json.dumps({"value": document}).encode())
    parsed_or_refused(json.dumps({"value": [document]}).encode())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=st.sampled_from([CHANGE, LIFECYCLE]),
    key=st.sampled_from(READ_KEYS + tuple(f"resourceData.{k}" for k in DATA_KEYS) + ("resource", "tenantId")),
    value=json_values,
)
def test_a_wrong_type_anywhere_is_refused_and_right_types_are_read(template, key, value):
    """Graph's notification with one value replaced by anything: refused unless it still has Graph's type."""
    item = json.loads(json.dumps(template))
    if key.startswith("resourceData."):
        item.setdefault("resourceData", {})[key.split(".", 1)[1]] = value
    else:
        item[key] = value
    notifications = parsed_or_refused(json.dumps({"value": [CHANGE, item]}).encode())
    if key in ("resource", "tenantId"):  # not read by the add-on: any value is fine
        assert notifications is not None and len(notifications) == 2
        return
    name = key.split(".", 1)[-1]
    string_ok = isinstance(value, str) and "\x00" not in value and len(value) <= MAX_TEXT and _encodable(value)
    if name == "clientState":
        acceptable = value is None or (string_ok and len(value) <= MAX_CLIENT_STATE)
    elif name == "subscriptionId":
        acceptable = string_ok and bool(value)
    elif name == "resourceData":
        acceptable = value is None or (
            isinstance(value, dict)
            and all(
                value.get(k) is None
                or (isinstance(value[k], str) and "\x00" not in value[k] and len(value[k]) <= MAX_TEXT)
                and _encodable(value[k])
                for k in DATA_KEYS
            )
        )
    else:
        acceptable = value is None or string_ok
    assert (notifications is not None) == acceptable, (key, value)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "subscriptionId": st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=64),
                "clientState": st.text(max_size=MAX_CLIENT_STATE).filter(lambda s: "\x00" not in s and _encodable(s)),
                "changeType": st.sampled_from(["created", "updated", "deleted"]),
                "resourceData": st.fixed_dictionaries(
                    {"id": st.text(alphabet=string.ascii_letters, min_size=1, max_size=40)}
                ),
            }
        ),
        max_size=20,
    )
)
def test_every_well_formed_notification_is_kept(items):
    notifications = parse_notifications(body(*items))
    assert [(n.subscription_id, n.client_state, n.resource_id) for n in notifications] == [
        (i["subscriptionId"], i["clientState"], i["resourceData"]["id"]) for i in items
    ]


def _encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
