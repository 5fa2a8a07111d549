"""CRUD through the client: shapes, etags, and the typed error for each refusal."""

from __future__ import annotations

import base64

import httpx
import pytest

from bridge.aurinko import (
    AurinkoClient,
    BadRequestError,
    NotFoundError,
    PreconditionFailedError,
    UnauthorizedError,
    normalize_contact,
)

PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
).decode()


def test_create_get_update_delete_round_trip(client: AurinkoClient) -> None:
    created = client.create(
        {"name": {"givenName": "Zoë", "familyName": "Łukasiewicz"}, "notes": "line 1\nline 2"}
    )
    assert created.id and created.etag
    assert created.record["name"]["givenName"] == "Zoë"

    fetched = client.get(created.id)
    assert fetched["etag"] == created.etag
    assert fetched["notes"] == "line 1\nline 2"

    updated = client.update(created.id, {"nickName": "Zo"}, etag=created.etag)
    assert updated.etag != created.etag
    assert updated.record["nickName"] == "Zo"
    assert updated.record["name"]["familyName"] == "Łukasiewicz"  # untouched field kept

    client.delete(created.id)
    with pytest.raises(NotFoundError):
        client.get(created.id)


def test_stale_etag_is_a_precondition_failure(client: AurinkoClient) -> None:
    created = client.create({"nickName": "a"})
    client.update(created.id, {"nickName": "b"}, etag=created.etag)
    with pytest.raises(PreconditionFailedError) as info:
        client.update(created.id, {"nickName": "c"}, etag=created.etag)
    assert info.value.status == 412
    assert client.get(created.id)["nickName"] == "b"


def test_unknown_contact_and_second_delete_are_not_found(client: AurinkoClient) -> None:
    with pytest.raises(NotFoundError):
        client.get("no-such-contact")
    created = client.create({"nickName": "gone"})
    client.delete(created.id)
    with pytest.raises(NotFoundError) as info:
        client.delete(created.id)
    assert info.value.status == 404


def test_bad_token_is_unauthorized_and_not_retried(make_client, sleeps) -> None:
    client = make_client("not-a-real-token")
    with pytest.raises(UnauthorizedError) as info:
        client.start_sync()
    assert info.value.status == 401
    assert sleeps.calls == []
    assert "not-a-real-token" not in str(info.value)


def test_invalid_contact_is_a_bad_request_and_not_retried(client: AurinkoClient, sleeps) -> None:
    with pytest.raises(BadRequestError) as info:
        client.create({"phoneNumbers": [{"number": "1", "type": "carphone"}]})
    assert info.value.status == 400
    assert "phoneNumbers" in str(info.value)
    assert sleeps.calls == []


def test_photo_only_when_asked(client: AurinkoClient) -> None:
    photo = {"name": "me.png", "mimeType": "image/png", "content": PNG_1PX}
    created = client.create({"nickName": "pic", "photo": photo})
    plain = client.get(created.id)
    assert plain["hasPhoto"] is True
    assert "content" not in (plain.get("photo") or {})
    assert client.get(created.id, with_photo=True)["photo"]["content"] == PNG_1PX


def test_contact_ids_are_escaped_in_paths(client: AurinkoClient) -> None:
    with pytest.raises(NotFoundError):
        client.get("../contacts/sync")


def test_either_spelling_is_read_and_spec_names_are_written() -> None:
    raw = {
        "company": {"companyName": "ACME", "yomiName": "アクメ"},
        "urls": [{"value": "https://example.com", "type": "work"}],
        "relations": [{"value": "Pat", "type": "spouse"}],
        "x-unknown": {"kept": True},
    }
    assert normalize_contact(raw) == {
        "company": {"name": "ACME", "yomiCompanyName": "アクメ"},
        "urls": [{"href": "https://example.com", "type": "work"}],
        "relations": [{"name": "Pat", "type": "spouse"}],
        "x-unknown": {"kept": True},
    }
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        record = {"id": "c1", "etag": "e1", "company": {"companyName": "ACME"}}
        return httpx.Response(201, json={"id": "c1", "etag": "e1", "record": record})

    with AurinkoClient("t", "http://x.invalid/v1", transport=httpx.MockTransport(handler)) as c:
        result = c.create({"company": {"name": "ACME"}})
    assert result.record["company"] == {"name": "ACME"}
    assert b'"name": "ACME"' in sent[0] or b'"name":"ACME"' in sent[0]
