"""Input validation: every malformed body answers 400 badRequest naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.sandbox.validation import ADDRESS_TYPES, PHONE_TYPES, RELATION_TYPES, URL_TYPES
from tests.sandbox.conftest import Api, create, error_of

BAD_BODIES: list[tuple[Any, str]] = [
    ({"name": "Ada"}, "name"),
    ({"name": {"givenName": 5}}, "name.givenName"),
    ({"company": ["ACME"]}, "company"),
    ({"company": {"jobTitle": {"x": 1}}}, "company.jobTitle"),
    ({"nickName": 1}, "nickName"),
    ({"birthday": 19840317}, "birthday"),
    ({"notes": ["a"]}, "notes"),
    ({"keywords": "vip"}, "keywords"),
    ({"keywords": ["ok", 3]}, "keywords[1]"),
    ({"phoneNumbers": {"number": "1"}}, "phoneNumbers"),
    ({"phoneNumbers": ["+1 555 0100"]}, "phoneNumbers[0]"),
    ({"phoneNumbers": [{"number": 5550100}]}, "phoneNumbers[0].number"),
    ({"phoneNumbers": [{"number": "1", "type": "Home"}]}, "phoneNumbers[0].type"),
    ({"phoneNumbers": [{"number": "1", "type": "cell"}]}, "phoneNumbers[0].type"),
    ({"emailAddresses": [{"address": "a@example.com"}, "b"]}, "emailAddresses[1]"),
    ({"emailAddresses": [{"address": 7}]}, "emailAddresses[0].address"),
    ({"emailAddresses": [{"address": "a@example.com", "type": 1}]}, "emailAddresses[0].type"),
    ({"addresses": [{"city": "X", "type": "office"}]}, "addresses[0].type"),
    ({"addresses": [{"city": 12}]}, "addresses[0].city"),
    ({"urls": [{"href": "https://example.com", "type": "website"}]}, "urls[0].type"),
    ({"urls": [{"value": 3}]}, "urls[0].href"),
    ({"relations": [{"name": "Bo", "type": "friend"}]}, "relations[0].type"),
    ({"relations": "Bo"}, "relations"),
    ({"nativeProperties": ["x"]}, "nativeProperties"),
    ({"photo": "base64..."}, "photo"),
    ({"photo": {"mimeType": "image/png"}}, "photo.content"),
    ({"photo": {"content": "not base64 !!"}}, "photo.content"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_field_is_400_naming_the_field(
    local_client: httpx.Client, body: Any, field: str
) -> None:
    response = local_client.post("/contacts", json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "badRequest"
    assert f"'{field}'" in error["message"]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES[:6] + BAD_BODIES[12:14])
def test_patch_validates_like_create(local_client: httpx.Client, body: Any, field: str) -> None:
    created = create(local_client, {"nickName": "keep"})
    headers = {"If-Match": created["etag"]}
    response = local_client.patch(f"/contacts/{created['id']}", json=body, headers=headers)
    assert response.status_code == 400
    assert f"'{field}'" in error_of(response)["message"]
    assert local_client.get(f"/contacts/{created['id']}").json()["etag"] == created["etag"]


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"{", b"\xff\xfe", b'{"notes": NaN}'],
    ids=["empty", "text", "array", "string", "null", "truncated", "not-utf8", "nan"],
)
def test_body_that_is_not_a_json_object_is_400(local_client: httpx.Client, raw: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    response = local_client.post("/contacts", content=raw, headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "badRequest"
    assert "body" in error["message"]


def test_deeply_nested_json_is_400_not_500(local_client: httpx.Client) -> None:
    raw = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = local_client.post("/contacts", content=raw)
    assert response.status_code in (201, 400)  # never a crash
    if response.status_code == 400:
        assert error_of(response)["code"] == "badRequest"


def test_every_enum_value_of_the_contract_is_accepted(local_client: httpx.Client) -> None:
    body = {
        "phoneNumbers": [{"number": "1", "type": kind} for kind in sorted(PHONE_TYPES)],
        "addresses": [{"city": "c", "type": kind} for kind in sorted(ADDRESS_TYPES)],
        "urls": [{"href": "h", "type": kind} for kind in sorted(URL_TYPES)],
        "relations": [{"name": "n", "type": kind} for kind in sorted(RELATION_TYPES)],
    }
    record = create(local_client, body)["record"]
    assert [p["type"] for p in record["phoneNumbers"]] == sorted(PHONE_TYPES)
    assert len(PHONE_TYPES) == 17 and len(URL_TYPES) == 8
    assert [u["type"] for u in record["urls"]] == sorted(URL_TYPES)


def test_email_type_is_free_text(local_client: httpx.Client) -> None:
    body = {"emailAddresses": [{"address": "a@example.com", "type": "Anything Goes ✓"}]}
    assert create(local_client, body)["record"]["emailAddresses"][0]["type"] == "Anything Goes ✓"


def test_null_sub_fields_and_types_are_dropped(local_client: httpx.Client) -> None:
    body = {
        "name": {"givenName": "A", "middleName": None},
        "phoneNumbers": [{"number": "1", "type": None}],
    }
    record = create(local_client, body)["record"]
    assert record["name"] == {"givenName": "A"}
    assert record["phoneNumbers"] == [{"number": "1"}]


def test_top_level_null_on_create_is_omitted(local_client: httpx.Client) -> None:
    record = create(local_client, {"notes": None, "photo": None, "nickName": "n"})["record"]
    assert "notes" not in record and record["hasPhoto"] is False


def test_validation_errors_over_both_transports(api: Api) -> None:
    response = api.client().post("/contacts", json={"phoneNumbers": [{"type": "satellite"}]})
    assert response.status_code == 400
    assert "phoneNumbers[0].type" in error_of(response)["message"]
