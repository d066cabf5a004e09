"""Entra ID sign-in and tokens through MSAL (graph-reference I, J).

One :class:`MailboxAuth` per mailbox and run: an MSAL confidential client built on the run's shared
session, with the mailbox's serialized token cache. Every token comes from MSAL: the auth code flow
with PKCE for the connect button, ``acquire_token_silent_with_error`` for the sync, and
``acquire_token_for_client`` for the admin's "Test connection" check of the client secret.
"""

import logging
import warnings
from dataclasses import dataclass

import msal
import requests

from .errors import (
    CONFIG_AADSTS,
    REAUTH_AADSTS,
    ConfigurationError,
    OutlookError,
    ReauthRequired,
    TransientError,
    aadsts_codes,
)

_logger = logging.getLogger(__name__)

MICROSOFT_AUTHORITY_URL = "https://login.microsoftonline.com"
MICROSOFT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
# Short scope spelling, the same everywhere: MSAL matches cached tokens by exact scope strings, and a
# different spelling silently turns every call into a refresh (graph-reference fact 15).
SCOPES = ("Calendars.ReadWrite", "User.Read")
# What the sync itself needs (a subset of SCOPES, so the connect flow's cached token serves it): tokens imported
# from Odoo's built-in microsoft_calendar were consented for the calendar only, without User.Read.
SYNC_SCOPES = ("Calendars.ReadWrite",)
APP_SCOPES = ("https://graph.microsoft.com/.default",)
# Optional: colors of the status categories (the master list of categories needs MailboxSettings.ReadWrite).
MAILBOX_SETTINGS_SCOPES = ("MailboxSettings.ReadWrite",)
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
# Tenants that cannot issue app-only tokens: "Test connection" can only check them up to discovery.
MULTI_TENANT = frozenset({"common", "organizations", "consumers"})


@dataclass(frozen=True)
class AuthSettings:
    """The admin's Outlook settings (Settings > General Settings > Integrations)."""

    client_id: str = ""
    client_secret: str = ""
    tenant: str = "common"
    authority_url: str = MICROSOFT_AUTHORITY_URL
    graph_url: str = MICROSOFT_GRAPH_URL
    ca_bundle: str = ""

    @property
    def authority(self):
        tenant = (self.tenant or "common").strip().strip("/")
        return f"{(self.authority_url or MICROSOFT_AUTHORITY_URL).rstrip('/')}/{tenant}"

    def missing(self):
        """Names of the settings that must still be filled in, in the order of the form."""
        return [
            label
            for label, value in (("Client ID", self.client_id), ("Client Secret", self.client_secret))
            if not value
        ]

    def check_complete(self):
        missing = self.missing()
        if missing:
            raise ConfigurationError(
                "Outlook Calendar is not configured yet: an administrator must fill in {} in "
                "Settings > General Settings > Integrations > Outlook Calendar.".format(" and ".join(missing))
            )


def first_line(text):
    """The human part of an Entra ``error_description`` (the rest is trace ids and timestamps)."""
    lines = (text or "").strip().splitlines()  # "\r" alone: no line at all
    return lines[0].strip() if lines else ""


def token_error(result, *, during="sign-in"):
    """Turn an MSAL error result (a dict with ``error``) into the matching typed exception."""
    error = result.get("error") or "unknown_error"
    codes = aadsts_codes(result)
    detail = first_line(result.get("error_description")) or error
    if error in ("invalid_client", "unauthorized_client") or codes & CONFIG_AADSTS:
        return ConfigurationError(
            f"Microsoft rejected this database's Outlook app settings ({detail}). An administrator must check "
            "the Client ID, Client Secret and Tenant in Settings > General Settings > Integrations > "
            "Outlook Calendar."
        )
    if error == "temporarily_unavailable":
        return TransientError(f"The Microsoft sign-in service is temporarily unavailable ({detail}).")
    if error in ("invalid_grant", "interaction_required", "consent_required") or codes & REAUTH_AADSTS:
        return ReauthRequired(
            f"Your Outlook connection needs to be renewed ({detail}). Click the Outlook button in Calendar to "
            "connect again.",
            error=error,
            aadsts=min(codes) if codes else None,
        )
    return OutlookError(f"Microsoft refused the {during} ({detail}).")


CALLBACK_DETAIL_MAX = 300  # characters of a browser-brought error_description shown back to that user


