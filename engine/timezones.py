"""Graph's time zone names (Windows or IANA) as Python zones (graph-reference F).

Graph writes Windows names (``W. Europe Standard Time``) in ``originalStartTimeZone`` and in recurrence
ranges, and accepts IANA names on input; Odoo speaks IANA. The Windows -> IANA table is CLDR's
(``windows_zones.json``, shared with the emulator).
"""

import json
from datetime import timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import MappingError, UnknownTimeZone

_TABLE = json.loads((Path(__file__).resolve().parent / "windows_zones.json").read_text(encoding="utf-8"))["zones"]
WINDOWS_TO_IANA = {name.lower(): iana for name, iana in _TABLE.items()}
ALIASES = {"utc": "UTC", "z": "UTC", "gmt": "UTC", "etc/utc": "UTC", "etc/gmt": "UTC", "tzone://microsoft/utc": "UTC"}


@lru_cache(maxsize=512)
def to_iana(name, default="UTC"):
    """The IANA name of a Windows or IANA zone name; ``default`` for an empty or unknown name."""
    key = name.strip() if isinstance(name, str) else ""
    if not key:
        return default
    iana = ALIASES.get(key.lower()) or WINDOWS_TO_IANA.get(key.lower()) or key
    try:
        ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        return default
    return iana


@lru_cache(maxsize=512)
def zone(name):
    """``tzinfo`` of a Windows or IANA name; raises :class:`UnknownTimeZone`."""
    key = name.strip() if isinstance(name, str) else ""
    iana = ALIASES.get(key.lower()) or WINDOWS_TO_IANA.get(key.lower()) or key
    if iana == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownTimeZone(f"unknown time zone {str(name)[:80]!r}") from exc


def utc_naive(local, tz_name, where="dateTime"):
    """A wall-clock datetime in ``tz_name`` (or an aware one) as a naive UTC datetime; raises
    :class:`MappingError` when that instant is beyond Python's years 1-9999 (9999-12-31 23:00 in Honolulu)."""
    if local.tzinfo is None:
        try:
            local = local.replace(tzinfo=zone(tz_name))
        except UnknownTimeZone as exc:
            raise UnknownTimeZone(f"{where}: {exc}") from exc
    try:
        return local.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError as exc:
        raise MappingError(f"{where}: {local.replace(tzinfo=None)} in {tz_name} is out of range") from exc
