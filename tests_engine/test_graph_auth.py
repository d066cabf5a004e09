"""The pure Graph/Entra client (graph/) against the emulator: MSAL flow, refresh, typed errors."""

from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from lxml import html

from emulator import Emulator
from graph.auth import AuthSettings, MailboxAuth
from graph.client import GraphClient
from graph.errors import ConfigurationError, DeltaExpired, GraphError, ReauthRequired, Throttled, TransientError
from graph.http import make_session

CLIENT_ID = "0c9b1d52-8f7e-4c3a-9f10-2b7d3e4a5c61"
SECRET = "engine-suite-secret"
REDIRECT = "https://odoo.example.test/microsoft_account/authentication"
ANNA = "anna@contoso.test"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.start()
        emulator.register_app(CLIENT_ID, SECRET, redirect_uris=[REDIRECT])
        emulator.add_mailbox(ANNA, display_name="Anna")
        yield emulator


@pytest.fixture()
def settings(emu):
    return AuthSettings(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        tenant="common",
        authority_url=emu.authority_url,
        graph_url=emu.graph_url,
        ca_bundle=emu.ca_path,
    )


def consent(emu, auth_uri, decision="accept"):
    """Answer the consent page as a browser would; return the redirect (Odoo callback) URL."""
    page = requests.get(auth_uri, verify=emu.ca_path, timeout=10)
    form = html.fromstring(page.text).forms[0]
    data = dict(form.form_values(), decision=decision)
    answer = requests.post(
        urljoin(auth_uri, form.action), data=data, verify=emu.ca_path, allow_redirects=False, timeout=10
    )
    return answer.headers["Location"]


def params_of(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def connect(emu, settings):
    """Run the whole connect flow; return the serialized token cache."""
    auth = MailboxAuth(settings, make_session(settings.ca_bundle))
    flow = auth.start_flow(REDIRECT, login_hint=ANNA)
    auth.finish_flow(flow, params_of(consent(emu, flow["auth_uri"])))
    return auth.cache.serialize()


def test_session_trusts_its_ca_despite_requests_ca_bundle(emu, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    discovery = f"{emu.authority_url}/common/v2.0/.well-known/openid-configuration"
    assert make_session(emu.ca_path).get(discovery).status_code == 200
    plain = requests.Session()
    plain.verify = emu.ca_path  # silently replaced by REQUESTS_CA_BUNDLE (psf/requests#3829)
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(discovery, timeout=10)


def test_connect_flow_gives_tokens_and_me(emu, settings):
    blob = connect(emu, settings)
    auth = MailboxAuth(settings, make_session(settings.ca_bundle), blob)
    me = GraphClient(auth.session, settings.graph_url, auth.access_token).me()
    assert me["mail"] == ANNA
    assert auth.cache_blob_if_changed() is None  # a cached access token was used: nothing new to store


def test_start_flow_uses_pkce_and_short_scopes(emu, settings):
    flow = MailboxAuth(settings, make_session(settings.ca_bundle)).start_flow(REDIRECT)
    query = params_of(flow["auth_uri"])
    assert query["code_challenge_method"] == "S256"
    assert query["scope"].split() == sorted(["Calendars.ReadWrite", "User.Read", "offline_access", "openid", "profile"])
    assert query["redirect_uri"] == REDIRECT


def test_declined_consent(emu, settings):
    auth = MailboxAuth(settings, make_session(settings.ca_bundle))
    flow = auth.start_flow(REDIRECT)
    with pytest.raises(ReauthRequired, match="declined") as caught:
        auth.finish_flow(flow, params_of(consent(emu, flow["auth_uri"], decision="decline")))
    assert caught.value.error == "access_denied"


def test_wrong_secret_is_a_configuration_error(emu, settings):
    bad = AuthSettings(**{**settings.__dict__, "client_secret": "nope"})
    auth = MailboxAuth(bad, make_session(bad.ca_bundle))
    flow = auth.start_flow(REDIRECT)
    with pytest.raises(ConfigurationError, match="AADSTS7000215"):
        auth.finish_flow(flow, params_of(consent(emu, flow["auth_uri"])))


def test_incomplete_or_unreachable_settings(emu, settings):
    with pytest.raises(ConfigurationError, match="Client ID and Client Secret"):
        MailboxAuth(AuthSettings(), make_session())
    unreachable = AuthSettings(**{**settings.__dict__, "authority_url": "https://127.0.0.1:9"})
    with pytest.raises(ConfigurationError, match="Cannot reach"):
        MailboxAuth(unreachable, make_session(settings.ca_bundle, retries=0))
    unknown_tenant = AuthSettings(**{**settings.__dict__, "tenant": "not-a-tenant"})
    with pytest.raises(ConfigurationError, match="not-a-tenant"):
        MailboxAuth(unknown_tenant, make_session(settings.ca_bundle))


def test_refresh_then_revocation(emu, settings):
    blob = connect(emu, settings)
    emu.expire_access_tokens(ANNA)
    auth = MailboxAuth(settings, make_session(settings.ca_bundle), blob)
    client = GraphClient(auth.session, settings.graph_url, auth.access_token)
    with pytest.raises(ReauthRequired, match="InvalidAuthenticationToken"):
        client.me()  # MSAL still trusts its cached token; Graph does not
    emu.revoke_refresh_tokens(ANNA)
    forced = auth.app.acquire_token_silent_with_error(
        ["Calendars.ReadWrite", "User.Read"], auth.account(), force_refresh=True
    )
    assert forced["error"] == "invalid_grant"


def test_app_credentials_check(emu, settings):
    tenant_settings = AuthSettings(**{**settings.__dict__, "tenant": emu.tenant_id})
    assert MailboxAuth(tenant_settings, make_session(settings.ca_bundle)).check_app_credentials() is True
    assert MailboxAuth(settings, make_session(settings.ca_bundle)).check_app_credentials() is False
    wrong = AuthSettings(**{**tenant_settings.__dict__, "client_secret": "bad"})
    with pytest.raises(ConfigurationError, match="AADSTS7000215"):
        MailboxAuth(wrong, make_session(settings.ca_bundle)).check_app_credentials()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 429, "retry_after": 7}, Throttled),
        ({"status": 503}, TransientError),
        ({"status": 400}, GraphError),
        ({"status": 410}, DeltaExpired),
    ],
)
def test_graph_errors_are_typed(emu, settings, fault, error):
    auth = MailboxAuth(settings, make_session(settings.ca_bundle, retries=0), connect(emu, settings))
    client = GraphClient(auth.session, settings.graph_url, auth.access_token)
    emu.inject_fault("status", path=r"^/v1\.0/me$", count=1, **fault)
    try:
        with pytest.raises(error) as caught:
            client.me()
    finally:
        emu.clear_faults()
    if error is Throttled:
        assert caught.value.retry_after == 7
    assert client.me()["mail"] == ANNA