def callback_error(params):
    """The typed error of an ``error=...`` the browser brought back to the redirect URI.

    That URL is whatever the browser sends: anyone can type ``error=invalid_client&error_description=<any text>`` with
    their own state. It is shown to that user only, as a sign-in that did not happen, never as a problem of the app's
    settings (a :class:`ConfigurationError` sets the administrator's banner): only Microsoft's answers to this server's
    own requests (discovery, the code redemption) say that the settings are wrong.
    """
    error = str(params.get("error") or "")[:80]
    if error == "access_denied":
        return ReauthRequired(
            "You declined to give Odoo access to your Outlook calendar, so nothing was connected.",
            error="access_denied",
        )
    detail = first_line(str(params.get("error_description") or ""))[:CALLBACK_DETAIL_MAX] or error
    return OutlookError(
        f"Microsoft did not sign you in ({detail}). Nothing was connected: start again from the Outlook button in "
        "Calendar, and if this message comes back, show it to your administrator."
    )


class MailboxAuth:
    """MSAL confidential client for one mailbox, with that mailbox's token cache.

    :param settings: :class:`AuthSettings`
    :param session: the run's :class:`~.http.OutlookSession` (MSAL sends through it)
    :param cache_blob: the serialized MSAL token cache stored for the mailbox, or ``None``
    :param http_cache: a dict shared by the mailboxes of one run, so MSAL fetches the authority's
        discovery document once per run instead of once per mailbox
    """

    def __init__(self, settings, session, cache_blob=None, http_cache=None):
        settings.check_complete()
        self.settings = settings
        self.session = session
        self.cache = msal.SerializableTokenCache()
        if cache_blob:
            self.cache.deserialize(cache_blob)
        self.app = self._build_app(settings, session, self.cache, http_cache)

    @staticmethod
    def _build_app(settings, session, cache, http_cache):
        try:
            return msal.ConfidentialClientApplication(
                settings.client_id,
                client_credential=settings.client_secret,
                authority=settings.authority,
                token_cache=cache,
                http_client=session,
                http_cache=http_cache,
                instance_discovery=False,
            )
        except requests.RequestException as exc:
            raise ConfigurationError(
                f"Cannot reach the Microsoft sign-in service at {settings.authority} ({exc}). "
                "Check the Authority URL in Settings > General Settings > Integrations > Outlook Calendar."
            ) from exc
        except ValueError as exc:
            raise ConfigurationError(
                f"The sign-in authority {settings.authority} is not valid ({exc}). "
                "Check the Tenant and Authority URL in Settings > General Settings > Integrations > Outlook Calendar."
            ) from exc

    # ------------------------------------------------------------
    # Connect flow (authorization code + PKCE)
    # ------------------------------------------------------------

    def start_flow(self, redirect_uri, login_hint=None, extra_scopes=()):
        """Begin the auth code flow; the returned dict (with the PKCE verifier) stays server-side.

        :param extra_scopes: asked on top of :data:`SCOPES` (e.g. :data:`MAILBOX_SETTINGS_SCOPES`)
        """
        with warnings.catch_warnings():
            # msal >= 1.39 warns unless response_mode="form_post"; a cross-site form POST would not
            # carry Odoo's SameSite=Lax session cookie, and the flow is bound to that session.
            warnings.simplefilter("ignore", UserWarning)
            return self.app.initiate_auth_code_flow(
                [*SCOPES, *extra_scopes],
                redirect_uri=redirect_uri,
                login_hint=login_hint or None,
                prompt="select_account",
            )

    def finish_flow(self, flow, params):
        """Redeem the code Microsoft sent back; return MSAL's result (with ``id_token_claims``).

        :raises ReauthRequired: consent declined, code expired or reused
        :raises ConfigurationError: the app's secret or registration is wrong (Microsoft's answer to the code
            redemption: never an error the browser brought back, see :func:`callback_error`)
        """
        if params.get("error"):
            raise callback_error(params)
        try:
            asked = [scope for scope in flow.get("scope") or SCOPES if scope not in RESERVED_SCOPES]
            result = self.app.acquire_token_by_auth_code_flow(flow, params, scopes=asked)
        except (ValueError, RuntimeError) as exc:
            # state mismatch, neither code nor error, or an id_token whose nonce is not ours
            raise ReauthRequired(f"The answer from Microsoft does not belong to this sign-in ({exc}).") from exc
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach the Microsoft sign-in service ({exc}).") from exc
        except msal.exceptions.MsalServiceError as exc:
            raise TransientError(f"The Microsoft sign-in service failed ({exc}).") from exc
        if "error" in result:
            raise token_error(result)
        return result

    # ------------------------------------------------------------
    # Tokens for Graph
    # ------------------------------------------------------------

    def account(self):
        accounts = self.app.get_accounts()
        if not accounts:
            raise ReauthRequired("No Outlook account is connected. Click the Outlook button in Calendar to connect.")
        return accounts[0]

    def _silent(self, scopes, force_refresh=False):
        """MSAL's silent acquisition for ``scopes`` (a cached token, else the refresh token); ``None`` when the
        cache has no refresh token, MSAL's error dict when Microsoft refused.

        :param force_refresh: redeem the refresh token even when MSAL still holds a cached access token
        :raises TransientError: the sign-in service cannot be reached or failed
        """
        try:
            return self.app.acquire_token_silent_with_error(list(scopes), self.account(), force_refresh=force_refresh)
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach the Microsoft sign-in service ({exc}).") from exc
        except msal.exceptions.MsalServiceError as exc:
            raise TransientError(f"The Microsoft sign-in service failed ({exc}).") from exc

    def access_token(self, force_refresh=False):
        """A valid access token for :data:`SYNC_SCOPES`, refreshed through MSAL when needed.

        :param force_refresh: a new token even though the cached one has not expired: Graph refused it (a
            token revoked server side, a clock ahead of Microsoft's); a refused refresh raises
            :class:`ReauthRequired`
        """
        if force_refresh:
            self._forget_access_tokens()
        result = self._silent(SYNC_SCOPES, force_refresh=force_refresh)
        if not result:
            raise ReauthRequired(
                "Your Outlook sign-in has no refresh token left. Click the Outlook button in Calendar to connect again."
            )
        if "access_token" not in result:
            raise token_error(result, during="token refresh")
        return result["access_token"]

    def _forget_access_tokens(self):
        """Drop this account's cached access tokens: Graph refused one MSAL holds as valid, and MSAL would
        otherwise keep returning it (or another one as old) for the scopes it covers."""
        home_account_id = self.account().get("home_account_id")
        kind = msal.TokenCache.CredentialType.ACCESS_TOKEN
        for item in list(self.cache.search(kind, query={"home_account_id": home_account_id})):
            self.cache.remove_at(item)

    def optional_access_token(self, scopes):
        """An access token for ``scopes`` the user may not have granted: ``None`` when Microsoft answers that
        consent is missing (nothing else changes: the sync's own token is not affected).

        :raises TransientError: the sign-in service cannot be reached
        """
        result = self._silent(scopes)
        if result and "access_token" in result:
            return result["access_token"]
        _logger.info("outlook: no token for %s (%s)", " ".join(scopes), (result or {}).get("error") or "no grant")
        return None

    def redeem_refresh_token(self, refresh_token):
        """Import a refresh token that another client of this app obtained (migration from Odoo's built-in
        ``microsoft_calendar``, graph-reference I.4): MSAL redeems it and keeps the new tokens and the account
        in this cache. Only :data:`SYNC_SCOPES` is asked: the built-in's consent did not include User.Read.

        :return: MSAL's result; its ``id_token_claims`` say who signed in (``oid``, ``preferred_username``)
        :raises ReauthRequired: the token is expired, revoked or belongs to another app
        :raises ConfigurationError: the app's secret or registration is wrong
        """
        try:
            result = self.app.acquire_token_by_refresh_token(refresh_token, list(SYNC_SCOPES))
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach the Microsoft sign-in service ({exc}).") from exc
        except msal.exceptions.MsalServiceError as exc:
            raise TransientError(f"The Microsoft sign-in service failed ({exc}).") from exc
        if "error" in result:
            if result["error"] == "invalid_grant" and not aadsts_codes(result) & REAUTH_AADSTS:
                # e.g. AADSTS9002313: a token of another app registration; the user connects once
                raise ReauthRequired(
                    "The Outlook connection of Odoo's former Outlook Calendar module could not be taken over "
                    "(%s). Click the Outlook button in Calendar to connect."
                    % (first_line(result.get("error_description")) or "invalid_grant"),
                    error="invalid_grant",
                )
            raise token_error(result, during="takeover of the former Outlook connection")
        return result

    def cache_blob_if_changed(self):
        """The serialized cache when MSAL changed it (new tokens), else ``None``."""
        return self.cache.serialize() if self.cache.has_state_changed else None

    def check_app_credentials(self):
        """Ask Entra for an app-only token: proves the Client ID and Secret (admin's "Test connection").

        Multi-tenant authorities (common/organizations) cannot issue such tokens; for them this only
        proves that the authority answers (MSAL's discovery ran when the app was built).

        :return: ``True`` when the secret was verified, ``False`` when only discovery could be checked
        """
        if (self.settings.tenant or "common").strip().lower() in MULTI_TENANT:
            return False
        try:
            result = self.app.acquire_token_for_client(list(APP_SCOPES))
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach the Microsoft sign-in service ({exc}).") from exc
        except msal.exceptions.MsalServiceError as exc:
            raise TransientError(f"The Microsoft sign-in service failed ({exc}).") from exc
        if "error" in result:
            raise token_error(result, during="app credentials check")
        return True
