"""Hypothesis profiles of the generated tests: ``make test`` runs the short one; ``HYPOTHESIS_PROFILE=long``
runs many more examples. A failure prints its example and a ``@reproduce_failure`` line that replays it
(no example database: CI starts from nothing anyway)."""

import os

from hypothesis import HealthCheck, settings

SHARED = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
settings.register_profile("default", max_examples=400, **SHARED)
settings.register_profile("long", max_examples=20000, **SHARED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def examples(short, long=None):
    """``max_examples`` of one test: ``short`` in ``make test``, ``long`` (default 25x) with the long profile."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "long":
        return long or short * 25
    return short
