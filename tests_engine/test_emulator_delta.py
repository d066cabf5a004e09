"""Emulator: calendarView/delta rounds, paging, bare occurrences, removals, generations and 410 (graph-reference B)."""

import pytest

from emulator import Emulator

ANNA = "anna@contoso.test"
WINDOW = {"startDateTime": "2025-04-01T00:00:00Z", "endDateTime": "2025-07-01T00:00:00Z"}
BARE_KEYS = {"@odata.type", "@odata.etag", "id", "seriesMasterId", "type", "start", "end"}


@pytest.fixture()
def emu():
    with Emulator() as emulator:
        emulator.add_mailbox(ANNA)
        yield emulator


@pytest.fixture()
def get(graph):
    def call(url, headers=None, **kw):
        headers = dict(headers or {})
        # speak immutable ids, like the add-on (and the control API)
        if "IdType" not in headers.get("Prefer", "IdType"):
            headers["Prefer"] = ", ".join(p for p in ('IdType="ImmutableId"', headers["Prefer"]) if p)
        elif "Prefer" not in headers:
            headers["Prefer"] = 'IdType="ImmutableId"'
        return graph("GET", url, headers=headers, **kw)

    return call


def single(emu, subject, day="2025-05-01", hour=10):
    return emu.outlook.create_event(
        ANNA,
        {
            "subject": subject,
            "start": {"dateTime": f"{day}T{hour:02d}:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"{day}T{hour + 1:02d}:00:00", "timeZone": "UTC"},
        },
    )


def daily_series(emu, subject="Daily", start="2025-05-05", count=4):
    return emu.outlook.create_event(
        ANNA,
        {
            "subject": subject,
            "start": {"dateTime": f"{start}T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"{start}T09:30:00", "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": start, "numberOfOccurrences": count},
            },
        },
    )


def full_round(get, first_url="/me/calendarView/delta", headers=None, params=None):
    pages, response = [], get(first_url, headers=headers, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        if "@odata.nextLink" not in body:
            return pages, body["@odata.deltaLink"]
        assert "$skiptoken=" in body["@odata.nextLink"]
        response = get(body["@odata.nextLink"], headers=headers)


def items(pages):
    return [item for page in pages for item in page["value"]]


def test_window_is_required_and_options_refused(get):
    response = get("/me/calendarView/delta")
    assert response.status_code == 400
    assert response.json()["error"] == dict(
        response.json()["error"],
        code="ErrorInvalidParameter",
        message=(
            "This request requires a time window specified by the query string parameters StartDateTime "
            "and EndDateTime."
        ),
    )
    refused = get("/me/calendarView/delta", params=dict(WINDOW, **{"$select": "subject"}))
    assert refused.status_code == 400


def test_initial_round_pages_with_maxpagesize(emu, get):
    for index in range(5):
        single(emu, f"single {index}", day=f"2025-05-0{index + 1}")
    single(emu, "outside", day="2025-09-01")
    pages, delta_link = full_round(get, headers={"Prefer": "odata.maxpagesize=2"}, params=WINDOW)
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert sorted(i["subject"] for i in items(pages)) == [f"single {i}" for i in range(5)]
    assert all(i["@odata.type"] == "#microsoft.graph.event" and i["@odata.etag"] for i in items(pages))
    assert pages[0]["@odata.nextLink"].startswith(emu.graph_url + "/me/calendarView/delta?$skiptoken=")
    assert delta_link.startswith(emu.graph_url + "/me/calendarView/delta?$deltatoken=")
    assert pages[0]["@odata.context"].endswith("$metadata#Collection(event)")


def test_default_page_size_and_cap(emu, get):
    for index in range(12):
        single(emu, f"s{index}", day=f"2025-05-{index + 1:02d}")
    pages, _link = full_round(get, params=WINDOW)
    assert [len(p["value"]) for p in pages] == [10, 2]
    emu.configure(delta_max_page_size=5)
    response = get("/me/calendarView/delta", params=WINDOW, headers={"Prefer": "odata.maxpagesize=50"})
    assert len(response.json()["value"]) == 5
    assert response.headers["Preference-Applied"] == 'IdType="ImmutableId", odata.maxpagesize=5'


def test_series_master_full_occurrences_bare_never_split(emu, get):
    single(emu, "before", day="2025-05-01")
    master = daily_series(emu, count=4)
    pages, _link = full_round(get, headers={"Prefer": "odata.maxpagesize=2"}, params=WINDOW)
    series_pages = [p for p in pages if any(i.get("type") == "seriesMaster" for i in p["value"])]
    assert len(series_pages) == 1 and len(series_pages[0]["value"]) == 5  # 1 master + 4 occurrences, over the max
    everything = items(pages)
    full_master = next(i for i in everything if i["type"] == "seriesMaster")
    assert full_master["id"] == master["id"] and full_master["recurrence"]["pattern"]["type"] == "daily"
    assert full_master["subject"] == "Daily" and full_master["start"]["dateTime"].startswith("2025-05-05T09:00")
    occurrences = [i for i in everything if i["type"] == "occurrence"]
    assert len(occurrences) == 4 and all(set(o) == BARE_KEYS for o in occurrences)
    assert all(o["seriesMasterId"] == master["id"] for o in occurrences)


def test_incremental_round_reports_only_changes(emu, get):
    keep, change, drop = single(emu, "keep"), single(emu, "change", hour=12), single(emu, "drop", hour=14)
    _pages, delta_link = full_round(get, params=WINDOW)
    emu.outlook.update_event(ANNA, change["id"], {"subject": "changed"})
    emu.outlook.delete_event(ANNA, drop["id"])
    created = single(emu, "new", day="2025-06-01")
    pages, next_link = full_round(get, delta_link)
    found = {i["id"]: i for i in items(pages)}
    assert keep["id"] not in found
    assert found[change["id"]]["subject"] == "changed"
    assert found[created["id"]]["subject"] == "new"
    assert found[drop["id"]] == {
        "@odata.type": "#microsoft.graph.event",
        "id": drop["id"],
        "@removed": {"reason": "deleted"},
    }
    quiet, _ = full_round(get, next_link)
    assert items(quiet) == []


def test_left_window_and_entered_window(emu, get):
    leaving, entering = single(emu, "leaving"), single(emu, "entering", day="2025-09-01")
    _pages, delta_link = full_round(get, params=WINDOW)
    emu.outlook.update_event(
        ANNA,
        leaving["id"],
        {
            "start": {"dateTime": "2025-12-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-12-01T11:00:00", "timeZone": "UTC"},
        },
    )
    emu.outlook.update_event(
        ANNA,
        entering["id"],
        {
            "start": {"dateTime": "2025-05-02T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-05-02T11:00:00", "timeZone": "UTC"},
        },
    )
    found = {i["id"]: i for i in items(full_round(get, delta_link)[0])}
    assert found[leaving["id"]]["@removed"] == {"reason": "deleted"}
    assert found[entering["id"]]["subject"] == "entering"


def test_occurrence_changes_in_delta(emu, get):
    master = daily_series(emu, count=3)
    pages, delta_link = full_round(get, params=WINDOW)
    occurrences = [i for i in items(pages) if i["type"] == "occurrence"]
    emu.outlook.update_event(ANNA, occurrences[0]["id"], {"subject": "exception!"})
    emu.outlook.delete_event(ANNA, occurrences[1]["id"])
    found = {i["id"]: i for i in items(full_round(get, delta_link)[0])}
    assert found[occurrences[0]["id"]]["type"] == "exception" and found[occurrences[0]["id"]]["subject"] == "exception!"
    assert found[occurrences[1]["id"]]["@removed"] == {"reason": "deleted"}
    assert found[master["id"]]["type"] == "seriesMaster"  # its change key moved
    assert occurrences[2]["id"] not in found


def test_old_generations_and_expired_tokens_answer_410(emu, get):
    single(emu, "x")
    _pages, first_link = full_round(get, params=WINDOW)
    links = [first_link]
    for _ in range(3):
        links.append(full_round(get, links[-1])[1])
    gone = get(first_link)
    assert gone.status_code == 410
    error = gone.json()["error"]
    assert error["code"] == "SyncStateNotFound" and error["message"].startswith(
        "The sync state generation is not found; generation=1;[highest=4]"
    )
    assert get(links[-1]).status_code == 200  # newest generation still valid
    assert emu.expire_delta_tokens(ANNA) == 1
    assert get(links[-1]).status_code == 410


def test_delta_links_keep_their_token_and_use_link_host(emu, get):
    emu.configure(link_host="https://graph.microsoft.com")
    single(emu, "x")
    response = get("/me/calendarView/delta", params=WINDOW)
    link = response.json()["@odata.deltaLink"]
    assert link.startswith("https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=")
    rewritten = link.replace("https://graph.microsoft.com/v1.0", "")
    assert get(rewritten).status_code == 200


def test_delta_id_forms_and_time_zone(emu, get):
    event = single(emu, "ids")
    prefer = 'IdType="ImmutableId", outlook.timezone="Tokyo Standard Time"'
    response = get("/me/calendarView/delta", params=WINDOW, headers={"Prefer": prefer})
    value = response.json()["value"][0]
    assert value["id"] == event["id"]  # the control API speaks immutable ids
    assert value["start"] == {"dateTime": "2025-05-01T19:00:00.0000000", "timeZone": "Tokyo Standard Time"}
    rest = get("/me/calendarView/delta", params=WINDOW, headers={"Prefer": "IdType=none"}).json()["value"][0]
    assert rest["id"] != event["id"] and get(f"/me/events/{rest['id']}").json()["subject"] == "ids"
