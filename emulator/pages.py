"""The few HTML pages Entra ID shows in a browser: consent, error, form_post auto-submit (graph-reference I.3, I.5)."""

from html import escape

_STYLE = (
    "body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}"
    ".box{max-width:440px;margin:60px auto;background:#fff;padding:32px 44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}"
    "h1{font-size:22px;font-weight:600}ul{padding-left:20px}.err{color:#a4262c}"
    "button{padding:6px 20px;margin-right:8px;font-size:15px}select{width:100%;padding:4px;margin:8px 0 16px}"
    ".muted{color:#666;font-size:13px}"
)


def _page(title, inner):
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><div class="box">{inner}</div></body></html>'
    )


def consent_page(action, request_id, app_name, scopes, accounts, fixed_account, tenant):
    """Consent screen: app name, scopes, account (fixed or a ``<select>``), Accept / Decline (POST to ``action``)."""
    scope_items = "".join(f"<li>{escape(scope)}</li>" for scope in scopes)
    if fixed_account:
        account_html = (
            f'<p id="account">Signed in as <b>{escape(fixed_account)}</b></p>'
            f'<input type="hidden" name="account" value="{escape(fixed_account)}">'
        )
    else:
        options = "".join(f'<option value="{escape(a)}">{escape(a)}</option>' for a in accounts)
        account_html = (
            f'<label for="account">Pick an account</label><select id="account" name="account">{options}</select>'
        )
    inner = (
        "<h1>Permissions requested</h1>"
        f'<p><b id="app-name">{escape(app_name)}</b> (emulated tenant {escape(tenant)}) would like to:</p>'
        f'<ul id="scopes">{scope_items}</ul>'
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="request_id" value="{escape(request_id)}">'
        f"{account_html}"
        '<button type="submit" name="decision" value="accept" id="accept">Accept</button>'
        '<button type="submit" name="decision" value="decline" id="decline">Decline</button>'
        '</form><p class="muted">Local Microsoft Entra ID emulator - no password is asked.</p>'
    )
    return _page("Permissions requested", inner)


def error_page(aadsts, message):
    """Entra's sign-in error screen ("Sorry, but we're having trouble signing you in.")."""
    inner = (
        "<h1>Sorry, but we're having trouble signing you in.</h1>"
        f'<p class="err" id="error">AADSTS{aadsts}: {escape(message)}</p>'
    )
    return _page("Sign in error", inner)


def form_post_page(redirect_uri, fields):
    """``response_mode=form_post``: an auto-submitting form to the redirect URI."""
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}" />' for k, v in fields.items())
    return (
        "<html><head><title>Working...</title></head><body>"
        f'<form method="POST" name="hiddenform" action="{escape(redirect_uri)}">{inputs}'
        '<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" />'
        '</noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>'
    )


def message_page(title, message):
    """A plain information page (e.g. after sign-out)."""
    return _page(title, f'<h1>{escape(title)}</h1><p id="message">{escape(message)}</p>')
