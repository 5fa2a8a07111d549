"""CRUD on /v1/contacts: shapes, schema fidelity, PATCH semantics, photos, 404s."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

import httpx

from tests.sandbox.conftest import Api, create, error_of, run_chain, start_sync

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2213f"
        "7d0000000049454e44ae426082"
    )
).decode()

FULL_CONTACT: dict[str, Any] = {
    "name": {
        "displayName": "Dr. Zoë Amélie Hartmann Jr.",
        "prefix": "Dr.",
        "givenName": "Zoë",
        "middleName": "Amélie",
        "familyName": "Hartmann",
        "suffix": "Jr.",
        "yomiGivenName": "ぞえ",
        "yomiFamilyName": "はるとまん",
    },
    "nickName": "Zo",
    "fileAs": "Hartmann, Zoë",
    "company": {
        "name": "Northwind",
        "officeLocation": "B4",
        "department": "Research",
        "jobTitle": "Scientist",
        "yomiCompanyName": "のーすうぃんど",
    },
    "relations": [{"name": "Marcus", "type": "spouse"}, {"name": "Helena", "type": "manager"}],
    "birthday": "--03-17",
    "keywords": ["vip", "research"],
    "notes": "Line one\nLine two",
    "emailAddresses": [
        {"address": "zoe@example.com", "name": "Zoë", "type": "work"},
        {"address": "z@example.org", "type": "some-free-type"},
    ],
    "phoneNumbers": [{"number": "+1 555 0100", "type": "workMobile"}],
    "addresses": [
        {
            "street": "1 Harbor Way",
            "streetLine2": "Suite 4",
            "poBox": "PO 12",
            "city": "Seaview",
            "state": "CA",
            "postalCode": "90210",
            "country": "US",
            "type": "work",
        }
    ],
    "urls": [{"href": "https://example.com/zoe", "type": "blog"}],
    "nativeProperties": {"x-a": "1", "x-n": 3, "x-nested": {"ok": True}, "x-null": None},
}

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _without_read_only(record: dict[str, Any]) -> dict[str, Any]:
    hidden = {"id", "etag", "createdTime", "lastModifiedTime", "hasPhoto"}
    return {key: value for key, value in record.items() if key not in hidden}


def _patch(client: httpx.Client, cid: str, etag: str | None, body: Any) -> httpx.Response:
    headers = {"If-Match": etag} if etag is not None else {}
    return client.patch(f"/contacts/{cid}", json=body, headers=headers)


def test_create_answers_201_with_id_etag_and_record(client: httpx.Client) -> None:
    response = client.post("/contacts", json={"name": {"givenName": "Ada"}})
    assert response.status_code == 201
    answer = response.json()
    assert set(answer) == {"id", "etag", "record"}
    assert answer["record"]["id"] == answer["id"]
    assert answer["record"]["etag"] == answer["etag"]
    assert answer["record"]["name"] == {"givenName": "Ada"}


def test_every_schema_field_is_stored_and_echoed(client: httpx.Client) -> None:
    created = create(client, FULL_CONTACT)
    fetched = client.get(f"/contacts/{created['id']}").json()
    phones = fetched["phoneNumbers"]
    assert phones == [{"number": "+1 555 0100", "type": "workMobile", "canonicalForm": "+15550100"}]
    echoed = _without_read_only(fetched)
    echoed["phoneNumbers"] = [{"number": "+1 555 0100", "type": "workMobile"}]
    assert echoed == FULL_CONTACT
    assert fetched == created["record"]


def test_unknown_keys_are_echoed_at_every_level(client: httpx.Client) -> None:
    body = {
        "name": {"givenName": "Ada", "x-middle": {"deep": [1, 2]}},
        "emailAddresses": [{"address": "a@example.com", "id": "e1", "deleted": False}],
        "companyId": "comp-7",
        "futureField": {"anything": [True, None, 1.5]},
    }
    record = client.get(f"/contacts/{create(client, body)['id']}").json()
    assert record["name"] == body["name"]
    assert record["emailAddresses"] == body["emailAddresses"]
    assert record["companyId"] == "comp-7"
    assert record["futureField"] == body["futureField"]


def test_aliases_are_accepted_and_answered_with_spec_names(client: httpx.Client) -> None:
    body = {
        "company": {"companyName": "ACME", "jobTitle": "Boss"},
        "urls": [{"value": "https://example.org", "type": "work"}],
    }
    created = create(client, body)["record"]
    assert created["company"] == {"name": "ACME", "jobTitle": "Boss"}
    assert created["urls"] == [{"href": "https://example.org", "type": "work"}]
    fetched = client.get(f"/contacts/{created['id']}").json()
    assert fetched["company"] == {"name": "ACME", "jobTitle": "Boss"}
    assert fetched["urls"] == [{"href": "https://example.org", "type": "work"}]


def test_spec_name_wins_over_alias_when_both_sent(client: httpx.Client) -> None:
    body = {"company": {"companyName": "Old", "name": "New"}, "urls": [{"value": "a", "href": "b"}]}
    record = create(client, body)["record"]
    assert record["company"] == {"name": "New"}
    assert record["urls"] == [{"href": "b"}]


def test_read_only_fields_sent_by_a_client_are_ignored(client: httpx.Client) -> None:
    body = {
        "id": "forged-id",
        "etag": "forged-etag",
        "createdTime": "2000-01-01T00:00:00Z",
        "lastModifiedTime": "2000-01-01T00:00:00Z",
        "hasPhoto": True,
        "phoneNumbers": [{"number": "0123", "type": "home", "canonicalForm": "+999"}],
    }
    answer = create(client, body)
    record = answer["record"]
    assert answer["id"] != "forged-id" and answer["etag"] != "forged-etag"
    assert record["createdTime"] != "2000-01-01T00:00:00Z"
    assert record["hasPhoto"] is False
    # A national number gets no canonical form; the client's one is never stored.
    assert record["phoneNumbers"] == [{"number": "0123", "type": "home"}]


def test_canonical_form_is_plus_and_digits_of_international_numbers(
    client: httpx.Client,
) -> None:
    phones = [
        {"number": "+44 (20) 7946-0018", "type": "work"},
        {"number": "0049 30 5555 0100", "type": "home"},
        {"number": "+1 555 0100 ext. 42", "type": "mobile"},
    ]
    record = create(client, {"phoneNumbers": phones})["record"]
    forms = [phone["canonicalForm"] for phone in record["phoneNumbers"]]
    assert forms == ["+442079460018", "+493055550100", "+15550100"]


def test_timestamps_are_rfc3339_and_modified_time_moves(api: Api, client: httpx.Client) -> None:
    now = [1_700_000_000.0]
    api.app.set_clock(lambda: now[0])
    created = create(client)
    record = created["record"]
    assert RFC3339.match(record["createdTime"]) and RFC3339.match(record["lastModifiedTime"])
    assert datetime.fromisoformat(record["createdTime"]).timestamp() == 1_700_000_000.0
    now[0] += 60
    patched = _patch(client, created["id"], created["etag"], {"notes": "n"}).json()["record"]
    assert patched["createdTime"] == record["createdTime"]
    assert datetime.fromisoformat(patched["lastModifiedTime"]).timestamp() == 1_700_000_060.0


def test_etag_changes_on_every_change(client: httpx.Client) -> None:
    created = create(client)
    etags = [created["etag"]]
    for value in ("a", "b", "b"):
        answer = _patch(client, created["id"], etags[-1], {"notes": value}).json()
        assert answer["etag"] == answer["record"]["etag"]
        etags.append(answer["etag"])
    assert len(set(etags)) == 4
    assert client.get(f"/contacts/{created['id']}").json()["etag"] == etags[-1]


def test_patch_replaces_only_named_top_level_fields(client: httpx.Client) -> None:
    created = create(client, FULL_CONTACT)
    body = {
        "emailAddresses": [{"address": "new@example.net", "type": "home"}],
        "name": {"givenName": "Only"},
        "notes": None,
        "keywords": None,
    }
    response = _patch(client, created["id"], created["etag"], body)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"id", "etag", "record"}
    record = client.get(f"/contacts/{created['id']}").json()
    assert record["emailAddresses"] == [{"address": "new@example.net", "type": "home"}]
    assert record["name"] == {"givenName": "Only"}  # objects replaced whole, too
    assert "notes" not in record and "keywords" not in record
    for untouched in ("company", "addresses", "urls", "relations", "birthday", "nativeProperties"):
        assert record[untouched] == FULL_CONTACT[untouched]
    assert record == answer["record"]


def test_patch_without_if_match_is_412(client: httpx.Client) -> None:
    created = create(client)
    response = _patch(client, created["id"], None, {"notes": "x"})
    assert response.status_code == 412
    assert error_of(response)["code"] == "precondition.failed"
    assert "notes" not in client.get(f"/contacts/{created['id']}").json()


def test_patch_with_stale_if_match_is_412(client: httpx.Client) -> None:
    created = create(client)
    assert _patch(client, created["id"], created["etag"], {"notes": "1"}).status_code == 200
    response = _patch(client, created["id"], created["etag"], {"notes": "2"})
    assert response.status_code == 412
    assert error_of(response)["code"] == "precondition.failed"
    assert client.get(f"/contacts/{created['id']}").json()["notes"] == "1"


def test_if_match_is_accepted_with_or_without_one_pair_of_quotes(client: httpx.Client) -> None:
    created = create(client)
    quoted = _patch(client, created["id"], f'"{created["etag"]}"', {"notes": "q"})
    assert quoted.status_code == 200
    bare = _patch(client, created["id"], quoted.json()["etag"], {"notes": "b"})
    assert bare.status_code == 200
    weak = _patch(client, created["id"], f'W/"{bare.json()["etag"]}"', {"notes": "w"})
    assert weak.status_code == 412  # compared exactly: no weak-etag syntax


def test_photo_appears_only_with_with_photo(api: Api, client: httpx.Client) -> None:
    sync = start_sync(client)
    photo = {"name": "p.png", "mimeType": "image/png", "content": PNG}
    created = create(client, {"nickName": "pic", "photo": photo})
    assert created["record"]["hasPhoto"] is True
    assert "photo" not in created["record"]
    plain = client.get(f"/contacts/{created['id']}").json()
    assert plain["hasPhoto"] is True and "photo" not in plain
    full = client.get(f"/contacts/{created['id']}", params={"withPhoto": "true"}).json()
    assert full["photo"]["content"] == PNG
    assert full["photo"]["mimeType"] == "image/png" and full["photo"]["name"] == "p.png"
    assert isinstance(full["photo"]["id"], str) and full["photo"]["id"]
    assert base64.b64decode(full["photo"]["content"]).startswith(b"\x89PNG")
    records, _, _ = run_chain(client, "updated", sync["syncUpdatedToken"])
    assert [r["hasPhoto"] for r in records] == [True] and "photo" not in records[0]
    listed = client.get("/contacts").json()["records"]
    assert listed[0]["hasPhoto"] is True and "photo" not in listed[0]


def test_patch_sets_and_removes_the_photo(client: httpx.Client) -> None:
    created = create(client)
    assert created["record"]["hasPhoto"] is False
    photo = {"id": "ph1", "mimeType": "image/png", "content": PNG}
    answer = _patch(client, created["id"], created["etag"], {"photo": photo}).json()
    assert answer["record"]["hasPhoto"] is True
    fetched = client.get(f"/contacts/{created['id']}?withPhoto=true").json()
    assert fetched["photo"] == photo
    removed = _patch(client, created["id"], answer["etag"], {"photo": None}).json()
    assert removed["record"]["hasPhoto"] is False
    assert "photo" not in client.get(f"/contacts/{created['id']}?withPhoto=true").json()


def test_unknown_ids_answer_404_contact_not_found(client: httpx.Client) -> None:
    for response in (
        client.get("/contacts/nope"),
        client.patch("/contacts/nope", json={}, headers={"If-Match": "x"}),
        client.delete("/contacts/nope"),
    ):
        assert response.status_code == 404
        assert error_of(response) | {"requestId": ""} == {
            "code": "notFound",
            "message": "Contact not found",
            "requestId": "",
        }


def test_delete_answers_200_then_404(client: httpx.Client) -> None:
    created = create(client)
    first = client.delete(f"/contacts/{created['id']}")
    assert first.status_code == 200
    assert first.content == b""
    assert client.delete(f"/contacts/{created['id']}").status_code == 404
    assert client.get(f"/contacts/{created['id']}").status_code == 404
    patch = _patch(client, created["id"], created["etag"], {"notes": "x"})
    assert patch.status_code == 404


def test_list_pages_with_page_token_in_contacts_page_shape(client: httpx.Client) -> None:
    ids = {create(client, {"nickName": f"n{i}"})["id"] for i in range(7)}
    seen: list[str] = []
    response = client.get("/contacts")
    while True:
        assert response.status_code == 200
        page = response.json()
        assert page["length"] == len(page["records"]) <= 3
        assert "nextDeltaToken" not in page
        seen += [record["id"] for record in page["records"]]
        if "nextPageToken" not in page:
            break
        response = client.get("/contacts", params={"pageToken": page["nextPageToken"]})
    assert sorted(seen) == sorted(ids) and len(seen) == 7


def test_list_rejects_a_bad_page_token(client: httpx.Client) -> None:
    response = client.get("/contacts", params={"pageToken": "garbage"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "token.notValid"


def test_query_parameters_of_the_contract_are_accepted(client: httpx.Client) -> None:
    created = create(client, {"notes": "plain"})
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("bodyType", "html"),
        ("nativeProperties", "a"),
        ("nativeProperties", "b"),
        ("includeUpdateToken", "false"),
    ]
    response = client.get(f"/contacts/{created['id']}", params=params)
    assert response.status_code == 200
    assert response.json()["notes"] == "plain"
