"""Local Microsoft Entra ID + Microsoft Graph (calendar) emulator for tests, benchmarks and ``make demo``.

A pure package (never imports Odoo; relative imports only), loadable as top-level ``emulator`` and as
``odoo.addons.outlook_calendar_sync.emulator``. Behaviour follows ``shared/graph-reference.md``; see :class:`Emulator`.
"""

from .core import DEFAULT_SETTINGS, Emulator

__all__ = ["DEFAULT_SETTINGS", "Emulator"]
