"""Microsoft Entra ID (v2.0 endpoints) as MSAL Python sees it.

Reproduces graph-reference I (MSAL discovery, auth-code flow with PKCE, token cache fields) and J (OAuth error bodies,
AADSTS codes, refresh-token rotation and revocation):

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (``//v2.0`` tolerated, I.2), ``/{tenant}/discovery/v2.0/keys``
* ``GET|POST /{tenant}/oauth2/v2.0/authorize``: consent page (no password), then
  ``302 redirect_uri?code&state&session_state``
* ``POST /{tenant}/oauth2/v2.0/token``: ``authorization_code``, ``refresh_token``, ``client_credentials``

Access tokens are opaque random strings; id_tokens are RS256 JWTs (MSAL never checks the signature, I.3).
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .errors import EntraError, GraphError
from .issued import ISSUED
from .pages import consent_page, error_page, form_post_page, message_page
from .server import Response, json_response

RESERVED_SCOPES = ("openid", "profile", "offline_access", "email")
MULTI_TENANTS = ("common", "organizations", "consumers")
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
HTML = "text/html; charset=utf-8"
READ_SCOPES = {
    "calendars.read",
    "calendars.readwrite",
    "calendars.read.shared",
    "calendars.readwrite.shared",
    ".default",
}
WRITE_SCOPES = {"calendars.readwrite", "calendars.readwrite.shared", ".default"}
USER_SCOPES = {"user.read", "user.readwrite", "user.readbasic.all", "user.read.all", "user.readwrite.all", ".default"}
# /outlook/masterCategories: list needs MailboxSettings.Read, create MailboxSettings.ReadWrite (Microsoft Learn:
# outlookuser-list-mastercategories, outlookuser-post-mastercategories)
SETTINGS_READ_SCOPES = {"mailboxsettings.read", "mailboxsettings.readwrite", ".default"}
SETTINGS_WRITE_SCOPES = {"mailboxsettings.readwrite", ".default"}
# Revocation codes the emulator can produce on refresh (graph-reference J): error, suberror, description.
REVOCATIONS = {
    700082: (
        "invalid_grant",
        None,
        "The refresh token has expired due to inactivity. The token was issued on "
        "{issued} and was inactive for 90.00:00:00.",
    ),
    70008: (
        "invalid_grant",
        None,
        "The provided authorization code or refresh token has expired due to inactivity. "
        "Send a new interactive authorization request for this user and resource.",
    ),
    50173: (
        "invalid_grant",
        None,
        "The provided grant has expired due to it being revoked, a fresh auth token is "
        "needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the "
        "TokensValidFrom date (before which tokens are not valid) for this user is '{now}'.",
    ),
    65001: (
        "invalid_grant",
        "consent_required",
        "The user or administrator has not consented to use the application "
        "with ID '{client_id}' named '{app_name}'. Send an interactive authorization request for this user and "
        "resource.",
    ),
    50076: (
        "invalid_grant",
        "basic_action",
        "Due to a configuration change made by your administrator, or because "
        "you moved to a new location, you must use multi-factor authentication to access '" + GRAPH_APP_ID + "'.",
    ),
    53003: (
        "invalid_grant",
        None,
        "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
    ),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def normalize_scope(scope):
    """``https://graph.microsoft.com/Calendars.ReadWrite`` -> ``calendars.readwrite`` (comparison form)."""
    lowered = scope.lower()
    for prefix in ("https://graph.microsoft.com/", GRAPH_APP_ID + "/"):
        if lowered.startswith(prefix):
            return lowered[len(prefix) :]
    return lowered


def _missing(name):
    return EntraError(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
    )


class App:
    def __init__(self, client_id, client_secret, redirect_uris=None, name="Odoo"):
        self.client_id, self.client_secret, self.name = client_id, client_secret, name
        self.redirect_uris = None if redirect_uris is None else list(redirect_uris)

    def public(self):
        return {"client_id": self.client_id, "name": self.name, "redirect_uris": self.redirect_uris}


