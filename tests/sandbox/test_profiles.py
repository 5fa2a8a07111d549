"""Provider profiles (generic, office365, google) and the strictness switches of any profile."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bridge.sandbox import FaultConfig, ProfileConfig, SandboxApp
from bridge.sandbox.profiles import PROFILES
from tests.sandbox.conftest import (
    TOKEN,
    Api,
    create,
    error_of,
    make_app,
    open_api,
    run_chain,
    start_sync,
)

GOOGLE_ETAG = re.compile(r"%[A-Za-z0-9+/]+=+")


def _patch(client: httpx.Client, cid: str, etag: str, body: Any) -> httpx.Response:
    return client.patch(f"/contacts/{cid}", json=body, headers={"If-Match": etag})


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "badRequest" and f"'{field}'" in error["message"], error


def _refused_by_graph(response: httpx.Response, prop: str, message: str | None = None) -> None:
    """400 with Microsoft Graph's error, relayed in ``originalError``, naming Graph's
    contact property (not Aurinko's field): ``message`` when given, else ``prop: ...``."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"code", "message", "requestId", "originalError"}, body
    error = body["originalError"]["error"]
    assert error["code"] == "ErrorInvalidArgument"
    if message is not None:
        assert error["message"] == message, error
    else:
        assert error["message"].startswith(f"{prop}: "), error
    assert set(error["innerError"]) == {"date", "request-id"}
    assert body["message"] == error["message"] and "Invalid field" not in body["message"]


@pytest.fixture(params=sorted(PROFILES))
def any_profile(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """An in-process client of a sandbox running each profile in turn."""
    app = make_app(profile=ProfileConfig(request.param))
    handle = open_api(app, "wsgi")
    yield handle.client()
    handle.close()
    app.close()


@pytest.fixture
def office365(app: SandboxApp, local_client: httpx.Client) -> httpx.Client:
    app.set_profile(ProfileConfig("office365"))
    return local_client


@pytest.fixture
def google(app: SandboxApp, local_client: httpx.Client) -> httpx.Client:
    app.set_profile(ProfileConfig("google"))
    return local_client


# --- generic: the default, unchanged -------------------------------------------------------


def test_generic_is_the_default_and_keeps_what_the_contract_allows(
    app: SandboxApp, local_client: httpx.Client
) -> None:
    assert app.profile == ProfileConfig() and app.config.profile.name == "generic"
    emails = [{"address": f"{n}@example.com", "type": "work"} for n in range(5)]
    body = {"emailAddresses": emails, "birthday": "--03-17", "notes": "", "x-custom": 1}
    answer = create(local_client, body)
    assert set(answer) == {"id", "etag", "record"}
    record = answer["record"]
    assert record["emailAddresses"] == emails and record["birthday"] == "--03-17"
    assert record["notes"] == "" and record["x-custom"] == 1
    assert _patch(local_client, answer["id"], answer["etag"], {}).status_code == 200


# --- field removal: the same in every profile -----------------------------------------------


def test_null_removes_a_field_and_omitting_keeps_it_in_every_profile(
    any_profile: httpx.Client,
) -> None:
    client = any_profile
    created = create(client, {"nickName": "n", "notes": "keep", "name": {"givenName": "A"}})
    body = {"nickName": None, "name": {"givenName": "B", "middleName": None}}
    answer = _patch(client, created["id"], created["etag"], body)
    assert answer.status_code == 200, answer.text
    record = client.get(f"/contacts/{created['id']}").json()
    assert "nickName" not in record  # null removes; a removed field is absent, never null
    assert record["notes"] == "keep"  # omitted: untouched
    assert record["name"] == {"givenName": "B"}  # a null sub-key is no value


@pytest.mark.parametrize("profile", ["office365", "google"])
def test_providers_store_no_empty_value(
    app: SandboxApp, local_client: httpx.Client, profile: str
) -> None:
    app.set_profile(ProfileConfig(profile))
    client = local_client
    created = create(client, {"notes": "n", "keywords": ["k"], "nickName": ""})
    assert "nickName" not in created["record"]
    answer = _patch(client, created["id"], created["etag"], {"notes": "", "keywords": []})
    record = answer.json()["record"]
    assert "notes" not in record and "keywords" not in record


# --- office365 --------------------------------------------------------------------------------


def test_office365_keeps_three_emails_and_drops_their_type(office365: httpx.Client) -> None:
    emails = [{"address": f"{n}@example.com", "name": "N", "type": "work"} for n in range(4)]
    # Graph's own words for it (real 400s quoted in microsoft-graph-docs issue #15276).
    _refused_by_graph(
        office365.post("/contacts", json={"emailAddresses": emails}),
        "emailAddresses",
        "The multi value property EmailAddresses has 4 entries, that exceeds the max allowed"
        " value of 3",
    )
    record = create(office365, {"emailAddresses": emails[:3]})["record"]
    assert record["emailAddresses"] == [
        {"address": f"{n}@example.com", "name": "N"} for n in range(3)
    ]


@pytest.mark.parametrize(
    ("types", "field"),
    [
        (["work", "work", "home", "home", "mobile"], None),
        (["work", "work", "work"], "BusinessPhones has 3 entries"),  # Graph's words
        (["mobile", "mobile"], "mobilePhone"),
        (["home", "home", "home"], "HomePhones has 3 entries"),
        (["home", "workFax"], "businessPhones"),  # no Graph slot: its general phone list
        (["pager"], "businessPhones"),
        (["other"], "businessPhones"),
        ([None], "businessPhones"),
    ],
)
def test_office365_phones_fit_graph_slots_or_are_refused(
    office365: httpx.Client, types: list[str | None], field: str | None
) -> None:
    phones = [{"number": f"+1 555 010{n}", "type": kind} for n, kind in enumerate(types)]
    response = office365.post("/contacts", json={"phoneNumbers": phones})
    if field is None:
        assert response.status_code == 201
        assert [p["type"] for p in response.json()["record"]["phoneNumbers"]] == types
    elif " has " in field:
        prop = field.split(" ", 1)[0]
        words = f"The multi value property {field}, that exceeds the max allowed value of 2"
        _refused_by_graph(response, prop, words)
    else:
        _refused_by_graph(response, field)


def test_office365_keeps_one_address_and_one_relation_per_type(office365: httpx.Client) -> None:
    addresses = [{"city": c, "type": t} for c, t in (("A", "home"), ("B", "work"), ("C", "home"))]
    _refused_by_graph(office365.post("/contacts", json={"addresses": addresses}), "homeAddress")
    untyped = office365.post("/contacts", json={"addresses": [{"city": "X"}]})
    _refused_by_graph(untyped, "businessAddress")
    relations = [{"name": "A", "type": "spouse"}, {"name": "B", "type": "spouse"}]
    _refused_by_graph(office365.post("/contacts", json={"relations": relations}), "spouseName")
    create(office365, {"addresses": addresses[:2], "relations": relations[:1]})


def test_office365_refuses_a_year_less_birthday(office365: httpx.Client) -> None:
    _refused_by_graph(office365.post("/contacts", json={"birthday": "--03-17"}), "birthday")
    created = create(office365, {"birthday": "1984-03-17"})
    year_less = {"birthday": "--03-17"}
    _refused_by_graph(_patch(office365, created["id"], created["etag"], year_less), "birthday")
    # A refused PATCH is checked before the etag and changes nothing.
    _refused_by_graph(_patch(office365, created["id"], "stale", year_less), "birthday")
    assert office365.get(f"/contacts/{created['id']}").json()["etag"] == created["etag"]


@pytest.mark.parametrize("profile", ["office365", "google"])
def test_providers_drop_unknown_top_level_keys(
    app: SandboxApp, local_client: httpx.Client, profile: str
) -> None:
    app.set_profile(ProfileConfig(profile))
    client = local_client
    record = create(client, {"nickName": "n", "x-custom": {"a": 1}, "companyId": "c"})["record"]
    assert "x-custom" not in record and "companyId" not in record and record["nickName"] == "n"


# --- google -----------------------------------------------------------------------------------


def test_google_accepts_a_year_less_birthday(google: httpx.Client) -> None:
    assert create(google, {"birthday": "--03-17"})["record"]["birthday"] == "--03-17"


def test_google_refuses_a_birthday_that_is_no_date_in_googles_error_model(
    google: httpx.Client,
) -> None:
    response = google.post("/contacts", json={"birthday": "circa 1800"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "requestId", "originalError"}
    error = body["originalError"]["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == body["message"] == "Request contains an invalid argument."
    (detail,) = error["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [v["field"] for v in detail["fieldViolations"]] == ["birthdays[0].date"]


def test_google_etags_have_googles_form_and_work_as_sent(api: Api) -> None:
    api.app.set_profile(ProfileConfig("google"))
    client = api.client()
    created = create(client)
    assert GOOGLE_ETAG.fullmatch(created["etag"]), created["etag"]
    assert created["record"]["etag"] == created["etag"]
    answer = _patch(client, created["id"], created["etag"], {"notes": "n"})
    assert answer.status_code == 200 and GOOGLE_ETAG.fullmatch(answer.json()["etag"])
    assert answer.json()["etag"] != created["etag"]
    assert _patch(client, created["id"], created["etag"], {"notes": "x"}).status_code == 412


# --- switches of any profile ------------------------------------------------------------------


def test_weak_etags_are_answered_everywhere_and_accepted_back(api: Api) -> None:
    api.app.set_profile(weak_etags=True)
    client = api.client()
    created = create(client)
    weak = created["etag"]
    assert re.fullmatch(r'W/"[^"]+"', weak) and created["record"]["etag"] == weak
    assert client.get(f"/contacts/{created['id']}").json()["etag"] == weak
    records, _, _ = run_chain(client, "updated", start_sync(client)["syncUpdatedToken"])
    assert [r["etag"] for r in records] == [weak]
    assert client.get("/contacts").json()["records"][0]["etag"] == weak
    assert api.app.dump(TOKEN)[0]["etag"] == weak
    answer = _patch(client, created["id"], weak, {"notes": "1"})
    assert answer.status_code == 200
    bare = answer.json()["etag"].removeprefix("W/")
    assert _patch(client, created["id"], bare, {"notes": "2"}).status_code == 200  # "..." form
    assert _patch(client, created["id"], weak, {"notes": "3"}).status_code == 412  # stale


def test_weak_if_match_is_refused_unless_switched_on(local_client: httpx.Client) -> None:
    created = create(local_client)
    weak = f'W/"{created["etag"]}"'
    assert _patch(local_client, created["id"], weak, {"notes": "n"}).status_code == 412


@pytest.mark.parametrize(("mode", "keys"), [("id-etag", {"id", "etag"}), ("id", {"id"})])
def test_write_answers_can_leave_out_the_record_and_the_etag(
    api: Api, mode: str, keys: set[str]
) -> None:
    api.app.set_profile(ProfileConfig(write_answer=mode))  # type: ignore[arg-type]
    client = api.client()
    created = create(client)
    assert set(created) == keys
    etag = client.get(f"/contacts/{created['id']}").json()["etag"]
    answer = _patch(client, created["id"], etag, {"notes": "n"})
    assert answer.status_code == 200 and set(answer.json()) == keys


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"nickName": "n", "surname": "X"}, "'surname'"),
        ({}, "sets no field"),
        ({"id": "c1", "etag": "e", "hasPhoto": False}, "sets no field"),
    ],
)
def test_strict_body_refuses_unknown_keys_and_empty_bodies(
    app: SandboxApp, local_client: httpx.Client, body: dict[str, Any], needle: str
) -> None:
    created = create(local_client)
    app.set_profile(strict_body=True)
    for response in (
        local_client.post("/contacts", json=body),
        _patch(local_client, created["id"], created["etag"], body),
    ):
        assert response.status_code == 400 and needle in error_of(response)["message"]
    assert local_client.get(f"/contacts/{created['id']}").json()["etag"] == created["etag"]
    assert _patch(local_client, created["id"], created["etag"], {"notes": ""}).status_code == 200


@pytest.mark.parametrize("body", [{"notes": None}, {"urls": None}, {"photo": None}])
def test_strict_body_refuses_null_which_the_schema_cannot_express(
    app: SandboxApp, local_client: httpx.Client, body: dict[str, Any]
) -> None:
    created = create(local_client, {"notes": "n", "urls": [{"href": "https://a.example/"}]})
    app.set_profile(strict_body=True)
    (field,) = body
    _refused(_patch(local_client, created["id"], created["etag"], body), field)
    _refused(local_client.post("/contacts", json=body), field)


# --- how a removal is read: null and empty values ---------------------------------------------

PHOTO = {"mimeType": "image/png", "content": "iVBORw0KGgo="}
FULL = {
    "notes": "n",
    "birthday": "1980-02-03",
    "keywords": ["k"],
    "name": {"givenName": "A", "middleName": "Q"},
    "photo": PHOTO,
}
EMPTIES = {
    "notes": "",
    "birthday": "",
    "keywords": [],
    "name": {"givenName": "A", "middleName": ""},
    "photo": {"content": ""},
}
NULLS = {"notes": None, "birthday": None, "keywords": None, "photo": None}


def _after_patch(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    created = create(client, FULL)
    answer = _patch(client, created["id"], created["etag"], body)
    assert answer.status_code == 200, answer.text
    record = client.get(f"/contacts/{created['id']}", params={"withPhoto": "true"}).json()
    return {k: v for k, v in record.items() if v or k == "hasPhoto"}


def test_empty_values_remove_and_a_photo_without_content_is_none(
    local_client: httpx.Client,
) -> None:
    record = _after_patch(local_client, EMPTIES)
    assert not {"notes", "birthday", "keywords", "photo"} & set(record)
    assert record["hasPhoto"] is False and not record["name"].get("middleName")


def test_null_ignored_leaves_a_field_patched_to_null(
    app: SandboxApp, local_client: httpx.Client
) -> None:
    app.set_profile(null_ignored=True)
    record = _after_patch(local_client, NULLS)
    assert record["notes"] == "n" and record["keywords"] == ["k"] and record["hasPhoto"]
    assert not {"notes", "keywords", "photo"} & set(_after_patch(local_client, EMPTIES))


def test_empty_unchanged_leaves_a_field_patched_to_an_empty_value(
    app: SandboxApp, local_client: httpx.Client
) -> None:
    app.set_profile(empty_unchanged=True)
    record = _after_patch(local_client, EMPTIES)
    assert record["notes"] == "n" and record["birthday"] == "1980-02-03"
    assert record["keywords"] == ["k"] and record["photo"]["content"] == PHOTO["content"]
    assert record["name"] == {"givenName": "A", "middleName": "Q"}
    assert not {"notes", "keywords", "photo"} & set(_after_patch(local_client, NULLS))
    # The object without the member replaces it whole.
    body = {"name": {"givenName": "A"}}
    assert _after_patch(local_client, body)["name"] == {"givenName": "A"}


def test_a_429_without_retry_after_is_a_fault_setting(
    app: SandboxApp, local_client: httpx.Client
) -> None:
    app.set_faults(FaultConfig(error_rate=1, error_statuses=(429,), retry_after=None))
    response = local_client.get("/contacts")
    assert response.status_code == 429 and "Retry-After" not in response.headers


# --- selecting and switching ------------------------------------------------------------------


def test_profile_endpoint_reads_and_replaces_the_settings(api: Api) -> None:
    admin = api.root_client()
    assert admin.get("/_sandbox/profile").json() == {
        "name": "generic", "weak_etags": False, "write_answer": "record", "strict_body": False,
        "null_ignored": False, "empty_unchanged": False, "photo_ignored": False,
    }  # fmt: skip
    answer = admin.put("/_sandbox/profile", json={"name": "office365", "weak_etags": True})
    assert answer.status_code == 200 and answer.json()["name"] == "office365"
    assert api.app.profile == ProfileConfig("office365", weak_etags=True)
    _refused_by_graph(api.client().post("/contacts", json={"birthday": "--01-02"}), "birthday")
    # PUT replaces everything: keys left out go back to their defaults.
    assert admin.put("/_sandbox/profile", json={}).json()["name"] == "generic"
    assert api.app.profile == ProfileConfig()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "yahoo"},
        {"name": 3},
        {"weak_etags": "yes"},
        {"null_ignored": 1},
        {"empty_unchanged": "true"},
        {"write_answer": "none"},
        {"nope": True},
        ["office365"],
    ],
)
def test_profile_endpoint_rejects_bad_settings(api: Api, body: object) -> None:
    response = api.root_client().put("/_sandbox/profile", json=body)
    assert response.status_code == 400 and error_of(response)["code"] == "badRequest"
    assert api.app.profile == ProfileConfig()


