"""Errors of the pure engine."""


class MappingError(ValueError):
    """A Graph payload (or Odoo value) that cannot be mapped; the message says which field is wrong."""


class UnknownTimeZone(MappingError):
    """A time zone name neither Windows nor IANA knows."""
