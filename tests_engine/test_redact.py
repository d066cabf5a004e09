"""Credentials out of log lines (graph/redact.py), and what an error in the callback URL may become
(graph/auth.py callback_error)."""

import json
import logging
from urllib.parse import quote

from hypothesis import example, given
from hypothesis import strategies as st

from graph.auth import CALLBACK_DETAIL_MAX, callback_error
from graph.errors import ConfigurationError, ReauthRequired
from graph.redact import MARK, RedactingFilter, redact

URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# text around a credential, which cannot hold one by chance (none of the characters of a token)
prose = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=URLSAFE + "."), max_size=40)
tokens = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["0.A", "1.A", "EwA", "M.C5", ""]),
    st.text(st.sampled_from(URLSAFE + "."), min_size=20, max_size=120),
)


def msal_cache(token):
    return json.dumps({"RefreshToken": {"uid.utid-login-refreshtoken-app": {"secret": token, "home_account_id": "x"}}})


def bad_query(token):
    """Odoo's line for a refused ORM update: the statement's bytes, as ``"bad query: %s" % query`` prints them."""
    query = f'UPDATE "outlook_mailbox" SET "token_cache" = \'{msal_cache(token)}\', "state" = \'connected\''
    return f"bad query: {query.encode()}\nERROR: could not serialize access"


# where a credential shows up in the lines of Odoo, werkzeug and the libraries
CONTEXTS = {
    "failed ORM update (bytes repr)": bad_query,
    "SQL assignment": lambda t: (
        f"query: UPDATE outlook_mailbox_token SET \"builtin_refresh_token\" = '{t}' WHERE id = 3"
    ),
    "callback access line": lambda t: f'"GET /microsoft_account/authentication?code={t}&state=xyz HTTP/1.1" 303 -',
    "login redirect": lambda t: (
        '"GET /web/login?redirect='
        + quote(f"/microsoft_account/authentication?code={t}&state=xyz", safe="")
        + ' HTTP/1.1" 200 -'
    ),
    "token request form": lambda t: f"grant_type=refresh_token&refresh_token={t}&client_secret={t}&scope=x",
    "token response repr": lambda t: repr({"token_type": "Bearer", "access_token": t, "refresh_token": t}),
    "token response JSON": lambda t: json.dumps({"id_token": t, "expires_in": 3600}),
    "authorization header": lambda t: f"headers: {{'Authorization': 'Bearer {t}'}}",
    "typed secret in RPC params": lambda t: json.dumps({"args": [[], {"outlook_client_secret": t}]}),
}


@given(token=tokens, context=st.sampled_from(sorted(CONTEXTS)), before=prose)
def test_no_credential_survives_redaction(token, context, before):
    text = before + " " + CONTEXTS[context](token)
    clean = redact(text)
    assert token not in clean
    assert MARK in clean
    assert redact(clean) == clean


segments = st.text(st.sampled_from(URLSAFE), min_size=8, max_size=200)


@given(header=segments, payload=segments, signature=st.one_of(st.just(""), segments), before=prose)
def test_a_jwt_is_redacted_wherever_it_stands(header, payload, signature, before):
    clean = redact(f"{before} eyJ{header}.eyJ{payload}.{signature} (id token)")
    assert f"eyJ{payload}" not in clean
    if signature:
        assert f".{signature}" not in clean


@given(st.text(st.characters(blacklist_characters=":=&?%'\"\\"), max_size=200))
def test_lines_without_credentials_are_left_alone(text):
    if "eyJ" not in text and "bearer" not in text.lower():
        assert redact(text) == text


def test_the_filter_redacts_message_and_traceback_before_handlers():
    token = "1.A" + "x" * 40
    logger = logging.getLogger("tests_engine.redact")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    logger.addFilter(RedactingFilter())
    logger.propagate = False
    try:
        try:
            raise ValueError(f"refused: {{'refresh_token': '{token}'}}")
        except ValueError:
            logger.exception("request to %s failed", f"https://login.example/token?refresh_token={token}")
    finally:
        logger.removeHandler(handler)
    text = logging.Formatter().format(records[0])
    assert token not in text
    assert "request to https://login.example/token?refresh_token=[redacted] failed" in text
    assert "ValueError: refused: {'refresh_token': '[redacted]'}" in text


errors = st.one_of(
    st.sampled_from(["invalid_client", "unauthorized_client", "invalid_request", "access_denied", "server_error"]),
    st.text(min_size=1),
)


@given(error=errors, description=st.text())
@example(error="invalid_client", description="\r")  # a description of blanks only: once an IndexError (a 500)
def test_an_error_the_browser_brings_is_never_a_settings_problem(error, description):
    exc = callback_error({"error": error, "error_description": description, "state": "s"})
    assert not isinstance(exc, ConfigurationError)
    if error == "access_denied":
        assert isinstance(exc, ReauthRequired)
    assert len(str(exc)) < CALLBACK_DETAIL_MAX + 300