def test_profile_endpoint_needs_a_token_and_is_never_faulted(api: Api) -> None:
    api.app.set_faults(error_rate=1.0, drop_rate=1.0)
    assert api.root_client().get("/_sandbox/profile").status_code == 200
    assert api.root_client(None).put("/_sandbox/profile", json={}).status_code == 401


def test_set_profile_replaces_or_changes_and_bad_names_raise(app: SandboxApp) -> None:
    assert app.set_profile(weak_etags=True) == ProfileConfig(weak_etags=True)
    assert app.set_profile(name="google").weak_etags is True  # keywords keep the rest
    assert app.set_profile(ProfileConfig("office365")) == ProfileConfig("office365")
    with pytest.raises(ValueError):
        ProfileConfig("yahoo")
    with pytest.raises(ValueError):
        ProfileConfig(write_answer="all")  # type: ignore[arg-type]


def test_photo_ignored_leaves_the_photo_as_it_was_on_post_and_patch(
    app: SandboxApp, local_client: httpx.Client
) -> None:
    app.set_profile(photo_ignored=True)
    created = create(local_client, {"notes": "n", "photo": PHOTO})
    assert created["record"]["hasPhoto"] is False
    app.set_profile(ProfileConfig())
    with_photo = create(local_client, {"notes": "n", "photo": PHOTO})
    app.set_profile(photo_ignored=True)
    for body in ({"photo": None}, {"photo": {"content": ""}}, {"photo": PHOTO, "notes": "x"}):
        answer = _patch(local_client, with_photo["id"], with_photo["etag"], body)
        assert answer.status_code == 200 and answer.json()["record"]["hasPhoto"] is True
        with_photo = answer.json()
