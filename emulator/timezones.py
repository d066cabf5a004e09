"""Time zones as Graph accepts them: Windows names (CLDR ``windowsZones`` mapping) and IANA names.

graph-reference F: ``timeZone`` accepts Windows names plus IANA names; responses are UTC unless
``Prefer: outlook.timezone``; the wire form of ``dateTime`` is ``2017-04-15T11:00:00.0000000``. An unknown time zone is
answered ``400 TimeZoneNotSupportedException`` ("A valid TimeZone value must be specified. The following TimeZone
value is not supported: '…'."), the code real Graph uses for event writes.
"""

import datetime
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import GraphError

UTC = datetime.timezone.utc

# CLDR windowsZones.xml, territory "001", shared with the sync engine (one table: engine/windows_zones.json).
WINDOWS_TO_IANA = json.loads((Path(__file__).resolve().parent.parent / "engine" / "windows_zones.json").read_text())[
    "zones"
]
_BY_LOWER = {name.lower(): iana for name, iana in WINDOWS_TO_IANA.items()}
_ALIASES = {"tzone://microsoft/utc": "Etc/UTC", "z": "Etc/UTC", "gmt": "Etc/UTC", "etc/gmt": "Etc/UTC"}
_FALLBACKS = {
    "Europe/Kiev": "Europe/Kyiv",
    "America/Nuuk": "America/Godthab",
    "Asia/Kolkata": "Asia/Calcutta",
    "Asia/Kathmandu": "Asia/Katmandu",
    "Asia/Yangon": "Asia/Rangoon",
}
_CACHE = {}
_WIRE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def unsupported(name):
    return GraphError(
        400,
        "TimeZoneNotSupportedException",
        f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.",
    )


def resolve(name):
    """Windows or IANA name -> ``tzinfo``; raises 400 ``TimeZoneNotSupportedException``."""
    if not isinstance(name, str) or not name.strip():
        raise unsupported(name)
    key = name.strip()
    if key in _CACHE:
        return _CACHE[key]
    iana = _BY_LOWER.get(key.lower()) or _ALIASES.get(key.lower()) or key
    zone = _load(iana) or _load(_FALLBACKS.get(iana))
    if zone is None or key.startswith(("/", ".")):
        raise unsupported(name)
    _CACHE[key] = zone
    return zone


def _load(iana):
    if not iana:
        return None
    if iana in ("Etc/UTC", "UTC"):
        return UTC
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        return None


def is_supported(name):
    try:
        resolve(name)
    except GraphError:
        return False
    return True


def to_utc(local, name):
    """Naive wall-clock time in zone ``name`` -> aware UTC datetime."""
    return local.replace(tzinfo=resolve(name)).astimezone(UTC)


def from_utc(moment, name):
    """Aware datetime -> naive wall-clock time in zone ``name``."""
    return moment.astimezone(resolve(name)).replace(tzinfo=None)


def parse_datetime(text, field="dateTime"):
    """Parse a Graph ``dateTime`` (``2017-04-15T11:00:00.0000000``, date only, optional ``Z``/offset).

    :return: ``(naive datetime, offset or None)`` where offset is a ``timedelta`` when the text carried one
    """
    match = _WIRE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise GraphError(
            400,
            "BadRequest",
            f"Cannot convert the literal '{text}' to the expected type 'Edm.DateTimeOffset' for {field}.",
        )
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        value = datetime.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError as exc:
        raise GraphError(400, "BadRequest", f"Cannot convert the literal '{text}' for {field}: {exc}") from exc
    offset = None
    if zone:
        offset = datetime.timedelta(0) if zone == "Z" else _offset(zone)
    return value, offset


def _offset(text):
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def parse_query_instant(text, name):
    """``startDateTime``-style query value -> aware UTC (offset honoured, none means UTC; graph-reference B.2)."""
    try:
        value, offset = parse_datetime(text.replace(" ", "+") if text else text, name)
    except GraphError as exc:
        raise GraphError(400, "ErrorInvalidParameter", f"The parameter '{name}' is invalid: '{text}'.") from exc
    return (value - (offset or datetime.timedelta(0))).replace(tzinfo=UTC)


def format_wire(local):
    """Naive datetime -> ``2017-04-15T11:00:00.0000000``."""
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0"


def format_utc(moment, digits=7):
    """Aware datetime -> ``2017-04-15T03:00:51.2453720Z`` (DateTimeOffset in UTC)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}0"[:digits]
    return text + "Z"
