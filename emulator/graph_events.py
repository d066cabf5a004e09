"""Placeholder, filled in a later step."""


def routes(router, emu):
    return None
