"""The emulator serves hostile items (corrupt_event) as Graph would, and texts UTF-8 cannot carry."""

import pytest

from emulator import Emulator

ANNA = "anna@contoso.test"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        emulator.start()
        emulator.add_mailbox(ANNA, display_name="Anna")
        yield emulator


def _event(emu, subject="Plain"):
    return emu.outlook.create_event(
        ANNA,
        {
            "subject": subject,
            "start": {"dateTime": "2031-01-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2031-01-01T10:00:00", "timeZone": "UTC"},
        },
    )


def test_corrupted_item_is_served_with_its_hostile_properties_then_plain_again(emu, graph_as):
    graph = graph_as(ANNA)
    item = _event(emu)
    emu.outlook.corrupt_event(ANNA, item["id"], {"subject": 42, "start": "not an object"}, drop=["end"])
    served = graph("GET", f"/me/events/{item['id']}").json()
    assert (served["subject"], served["start"], "end" in served) == (42, "not an object", False)
    assert served["changeKey"] != item["changeKey"]  # a change: delta lists it again
    emu.outlook.corrupt_event(ANNA, item["id"], {})
    assert graph("GET", f"/me/events/{item['id']}").json()["subject"] == "Plain"
    with pytest.raises(ValueError):
        emu.outlook.corrupt_event(ANNA, item["id"], {"id": "other"})


def test_a_lone_surrogate_goes_out_escaped(emu, graph_as):
    graph = graph_as(ANNA)
    item = _event(emu)
    emu.outlook.corrupt_event(ANNA, item["id"], {"subject": "half \ud800 pair"})
    response = graph("GET", f"/me/events/{item['id']}")
    assert response.status_code == 200
    assert b"\\ud800" in response.content
    assert response.json()["subject"] == "half \ud800 pair"


def test_revoked_access_token_is_refused_with_graphs_401(emu, graph_as):
    graph = graph_as(ANNA)
    assert graph("GET", "/me/events").status_code == 200
    emu.revoke_access_tokens(ANNA)
    refused = graph("GET", "/me/events")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
