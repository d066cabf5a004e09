"""The body of a Graph change-notification POST, read strictly (see doc/graph-change-notifications.md).

The webhook is public and unauthenticated: whatever arrives goes through :func:`parse_notifications` first,
which either returns plain, typed :class:`Notification` values or raises :class:`MalformedNotifications`.
Nothing else escapes it (no ``RecursionError``, ``TypeError`` or ``UnicodeError``), so the webhook answers
every hostile body with a 400 and the code after it only ever sees bounded, NUL-free, UTF-8-encodable
strings.
"""

import json
from dataclasses import dataclass

MAX_BODY = 1024 * 1024  # bytes: far above what Graph sends (notifications without resource data are small)
MAX_ITEMS = 1000  # notifications in one POST
MAX_TEXT = 1024  # characters of any string the add-on reads (Graph's ids and etags are far shorter)
MAX_CLIENT_STATE = 128  # Graph's own limit on a subscription's clientState


class MalformedNotifications(ValueError):
    """The body is not Graph's ``{"value": [notification, ...]}``: ``str(exc)`` says why (for the log)."""


@dataclass(frozen=True)
class Notification:
    """What the add-on reads of one notification; every text is a bounded ``str`` or ``None``."""

    subscription_id: str
    client_state: str  # "" when Graph sent none (such a notification never matches a subscription)
    change_type: str = None  # change notifications: created / updated / deleted
    lifecycle_event: str = None  # lifecycle notifications: reauthorizationRequired / missed / subscriptionRemoved
    resource_id: str = None  # resourceData.id: the event's Graph id
    etag: str = None  # resourceData["@odata.etag"]


def parse_notifications(body):
    """The notifications of a webhook body.

    :param body: the raw request body (``bytes``), at most :data:`MAX_BODY` long
    :return: a list of :class:`Notification` (empty when Graph sent an empty ``value``)
    :raises MalformedNotifications: anything that is not Graph's JSON, or that breaks its types
    """
    if not isinstance(body, bytes | bytearray) or len(body) > MAX_BODY:
        raise MalformedNotifications("the body is missing or too large")
    try:
        text = bytes(body).decode("utf-8")
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_int=_bounded_int)
    except RecursionError:
        raise MalformedNotifications("the JSON is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise MalformedNotifications(f"not UTF-8 JSON ({type(exc).__name__})") from None
    items = document.get("value") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise MalformedNotifications('not Graph\'s {"value": [...]}')
    if len(items) > MAX_ITEMS:
        raise MalformedNotifications(f"more than {MAX_ITEMS} notifications in one request")
    return [_notification(item, index) for index, item in enumerate(items)]


def _notification(item, index):
    if not isinstance(item, dict):
        raise MalformedNotifications(f"notification {index} is not an object")
    data = item.get("resourceData")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise MalformedNotifications(f"notification {index}: resourceData is not an object")
    subscription_id = _text(item, "subscriptionId", index, required=True)
    if not subscription_id:
        raise MalformedNotifications(f"notification {index}: subscriptionId is empty")
    return Notification(
        subscription_id=subscription_id,
        client_state=_text(item, "clientState", index, limit=MAX_CLIENT_STATE) or "",
        change_type=_text(item, "changeType", index),
        lifecycle_event=_text(item, "lifecycleEvent", index),
        resource_id=_text(data, "id", index),
        etag=_text(data, "@odata.etag", index),
    )


def _text(values, key, index, required=False, limit=MAX_TEXT):
    """``values[key]``: a string the database and ``hmac`` accept, or ``None`` when absent or null."""
    value = values.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise MalformedNotifications(f"notification {index}: {key} is not a string")
    if len(value) > limit or "\x00" in value:
        raise MalformedNotifications(f"notification {index}: {key} is too long or holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): valid JSON, but no valid text
        raise MalformedNotifications(f"notification {index}: {key} is not valid Unicode") from None
    return value


def _unique_keys(pairs):
    """An object whose keys are unique: ``{"value": [...], "value": []}`` has no single meaning."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return result


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _bounded_int(digits):
    # Graph sends no number the add-on reads; a very long literal would only cost time
    if len(digits) > 100:
        raise ValueError("number too long")
    return int(digits)
