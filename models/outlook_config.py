"""Where the admin's Outlook settings are stored, and how a run reads them (one place, STYLE R6)."""

from ..graph.auth import MICROSOFT_AUTHORITY_URL, MICROSOFT_GRAPH_URL, AuthSettings

PARAM_CLIENT_ID = "outlook_calendar_sync.client_id"
PARAM_CLIENT_SECRET = "outlook_calendar_sync.client_secret"  # write-only: never sent back to a browser
PARAM_TENANT = "outlook_calendar_sync.tenant"
PARAM_AUTHORITY_URL = "outlook_calendar_sync.authority_url"
PARAM_GRAPH_URL = "outlook_calendar_sync.graph_url"
PARAM_CA_BUNDLE = "outlook_calendar_sync.ca_bundle"
PARAM_CONFIG_ERROR = "outlook_calendar_sync.config_error"  # last "the admin must act" message

REDIRECT_PATH = "/microsoft_account/authentication"


def get_auth_settings(env):
    """The current :class:`AuthSettings`, read with the narrowest sudo (parameters are admin-only)."""
    params_sudo = env["ir.config_parameter"].sudo()
    return AuthSettings(
        client_id=(params_sudo.get_param(PARAM_CLIENT_ID) or "").strip(),
        client_secret=(params_sudo.get_param(PARAM_CLIENT_SECRET) or "").strip(),
        tenant=(params_sudo.get_param(PARAM_TENANT) or "common").strip(),
        authority_url=(params_sudo.get_param(PARAM_AUTHORITY_URL) or MICROSOFT_AUTHORITY_URL).strip(),
        graph_url=(params_sudo.get_param(PARAM_GRAPH_URL) or MICROSOFT_GRAPH_URL).strip(),
        ca_bundle=(params_sudo.get_param(PARAM_CA_BUNDLE) or "").strip(),
    )


def redirect_uri(env):
    """The redirect URI to register in Azure: ``<web.base.url>/microsoft_account/authentication``."""
    base_url = env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
    return base_url + REDIRECT_PATH


def set_config_error(env, message):
    """Record (or clear, with ``False``) the message the admin sees in the Outlook settings."""
    env["ir.config_parameter"].sudo().set_param(PARAM_CONFIG_ERROR, message or False)
