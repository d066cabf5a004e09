"""Time zones as Graph accepts them: Windows names (CLDR ``windowsZones`` mapping) and IANA names.

graph-reference F: ``timeZone`` accepts Windows names plus IANA names; responses are UTC unless
``Prefer: outlook.timezone``; the wire form of ``dateTime`` is ``2017-04-15T11:00:00.0000000``. An unknown time zone is
answered ``400 TimeZoneNotSupportedException`` ("A valid TimeZone value must be specified. The following TimeZone
value is not supported: '…'."), the code real Graph uses for event writes.
"""

import datetime
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import GraphError

UTC = datetime.timezone.utc

# CLDR windowsZones.xml, territory "001" (the canonical IANA zone of each Windows zone).
WINDOWS_TO_IANA = {
    "Dateline Standard Time": "Etc/GMT+12", "UTC-11": "Etc/GMT+11", "Aleutian Standard Time": "America/Adak",
    "Hawaiian Standard Time": "Pacific/Honolulu", "Marquesas Standard Time": "Pacific/Marquesas",
    "Alaskan Standard Time": "America/Anchorage", "UTC-09": "Etc/GMT+9",
    "Pacific Standard Time (Mexico)": "America/Tijuana", "UTC-08": "Etc/GMT+8",
    "Pacific Standard Time": "America/Los_Angeles", "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time (Mexico)": "America/Mazatlan", "Mountain Standard Time": "America/Denver",
    "Yukon Standard Time": "America/Whitehorse", "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago", "Easter Island Standard Time": "Pacific/Easter",
    "Central Standard Time (Mexico)": "America/Mexico_City", "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota", "Eastern Standard Time (Mexico)": "America/Cancun",
    "Eastern Standard Time": "America/New_York", "Haiti Standard Time": "America/Port-au-Prince",
    "Cuba Standard Time": "America/Havana", "US Eastern Standard Time": "America/Indiana/Indianapolis",
    "Turks And Caicos Standard Time": "America/Grand_Turk", "Paraguay Standard Time": "America/Asuncion",
    "Atlantic Standard Time": "America/Halifax", "Venezuela Standard Time": "America/Caracas",
    "Central Brazilian Standard Time": "America/Cuiaba", "SA Western Standard Time": "America/La_Paz",
    "Pacific SA Standard Time": "America/Santiago", "Newfoundland Standard Time": "America/St_Johns",
    "Tocantins Standard Time": "America/Araguaina", "E. South America Standard Time": "America/Sao_Paulo",
    "SA Eastern Standard Time": "America/Cayenne", "Argentina Standard Time": "America/Argentina/Buenos_Aires",
    "Greenland Standard Time": "America/Nuuk", "Montevideo Standard Time": "America/Montevideo",
    "Magallanes Standard Time": "America/Punta_Arenas", "Saint Pierre Standard Time": "America/Miquelon",
    "Bahia Standard Time": "America/Bahia", "UTC-02": "Etc/GMT+2", "Mid-Atlantic Standard Time": "Etc/GMT+2",
    "Azores Standard Time": "Atlantic/Azores", "Cape Verde Standard Time": "Atlantic/Cape_Verde",
    "UTC": "Etc/UTC", "GMT Standard Time": "Europe/London", "Greenwich Standard Time": "Atlantic/Reykjavik",
    "Sao Tome Standard Time": "Africa/Sao_Tome", "Morocco Standard Time": "Africa/Casablanca",
    "W. Europe Standard Time": "Europe/Berlin", "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris", "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos", "Jordan Standard Time": "Asia/Amman",
    "GTB Standard Time": "Europe/Bucharest", "Middle East Standard Time": "Asia/Beirut",
    "Egypt Standard Time": "Africa/Cairo", "E. Europe Standard Time": "Europe/Chisinau",
    "Syria Standard Time": "Asia/Damascus", "West Bank Standard Time": "Asia/Hebron",
    "South Africa Standard Time": "Africa/Johannesburg", "FLE Standard Time": "Europe/Kiev",
    "Israel Standard Time": "Asia/Jerusalem", "South Sudan Standard Time": "Africa/Juba",
    "Kaliningrad Standard Time": "Europe/Kaliningrad", "Sudan Standard Time": "Africa/Khartoum",
    "Libya Standard Time": "Africa/Tripoli", "Namibia Standard Time": "Africa/Windhoek",
    "Arabic Standard Time": "Asia/Baghdad", "Turkey Standard Time": "Europe/Istanbul",
    "Arab Standard Time": "Asia/Riyadh", "Belarus Standard Time": "Europe/Minsk",
    "Russian Standard Time": "Europe/Moscow", "E. Africa Standard Time": "Africa/Nairobi",
    "Volgograd Standard Time": "Europe/Volgograd", "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai", "Astrakhan Standard Time": "Europe/Astrakhan",
    "Azerbaijan Standard Time": "Asia/Baku", "Russia Time Zone 3": "Europe/Samara",
    "Mauritius Standard Time": "Indian/Mauritius", "Saratov Standard Time": "Europe/Saratov",
    "Georgian Standard Time": "Asia/Tbilisi", "Caucasus Standard Time": "Asia/Yerevan",
    "Afghanistan Standard Time": "Asia/Kabul", "West Asia Standard Time": "Asia/Tashkent",
    "Ekaterinburg Standard Time": "Asia/Yekaterinburg", "Pakistan Standard Time": "Asia/Karachi",
    "Qyzylorda Standard Time": "Asia/Qyzylorda", "India Standard Time": "Asia/Kolkata",
    "Sri Lanka Standard Time": "Asia/Colombo", "Nepal Standard Time": "Asia/Kathmandu",
    "Central Asia Standard Time": "Asia/Almaty", "Bangladesh Standard Time": "Asia/Dhaka",
    "Omsk Standard Time": "Asia/Omsk", "Myanmar Standard Time": "Asia/Yangon",
    "SE Asia Standard Time": "Asia/Bangkok", "Altai Standard Time": "Asia/Barnaul",
    "W. Mongolia Standard Time": "Asia/Hovd", "North Asia Standard Time": "Asia/Krasnoyarsk",
    "N. Central Asia Standard Time": "Asia/Novosibirsk", "Tomsk Standard Time": "Asia/Tomsk",
    "China Standard Time": "Asia/Shanghai", "North Asia East Standard Time": "Asia/Irkutsk",
    "Singapore Standard Time": "Asia/Singapore", "W. Australia Standard Time": "Australia/Perth",
    "Taipei Standard Time": "Asia/Taipei", "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
    "Aus Central W. Standard Time": "Australia/Eucla", "Transbaikal Standard Time": "Asia/Chita",
    "Tokyo Standard Time": "Asia/Tokyo", "North Korea Standard Time": "Asia/Pyongyang",
    "Korea Standard Time": "Asia/Seoul", "Yakutsk Standard Time": "Asia/Yakutsk",
    "Cen. Australia Standard Time": "Australia/Adelaide", "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane", "AUS Eastern Standard Time": "Australia/Sydney",
    "West Pacific Standard Time": "Pacific/Port_Moresby", "Tasmania Standard Time": "Australia/Hobart",
    "Vladivostok Standard Time": "Asia/Vladivostok", "Lord Howe Standard Time": "Australia/Lord_Howe",
    "Bougainville Standard Time": "Pacific/Bougainville", "Russia Time Zone 10": "Asia/Srednekolymsk",
    "Magadan Standard Time": "Asia/Magadan", "Norfolk Standard Time": "Pacific/Norfolk",
    "Sakhalin Standard Time": "Asia/Sakhalin", "Central Pacific Standard Time": "Pacific/Guadalcanal",
    "Russia Time Zone 11": "Asia/Kamchatka", "New Zealand Standard Time": "Pacific/Auckland",
    "UTC+12": "Etc/GMT-12", "Fiji Standard Time": "Pacific/Fiji", "Chatham Islands Standard Time": "Pacific/Chatham",
    "UTC+13": "Etc/GMT-13", "Tonga Standard Time": "Pacific/Tongatapu", "Samoa Standard Time": "Pacific/Apia",
    "Line Islands Standard Time": "Pacific/Kiritimati",
}
_BY_LOWER = {name.lower(): iana for name, iana in WINDOWS_TO_IANA.items()}
_ALIASES = {"tzone://microsoft/utc": "Etc/UTC", "z": "Etc/UTC", "gmt": "Etc/UTC", "etc/gmt": "Etc/UTC"}
_FALLBACKS = {"Europe/Kiev": "Europe/Kyiv", "America/Nuuk": "America/Godthab", "Asia/Kolkata": "Asia/Calcutta",
              "Asia/Kathmandu": "Asia/Katmandu", "Asia/Yangon": "Asia/Rangoon"}
_CACHE = {}
_WIRE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def unsupported(name):
    return GraphError(400, "TimeZoneNotSupportedException",
                      f"A valid TimeZone value must be specified. The following TimeZone value is not supported: "
                      f"'{name}'.")


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
        raise GraphError(400, "BadRequest", f"Cannot convert the literal '{text}' to the expected type "
                                            f"'Edm.DateTimeOffset' for {field}.")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        value = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                  int(second or 0), int((fraction or "0")[:6].ljust(6, "0")))
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