class Principal:
    """Who is calling Graph: an app acting for a mailbox (delegated) or alone (client credentials)."""

    def __init__(self, client_id, address, scopes):
        self.client_id, self.address = client_id, address
        self.scopes = {normalize_scope(s) for s in scopes}

    @property
    def app_only(self):
        return self.address is None

    def require(self, need):
        """Raise 403 unless the token carries a scope granting ``need`` (``read``, ``write``, ``user``,
        ``settings_read`` or ``settings_write``)."""
        if self.app_only or need == "none":
            return
        allowed = {
            "read": READ_SCOPES,
            "write": WRITE_SCOPES,
            "user": USER_SCOPES,
            "settings_read": SETTINGS_READ_SCOPES,
            "settings_write": SETTINGS_WRITE_SCOPES,
        }[need]
        if self.scopes & allowed:
            return
        if need == "user":
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


class Entra:
    """Apps, consent requests, codes and tokens. State is guarded by the emulator's lock."""

    def __init__(self, emu):
        self.emu = emu
        self.apps, self.pending, self.codes = {}, {}, {}
        self.refresh_tokens, self.access_tokens = {}, {}
        self.signing_key = None
        self.kid = None
        self.issued = []  # (kind, value) of every credential this emulator handed out, in order

    def _record(self, kind, value):
        """Remember a credential this emulator handed out (tests check that none reaches a log line)."""
        self.issued.append((kind, value))
        ISSUED.add(kind, value)
        return value

    def routes(self, router):
        router.add("GET", "/{tenant}/v2.0/.well-known/openid-configuration", self.discovery, "entra")
        router.add("GET", "/{tenant}/discovery/v2.0/keys", self.keys, "entra")
        router.add("GET", "/{tenant}/oauth2/v2.0/authorize", self.authorize, "entra")
        router.add("POST", "/{tenant}/oauth2/v2.0/authorize", self.authorize, "entra")
        router.add("POST", "/{tenant}/oauth2/v2.0/token", self.token, "entra")
        router.add("GET", "/{tenant}/oauth2/v2.0/logout", self.logout, "entra")
        router.add("GET", "/oidc/userinfo", self.userinfo, "graph", need="none")

    def set_signing_key(self, key):
        self.signing_key = key
        numbers = key.public_key().public_numbers()
        self.kid = b64url(hashlib.sha1(numbers.n.to_bytes(256, "big")).digest())

    # ------------------------------------------------------------------ registry

    def register_app(self, client_id, client_secret, redirect_uris=None, name="Odoo"):
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        if isinstance(redirect_uris, str):
            redirect_uris = [redirect_uris]
        with self.emu.lock:
            self.apps[client_id] = App(client_id, client_secret, redirect_uris, name)
            self._record("client_secret", client_secret)
            return self.apps[client_id].public()

    def _tenant_known(self, tenant):
        lowered = tenant.lower()
        if lowered in MULTI_TENANTS or lowered == self.emu.tenant_id:
            return True
        return lowered in self.emu.store.domains()

    def _tenant_error(self, tenant):
        return EntraError(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
            "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant.",
        )

    # ------------------------------------------------------------------ discovery

    def discovery(self, request, tenant):
        if not self._tenant_known(tenant):
            raise self._tenant_error(tenant)
        base = f"{self.emu.base_url}/{tenant}"
        issuer_tenant = "{tenantid}" if tenant.lower() in MULTI_TENANTS else self.emu.tenant_id
        return json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.emu.base_url}/{issuer_tenant}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.emu.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "acr",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "at_hash",
                    "c_hash",
                    "email",
                ],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    def keys(self, request, tenant):
        numbers = self.signing_key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        key = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(n),
            "e": b64url(e),
            "issuer": f"{self.emu.base_url}/{self.emu.tenant_id}/v2.0",
        }
        return json_response({"keys": [key]})

    def logout(self, request, tenant):
        """``end_session_endpoint``: nothing to forget (no browser session); go back if asked to."""
        target = request.query.get("post_logout_redirect_uri")
        if target:
            return Response(302, b"", headers={"Location": target})
        return Response(200, message_page("Signed out", "You signed out of your account."), content_type=HTML)

    def userinfo(self, request):
        """OIDC userinfo (``https://graph.microsoft.com/oidc/userinfo`` in Entra) for a delegated token."""
        mailbox = request.context["mailbox"]
        return json_response(
            {
                "sub": mailbox.id,
                "name": mailbox.display_name,
                "family_name": mailbox.surname,
                "given_name": mailbox.given_name,
                "email": mailbox.address,
            }
        )

    # ------------------------------------------------------------------ authorize

    def authorize(self, request, tenant):
        """Validate the authorization request, then show the consent page (or answer a consent decision)."""
        if request.method == "POST":
            form = request.form()
            if "request_id" in form:
                return self._decision(form)
            params = form
        else:
            params = request.query
        if not self._tenant_known(tenant):
            return self._page(400, 90002, self._tenant_error(tenant).description)
        client_id = params.get("client_id")
        if not client_id:
            return self._page(400, 900144, "The request body must contain the following parameter: 'client_id'.")
        with self.emu.lock:
            app = self.apps.get(client_id)
        if not app:
            return self._page(400, 700016, self._unknown_app_text(client_id, tenant))
        redirect_uri = params.get("redirect_uri") or (app.redirect_uris[0] if app.redirect_uris else None)
        if not redirect_uri:
            return self._page(400, 900144, "The request body must contain the following parameter: 'redirect_uri'.")
        if app.redirect_uris is not None and redirect_uri not in app.redirect_uris:
            return self._page(
                400,
                50011,
                (
                    f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
                    f"configured for the application '{client_id}'. "
                    "Make sure the redirect URI sent in the request matches "
                    "one added to your application in the Azure portal. Navigate to "
                    "https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
                ),
            )
        mode = params.get("response_mode") or "query"
        error = self._authorize_param_error(params, mode)
        if error:
            return self._redirect(
                redirect_uri,
                "query" if mode not in ("fragment", "form_post") else mode,
                dict(error, state=params.get("state", "")),
            )
        return self._consent_or_silent(params, app, tenant, redirect_uri, mode)

    @staticmethod
    def _authorize_param_error(params, mode):
        response_type = params.get("response_type")
        if not response_type:
            return _redirect_error(
                "invalid_request", 900144, "The request body must contain the following parameter: 'response_type'."
            )
        if response_type != "code":
            return _redirect_error(
                "unsupported_response_type",
                700054,
                f"response_type '{response_type}' is not enabled for the application.",
            )
        if not params.get("scope"):
            return _redirect_error(
                "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
            )
        method = params.get("code_challenge_method")
        if (method and method not in ("S256", "plain")) or (method and not params.get("code_challenge")):
            return _redirect_error(
                "invalid_request", 9002313, "Invalid request. Request is malformed or invalid. (code_challenge)"
            )
        if mode not in ("query", "fragment", "form_post"):
            return _redirect_error("invalid_request", 9002313, f"Invalid request. Unsupported response_mode '{mode}'.")
        return None

    def _consent_or_silent(self, params, app, tenant, redirect_uri, mode):
        hint = (params.get("login_hint") or "").lower()
        mailboxes = self.emu.store.addresses()
        fixed = next((a for a in mailboxes if a.lower() == hint), None)
        if params.get("prompt") == "none":
            if not fixed:
                return self._redirect(
                    redirect_uri,
                    mode,
                    dict(
                        _redirect_error(
                            "login_required", 50058, "A silent sign-in request was sent but no user is signed in."
                        ),
                        state=params.get("state", ""),
                    ),
                )
            return self._accept(self._pending_entry(params, app, tenant, redirect_uri, mode), fixed)
        if not mailboxes:
            return self._page(
                400,
                50034,
                (
                    f"The user account {params.get('login_hint') or '(none)'} "
                    f"does not exist in the {tenant} directory. "
                    "To sign into this application, the account must be added to the directory. (The emulator has no "
                    "mailbox: add one with add_mailbox.)"
                ),
            )
        request_id = secrets.token_urlsafe(24)
        with self.emu.lock:
            self._prune(self.pending)
            self.pending[request_id] = self._pending_entry(params, app, tenant, redirect_uri, mode)
        scopes = [s for s in params["scope"].split() if s]
        html = consent_page(f"/{tenant}/oauth2/v2.0/authorize", request_id, app.name, scopes, mailboxes, fixed, tenant)
        return Response(200, html, content_type=HTML, headers={"Cache-Control": "no-store"})

    def _pending_entry(self, params, app, tenant, redirect_uri, mode):
        return {
            "client_id": app.client_id,
            "tenant": tenant,
            "redirect_uri": redirect_uri,
            "mode": mode,
            "scopes": [s for s in params["scope"].split() if s],
            "state": params.get("state"),
            "nonce": params.get("nonce"),
            "challenge": params.get("code_challenge"),
            "challenge_method": params.get("code_challenge_method")
            or ("plain" if params.get("code_challenge") else None),
            "expires": time.time() + float(self.emu.settings["consent_request_ttl"]),
        }

    def _decision(self, form):
        with self.emu.lock:
            entry = self.pending.pop(form.get("request_id", ""), None)
        if not entry or entry["expires"] < time.time():
            return self._page(
                400,
                9002313,
                "Invalid request. Request is malformed or invalid. (The consent request "
                "expired or was already answered: start the sign-in again.)",
            )
        decision = form.get("decision", "")
        if decision == "decline":
            fields = {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
            }
            if entry["state"] is not None:
                fields["state"] = entry["state"]
            return self._redirect(entry["redirect_uri"], entry["mode"], fields)
        if decision != "accept":
            return self._page(400, 9002313, "Invalid request. The decision must be 'accept' or 'decline'.")
        account = next((a for a in self.emu.store.addresses() if a.lower() == form.get("account", "").lower()), None)
        if not account:
            return self._page(
                400,
                50034,
                f"The user account {form.get('account', '')} does not exist in the {entry['tenant']} directory.",
            )
        return self._accept(entry, account)

    def _accept(self, entry, account):
        code = "0.A" + secrets.token_urlsafe(48)
        with self.emu.lock:
            self._record("code", code)
            self._prune(self.codes)
            self.codes[code] = dict(
                entry, address=account, used=False, expires=time.time() + float(self.emu.settings["auth_code_ttl"])
            )
        fields = {"code": code}
        if entry["state"] is not None:
            fields["state"] = entry["state"]
        fields["session_state"] = str(uuid.uuid4())
        return self._redirect(entry["redirect_uri"], entry["mode"], fields)

    @staticmethod
    def _redirect(redirect_uri, mode, fields):
        if mode == "form_post":
            return Response(200, form_post_page(redirect_uri, fields), content_type=HTML)
        separator = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
        return Response(302, b"", headers={"Location": redirect_uri + separator + urlencode(fields)})

    @staticmethod
    def _page(status, aadsts, message):
        return Response(status, error_page(aadsts, message), content_type=HTML)

    @staticmethod
    def _unknown_app_text(client_id, tenant):
        return (
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen "
            "if the application has not been installed by the administrator of the tenant or consented to by any "
            "user in the tenant. You may have sent your authentication request to the wrong tenant."
        )

    @staticmethod
    def _prune(entries):
        if len(entries) > 5000:
            now = time.time()
            for key in [k for k, v in entries.items() if v["expires"] < now]:
                del entries[key]

    # ------------------------------------------------------------------ token endpoint

    def token(self, request, tenant):
        """``POST /{tenant}/oauth2/v2.0/token`` for the three grants MSAL / the add-on use."""
        if not self._tenant_known(tenant):
            raise self._tenant_error(tenant)
        form = request.form()
        grant = form.get("grant_type")
        if not grant:
            raise _missing("grant_type")
        if grant == "client_credentials" and tenant.lower() in MULTI_TENANTS:
            # Entra's "Use a tenant-specific endpoint" answer (AADSTS50194) for app-only tokens on /common.
            raise EntraError(
                400,
                "invalid_request",
                50194,
                (
                    f"Application '{form.get('client_id', '')}' is not configured as a multitenant application. "
                    "Usage of "
                    "the /common endpoint is not supported for such applications created after '10/15/2018'. Use a "
                    "tenant-specific endpoint or configure the application to be multitenant."
                ),
            )
        app = self._client(request, form, tenant)
        if grant == "authorization_code":
            payload = self._redeem_code(app, form, tenant)
        elif grant == "refresh_token":
            payload = self._redeem_refresh_token(app, form, tenant)
        elif grant == "client_credentials":
            payload = self._client_credentials(app, form)
        else:
            raise EntraError(
                400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
            )
        return json_response(payload, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def _client(self, request, form, tenant):
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                basic_id, _, basic_secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                basic_id = basic_secret = ""
            client_id, secret = client_id or basic_id, secret or basic_secret
        if not client_id:
            raise _missing("client_id")
        with self.emu.lock:
            app = self.apps.get(client_id)
        if not app:
            raise EntraError(400, "unauthorized_client", 700016, self._unknown_app_text(client_id, tenant))
        if not secret:
            # Entra answers AADSTS7000218 (not 7000215) when no credential is sent at all.
            raise EntraError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if not hmac.compare_digest(secret.encode("utf-8"), app.client_secret.encode("utf-8")):
            raise EntraError(
                401,
                "invalid_client",
                7000215,
                (
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                    f"value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            )
        return app

    def _redeem_code(self, app, form, tenant):
        code = form.get("code")
        if not code:
            raise _missing("code")
        with self.emu.lock:
            entry = self.codes.get(code)
            if not entry or entry["client_id"] != app.client_id:
                raise EntraError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
            if entry["used"]:
                raise EntraError(
                    400,
                    "invalid_grant",
                    54005,
                    (
                        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
                        "existing refresh token."
                    ),
                )
            if entry["expires"] <= time.time():
                raise EntraError(400, "invalid_grant", 70008, REVOCATIONS[70008][2])
            redirect_uri = form.get("redirect_uri", "")
            if redirect_uri != entry["redirect_uri"]:
                # AADSTS500112: "The reply address ... does not match the reply address ... provided when requesting
                # Authorization code." (Entra error-code reference, graph-reference J source).
                raise EntraError(
                    400,
                    "invalid_grant",
                    500112,
                    (
                        f"The reply address '{redirect_uri}' does not match "
                        f"the reply address '{entry['redirect_uri']}' "
                        "provided when requesting Authorization code."
                    ),
                )
            if entry["challenge"] and not _pkce_ok(entry, form.get("code_verifier")):
                raise EntraError(
                    400,
                    "invalid_grant",
                    501481,
                    ("The Code_Verifier does not match the code_challenge supplied in the authorization request."),
                )
            entry["used"] = True
        scopes = (form.get("scope") or " ".join(entry["scopes"])).split()
        return self._issue(app, entry["address"], scopes, tenant, nonce=entry["nonce"], granted=entry["scopes"])

    def _redeem_refresh_token(self, app, form, tenant):
        token = form.get("refresh_token")
        if not token:
            raise _missing("refresh_token")
        with self.emu.lock:
            entry = self.refresh_tokens.get(token)
            if not entry or entry["client_id"] != app.client_id:
                raise EntraError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
            if entry["revoked"] or entry["expires"] <= time.time():
                raise self._revocation_error(entry["revoked"] or 700082, entry, app)
        scopes = (form.get("scope") or " ".join(entry["granted"])).split()
        granted = {normalize_scope(s) for s in entry["granted"]}
        missing = [
            s
            for s in scopes
            if s not in RESERVED_SCOPES and normalize_scope(s) not in granted and ".default" not in granted
        ]
        if missing:
            raise EntraError(
                400,
                "invalid_grant",
                65001,
                REVOCATIONS[65001][2].format(client_id=app.client_id, app_name=app.name),
                suberror="consent_required",
            )
        return self._issue(app, entry["address"], scopes, tenant, granted=entry["granted"])

    def _client_credentials(self, app, form):
        scope = form.get("scope") or ""
        if not scope.strip().endswith("/.default"):
            raise EntraError(
                400,
                "invalid_scope",
                1002012,
                (
                    f"The provided value for scope {scope} is not valid. "
                    "Client credential flows must have a scope value "
                    "with /.default suffixed to the resource identifier (application ID URI)."
                ),
            )
        ttl = int(self.emu.settings["access_token_ttl"])
        access_token = self._new_access_token(app.client_id, None, [scope.strip()], ttl)
        return {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": access_token}

    def _revocation_error(self, code, entry, app):
        error, suberror, text = REVOCATIONS.get(code, ("invalid_grant", None, "The refresh token was revoked."))
        issued = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(entry["issued"]))
        now = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())
        description = text.format(issued=issued, now=now, client_id=app.client_id, app_name=app.name)
        return EntraError(400, error, code, description, suberror=suberror)

    def _issue(self, app, address, scopes, tenant, nonce=None, granted=()):
        """Token response of graph-reference I.4 (scope echoes the request spelling + ``openid profile``)."""
        mailbox = self.emu.store.mailbox(address)
        settings = self.emu.settings
        ttl = int(settings["access_token_ttl"])
        plain = [s for s in scopes if s not in RESERVED_SCOPES]
        echoed = _transform_scopes(plain, settings) + ["openid", "profile"] + (["email"] if "email" in scopes else [])
        payload = {
            "token_type": "Bearer",
            "scope": " ".join(echoed),
            "expires_in": ttl,
            "ext_expires_in": ttl,
            "access_token": self._new_access_token(app.client_id, mailbox.address, plain, ttl),
        }
        if "offline_access" in scopes:
            refresh_token = "1.A" + secrets.token_urlsafe(64)
            with self.emu.lock:
                self._record("refresh_token", refresh_token)
                self.refresh_tokens[refresh_token] = {
                    "client_id": app.client_id,
                    "address": mailbox.address,
                    "revoked": None,
                    "granted": list(granted) or plain,
                    "issued": time.time(),
                    "expires": time.time() + float(settings["refresh_token_ttl"]),
                }
            payload["refresh_token"] = refresh_token
        if "openid" in scopes:
            payload["id_token"] = self._id_token(app, mailbox, nonce)
        payload["client_info"] = b64url(json.dumps({"uid": mailbox.id, "utid": self.emu.tenant_id}).encode())
        return payload

    def _new_access_token(self, client_id, address, scopes, ttl, count=True):
        token = "EwA" + secrets.token_urlsafe(48)
        with self.emu.lock:
            self._record("access_token", token)
            self._prune(self.access_tokens)
            self.access_tokens[token] = {
                "client_id": client_id,
                "address": address,
                "scopes": list(scopes),
                "expires": time.time() + ttl,
            }
        if count:
            self.emu.record_token()
        return token

    def mint_access_token(self, address, client_id, scopes):
        """A delegated access token without the OAuth dance (test helper; not counted in ``tokens_issued``)."""
        mailbox = self.emu.store.require(address)
        return self._new_access_token(
            client_id, mailbox.address, list(scopes), int(self.emu.settings["access_token_ttl"]), count=False
        )

    def _id_token(self, app, mailbox, nonce):
        now = int(time.time())
        claims = {
            "aud": app.client_id,
            "iss": f"{self.emu.base_url}/{self.emu.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": mailbox.display_name,
            "oid": mailbox.id,
            "preferred_username": mailbox.address,
            "rh": "0.A" + secrets.token_urlsafe(16),
            "sub": b64url(hashlib.sha256(f"{mailbox.id}:{app.client_id}".encode()).digest()),
            "tid": self.emu.tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = self.signing_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        with self.emu.lock:
            return self._record("id_token", signing_input + "." + b64url(signature))

    # ------------------------------------------------------------------ Graph side

    def authenticate(self, request):
        """Bearer token -> :class:`Principal`, or 401 ``InvalidAuthenticationToken`` (graph-reference J)."""
        header = request.headers.get("Authorization") or ""
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token:
            raise unauthorized("Access token is empty.")
        with self.emu.lock:
            entry = self.access_tokens.get(token)
        if not entry:
            raise unauthorized("CompactToken parsing failed with error code: 80049217")
        if entry["expires"] <= time.time():
            raise unauthorized("Lifetime validation failed, the token is expired.")
        if entry.get("revoked"):
            # revoked server side before its expiry (a sign-in session revoked, continuous access evaluation):
            # the client still holds it as valid; its refresh token may still be redeemed
            raise unauthorized("CompactToken validation failed with reason code: 80049228.")
        return Principal(entry["client_id"], entry["address"], entry["scopes"])

    def peek_address(self, request):
        """Mailbox a token-endpoint / authorize request is about (for faults and counters); never raises."""
        if request.method == "GET":
            return request.query.get("login_hint") or None
        form = request.form()
        with self.emu.lock:
            if form.get("code") in self.codes:
                return self.codes[form["code"]]["address"]
            if form.get("refresh_token") in self.refresh_tokens:
                return self.refresh_tokens[form["refresh_token"]]["address"]
        return form.get("account") or None

    # ------------------------------------------------------------------ admin knobs

    def expire_access_tokens(self, address=None):
        with self.emu.lock:
            hits = [e for e in self.access_tokens.values() if address is None or _same(e["address"], address)]
            for entry in hits:
                entry["expires"] = 0
        return len(hits)

    def revoke_access_tokens(self, address=None):
        """Refuse the access tokens issued so far (401 on Graph) without touching refresh tokens, as when Entra
        revokes a session and the app's next refresh is still granted."""
        with self.emu.lock:
            hits = [e for e in self.access_tokens.values() if address is None or _same(e["address"], address)]
            for entry in hits:
                entry["revoked"] = True
        return len(hits)

    def revoke_refresh_tokens(self, address=None, aadsts=700082):
        with self.emu.lock:
            hits = [e for e in self.refresh_tokens.values() if address is None or _same(e["address"], address)]
            for entry in hits:
                entry["revoked"] = int(aadsts)
        return len(hits)

    def expire_auth_codes(self):
        with self.emu.lock:
            for entry in self.codes.values():
                entry["expires"] = 0
            return len(self.codes)


def _same(left, right):
    return (left or "").lower() == (right or "").lower()


def _redirect_error(error, aadsts, text):
    return {
        "error": error,
        "error_description": f"AADSTS{aadsts}: {text}",
        "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
    }


def _pkce_ok(entry, verifier):
    if not verifier:
        return False
    if entry["challenge_method"] == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    else:
        computed = verifier
    return hmac.compare_digest(computed.encode(), entry["challenge"].encode())


def _transform_scopes(scopes, settings):
    """Knobs ``scope_drop`` / ``scope_rename`` reproduce MSAL issue #450 (graph-reference I.4)."""
    drop = {s.lower() for s in settings.get("scope_drop") or ()}
    rename = {k.lower(): v for k, v in (settings.get("scope_rename") or {}).items()}
    return [rename.get(s.lower(), s) for s in scopes if s.lower() not in drop]


def unauthorized(message):
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        headers={
            "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
            f'authorize", client_id="{GRAPH_APP_ID}"'
        },
    )
