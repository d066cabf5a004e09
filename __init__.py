from . import controllers, models
from .graph import redact
from .hooks import post_init_hook

# Odoo's own loggers print SQL parameters (a failed statement), URLs (the OAuth callback's code) and RPC parameters:
# credentials are redacted from their lines in this whole server process (graph/redact.py says how and why)
redact.install()
