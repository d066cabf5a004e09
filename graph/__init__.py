"""Pure Microsoft Graph + Entra ID client (requests + msal only, never Odoo).

Loaded as ``odoo.addons.outlook_calendar_sync.graph`` inside Odoo and as top-level ``graph`` by
``tests_engine``; therefore only relative imports inside this package (STYLE R1).
"""
