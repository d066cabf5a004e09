"""Emulator, Entra ID side: discovery, consent page, auth-code + PKCE, token errors, refresh, MSAL round trip
(graph-reference I and J). Real HTTPS against a started emulator."""

import base64
import hashlib
import json
import re
import secrets
import warnings
from urllib.parse import parse_qs, urlencode, urlsplit

import msal
import pytest
import requests

from emulator import Emulator

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cr3t~value"
REDIRECT = "https://odoo.test/microsoft_account/authentication"
ANNA, BOB = "anna@contoso.test", "bob@contoso.test"
SCOPES = ["Calendars.ReadWrite", "User.Read"]


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.register_app(CLIENT_ID, SECRET, redirect_uris=[REDIRECT], name="Odoo Calendar")
        emulator.register_app("any-redirect-app", "other-secret")
        emulator.add_mailbox(ANNA, "Anna Smith")
        emulator.add_mailbox(BOB)
        yield emulator


@pytest.fixture()
def http(emu):
    session = requests.Session()
    session.trust_env = False
    yield lambda method, url, **kw: session.request(
        method, url, verify=emu.ca_path, timeout=10, allow_redirects=False, **kw
    )
    session.close()


@pytest.fixture()
def no_ca_env(monkeypatch):
    """graph-reference K: REQUESTS_CA_BUNDLE would override MSAL's session-level verify=."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def pkce():
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(emu, tenant="common", **params):
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "Calendars.ReadWrite User.Read offline_access openid profile",
        "state": "st-1",
        "nonce": "n-1",
    }
    query.update(params)
    query = urlencode({k: v for k, v in query.items() if v is not None})
    return f"{emu.authority_url}/{tenant}/oauth2/v2.0/authorize?{query}"


def consent(http, emu, url, decision="accept", account=ANNA):
    page = http("GET", url)
    assert page.status_code == 200, page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    form = {"request_id": request_id, "decision": decision, "account": account}
    return http("POST", emu.base_url + action, data=form)


def get_code(http, emu, challenge=None, **params):
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    answer = consent(http, emu, authorize_url(emu, **params))
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def redeem(http, emu, code, verifier=None, **overrides):
    form = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "scope": "Calendars.ReadWrite User.Read offline_access openid profile",
    }
    if verifier:
        form["code_verifier"] = verifier
    form.update(overrides)
    data = {k: v for k, v in form.items() if v is not None}
    return http("POST", f"{emu.authority_url}/common/oauth2/v2.0/token", data=data)


def assert_entra_error(response, status, error, aadsts):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [aadsts]
    assert body["error_description"].startswith(f"AADSTS{aadsts}: ")
    assert "\r\nTrace ID: " in body["error_description"] and "\r\nCorrelation ID: " in body["error_description"]
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={aadsts}"
    return body


# ---------------------------------------------------------------- discovery


@pytest.mark.parametrize("tenant", ["common", "organizations", "TENANT_ID", "contoso.test"])
def test_discovery_document(emu, http, tenant):
    tenant = emu.tenant_id if tenant == "TENANT_ID" else tenant
    doc = http("GET", f"{emu.authority_url}/{tenant}/v2.0/.well-known/openid-configuration").json()
    assert doc["authorization_endpoint"] == f"{emu.base_url}/{tenant}/oauth2/v2.0/authorize"
    assert doc["token_endpoint"] == f"{emu.base_url}/{tenant}/oauth2/v2.0/token"
    assert doc["jwks_uri"].startswith("https://")
    keys = http("GET", doc["jwks_uri"]).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"]


def test_discovery_tolerates_double_slash(emu, http):
    response = http("GET", f"{emu.authority_url}/common//v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.json()["issuer"].endswith("/{tenantid}/v2.0")


def test_discovery_unknown_tenant(emu, http):
    response = http("GET", f"{emu.authority_url}/fabrikam.example/v2.0/.well-known/openid-configuration")
    assert_entra_error(response, 400, "invalid_tenant", 90002)


def test_msal_raises_clear_error_for_unknown_tenant(emu, no_ca_env):
    with pytest.raises(ValueError, match="90002|Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            CLIENT_ID,
            client_credential=SECRET,
            authority=f"{emu.authority_url}/no-such-tenant",
            instance_discovery=False,
            verify=emu.ca_path,
            timeout=10,
        )


# ---------------------------------------------------------------- authorize / consent


def test_unknown_client_shows_error_page_without_redirect(emu, http):
    response = http("GET", authorize_url(emu, client_id="nope"))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "AADSTS700016" in response.text


def test_unregistered_redirect_uri_is_never_redirected_to(emu, http):
    response = http("GET", authorize_url(emu, redirect_uri="https://evil.test/cb"))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "AADSTS50011" in response.text


def test_app_without_redirect_uris_accepts_any(emu, http):
    page = http("GET", authorize_url(emu, client_id="any-redirect-app", redirect_uri="https://whatever.test/x"))
    assert page.status_code == 200 and "Accept" in page.text


def test_wrong_response_type_is_redirected_error(emu, http):
    response = http("GET", authorize_url(emu, response_type="token"))
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["unsupported_response_type"] and query["state"] == ["st-1"]


def test_consent_page_lists_app_scopes_and_accounts(emu, http):
    page = http("GET", authorize_url(emu)).text
    assert "Odoo Calendar" in page and "Calendars.ReadWrite" in page
    assert re.search(r"<select[^>]*name=\"account\"", page)
    assert ANNA in page and BOB in page
    assert 'name="decision" value="accept"' in page and 'name="decision" value="decline"' in page


def test_login_hint_fixes_the_account(emu, http):
    page = http("GET", authorize_url(emu, login_hint=BOB.upper())).text
    assert "<select" not in page
    assert f'name="account" value="{BOB}"' in page


def test_consent_without_any_mailbox_shows_error():
    with Emulator() as empty:
        empty.register_app(CLIENT_ID, SECRET)
        response = requests.get(authorize_url(empty), verify=empty.ca_path, timeout=10)
        assert response.status_code == 400 and "AADSTS50034" in response.text


def test_accept_redirects_with_code_state_session_state(emu, http):
    answer = consent(http, emu, authorize_url(emu))
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"] and query["code"][0] and query["session_state"][0]


def test_decline_redirects_with_access_denied(emu, http):
    answer = consent(http, emu, authorize_url(emu), decision="decline")
    location = answer.headers["Location"]
    assert location == (
        REDIRECT + "?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent"
        "+to+access+the+app.&state=st-1"
    )


def test_consent_request_is_single_use(emu, http):
    page = http("GET", authorize_url(emu)).text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page).group(1)
    form = {"request_id": request_id, "decision": "accept", "account": ANNA}
    url = f"{emu.authority_url}/common/oauth2/v2.0/authorize"
    assert http("POST", url, data=form).status_code == 302
    again = http("POST", url, data=form)
    assert again.status_code == 400 and "Location" not in again.headers


def test_form_post_response_mode(emu, http):
    answer = consent(http, emu, authorize_url(emu, response_mode="form_post"))
    assert answer.status_code == 200
    assert f'action="{REDIRECT}"' in answer.text and 'name="code"' in answer.text and 'value="st-1"' in answer.text


# ---------------------------------------------------------------- token endpoint


def test_code_redeems_once_with_pkce(emu, http):
    verifier, challenge = pkce()
    code = get_code(http, emu, challenge)
    first = redeem(http, emu, code, verifier)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["ext_expires_in"] == 3600
    assert body["scope"] == "Calendars.ReadWrite User.Read openid profile"
    assert body["access_token"] and body["refresh_token"]
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert info["utid"] == emu.tenant_id and info["uid"]
    header, claims = (json.loads(base64.urlsafe_b64decode(p + "==")) for p in body["id_token"].split(".")[:2])
    assert header["alg"] == "RS256"
    assert claims["nonce"] == "n-1" and claims["aud"] == CLIENT_ID and claims["tid"] == emu.tenant_id
    assert claims["preferred_username"] == ANNA and claims["name"] == "Anna Smith" and claims["ver"] == "2.0"
    assert claims["oid"] == info["uid"] and claims["exp"] > claims["iat"]
    assert_entra_error(redeem(http, emu, code, verifier), 400, "invalid_grant", 54005)


def test_pkce_mismatch(emu, http):
    _verifier, challenge = pkce()
    code = get_code(http, emu, challenge)
    assert_entra_error(redeem(http, emu, code, "wrong-verifier-" + "x" * 40), 400, "invalid_grant", 501481)
    assert_entra_error(redeem(http, emu, code, None), 400, "invalid_grant", 501481)


def test_expired_code(emu, http):
    verifier, challenge = pkce()
    code = get_code(http, emu, challenge)
    emu.expire_auth_codes()
    assert_entra_error(redeem(http, emu, code, verifier), 400, "invalid_grant", 70008)


def test_redirect_uri_must_match_the_authorize_one(emu, http):
    verifier, challenge = pkce()
    code = get_code(http, emu, challenge)
    assert_entra_error(
        redeem(http, emu, code, verifier, redirect_uri="https://odoo.test/other"), 400, "invalid_grant", 500112
    )


def test_wrong_and_missing_secret(emu, http):
    verifier, challenge = pkce()
    code = get_code(http, emu, challenge)
    assert_entra_error(redeem(http, emu, code, verifier, client_secret="nope"), 401, "invalid_client", 7000215)
    assert_entra_error(redeem(http, emu, code, verifier, client_secret=None), 401, "invalid_client", 7000218)
    assert redeem(http, emu, code, verifier).status_code == 200  # the code survived the failed attempts


def test_unknown_client_and_grant_type(emu, http):
    url = f"{emu.authority_url}/common/oauth2/v2.0/token"
    response = http("POST", url, data={"client_id": "nope", "client_secret": "x", "grant_type": "refresh_token"})
    assert_entra_error(response, 400, "unauthorized_client", 700016)
    response = http("POST", url, data={"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "password"})
    assert_entra_error(response, 400, "unsupported_grant_type", 70003)


def _refresh(http, emu, refresh_token, scope="Calendars.ReadWrite User.Read offline_access openid profile"):
    return http(
        "POST",
        f"{emu.authority_url}/common/oauth2/v2.0/token",
        data={
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": scope,
        },
    )


def test_refresh_rotation_keeps_old_token_valid(emu, http):
    verifier, challenge = pkce()
    first = redeem(http, emu, get_code(http, emu, challenge), verifier).json()
    second = _refresh(http, emu, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert "nonce" not in json.loads(base64.urlsafe_b64decode(second["id_token"].split(".")[1] + "=="))
    assert _refresh(http, emu, first["refresh_token"]).status_code == 200  # graph-reference J: old RT not revoked


def test_refresh_with_new_scope_needs_consent(emu, http):
    verifier, challenge = pkce()
    first = redeem(http, emu, get_code(http, emu, challenge), verifier).json()
    body = assert_entra_error(
        _refresh(http, emu, first["refresh_token"], "Mail.Send offline_access"), 400, "invalid_grant", 65001
    )
    assert body["suberror"] == "consent_required"


@pytest.mark.parametrize("aadsts, suberror", [(700082, None), (50173, None), (65001, "consent_required")])
def test_revoked_refresh_token(aadsts, suberror):
    with Emulator() as own:
        own.register_app(CLIENT_ID, SECRET, [REDIRECT])
        own.add_mailbox(ANNA)
        session = requests.Session()
        session.trust_env = False

        def http(method, url, **kw):
            return session.request(method, url, verify=own.ca_path, timeout=10, allow_redirects=False, **kw)

        verifier, challenge = pkce()
        tokens = redeem(http, own, get_code(http, own, challenge), verifier).json()
        assert own.revoke_refresh_tokens(ANNA, aadsts=aadsts) == 1
        body = assert_entra_error(_refresh(http, own, tokens["refresh_token"]), 400, "invalid_grant", aadsts)
        assert body.get("suberror") == suberror


def test_scope_knob_reproduces_msal_450(emu, http):
    emu.configure(scope_drop=["User.Read"])
    try:
        verifier, challenge = pkce()
        body = redeem(http, emu, get_code(http, emu, challenge), verifier).json()
        assert body["scope"] == "Calendars.ReadWrite openid profile"
    finally:
        emu.configure(scope_drop=[])


def test_client_credentials(emu, http):
    data = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
    }
    common = http("POST", f"{emu.authority_url}/common/oauth2/v2.0/token", data=data)
    assert_entra_error(common, 400, "invalid_request", 50194)
    url = f"{emu.authority_url}/{emu.tenant_id}/oauth2/v2.0/token"
    assert_entra_error(http("POST", url, data=dict(data, client_secret="bad")), 401, "invalid_client", 7000215)
    assert_entra_error(http("POST", url, data=dict(data, scope="Calendars.ReadWrite")), 400, "invalid_scope", 1002012)
    ok = http("POST", url, data=data)
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    me = http("GET", f"{emu.graph_url}/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 400 and "delegated" in me.json()["error"]["message"]
    user = http("GET", f"{emu.graph_url}/users/{ANNA}", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert user.status_code == 200 and user.json()["mail"] == ANNA


# ---------------------------------------------------------------- MSAL, end to end


def _msal_app(emu, cache):
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=SECRET,
        authority=f"{emu.authority_url}/common",
        instance_discovery=False,
        verify=emu.ca_path,
        timeout=10,
        token_cache=cache,
    )


def test_msal_full_round_trip(emu, http, no_ca_env):
    cache = msal.SerializableTokenCache()
    app = _msal_app(emu, cache)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    params = emu.consent(flow["auth_uri"], account=ANNA)
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == ANNA
    account = app.get_accounts()[0]
    assert account["username"] == ANNA and account["realm"] == "common"
    me = http("GET", f"{emu.graph_url}/me", headers={"Authorization": f"Bearer {result['access_token']}"})
    assert me.status_code == 200 and me.json()["userPrincipalName"] == ANNA

    silent = app.acquire_token_silent(SCOPES, account)
    assert silent["token_source"] == "cache" and silent["access_token"] == result["access_token"]

    emu.expire_access_tokens(ANNA)
    expired = http("GET", f"{emu.graph_url}/me", headers={"Authorization": f"Bearer {result['access_token']}"})
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    refreshed = app.acquire_token_silent(SCOPES, account, force_refresh=True)
    assert refreshed["token_source"] == "identity_provider" and refreshed["access_token"] != result["access_token"]
    again = http("GET", f"{emu.graph_url}/me", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert again.status_code == 200

    restored = msal.SerializableTokenCache()
    restored.deserialize(cache.serialize())
    emu.revoke_refresh_tokens(ANNA)
    fresh_app = _msal_app(emu, restored)
    error = fresh_app.acquire_token_silent_with_error(SCOPES, fresh_app.get_accounts()[0], force_refresh=True)
    assert error["error"] == "invalid_grant" and 700082 in error["error_codes"]


def test_msal_with_declined_consent(emu, no_ca_env):
    app = _msal_app(emu, msal.TokenCache())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    result = app.acquire_token_by_auth_code_flow(flow, emu.consent(flow["auth_uri"], decision="decline"))
    assert result["error"] == "access_denied" and "AADSTS65004" in result["error_description"]


def test_msal_trusts_the_ca_bundle_via_environment(emu, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_bundle_path)
    app = _msal_app(emu, msal.TokenCache())
    assert app.authority.token_endpoint == f"{emu.base_url}/common/oauth2/v2.0/token"
