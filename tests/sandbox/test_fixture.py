"""bridge/demo-contacts.json: the demo address book is varied, valid and loads."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from bridge.paths import DEMO_CONTACTS
from bridge.sandbox.validation import PHONE_TYPES
from tests.sandbox.conftest import TOKEN, make_app

FIXTURE = DEMO_CONTACTS


@pytest.fixture(scope="module")
def contacts() -> list[dict[str, Any]]:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    items: list[dict[str, Any]] = data["contacts"] if isinstance(data, dict) else data
    return items


def _all(contacts: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    return [item for c in contacts for item in c.get(field, [])]


def test_fixture_has_at_least_sixty_contacts(contacts: list[dict[str, Any]]) -> None:
    assert len(contacts) >= 60


def test_fixture_uses_many_phone_types(contacts: list[dict[str, Any]]) -> None:
    types = {p.get("type") for p in _all(contacts, "phoneNumbers")}
    wanted = {
        "mobile",
        "workMobile",
        "workFax",
        "homeFax",
        "pager",
        "main",
        "companyMain",
        "assistant",
    }
    assert wanted <= types <= PHONE_TYPES | {None}
    assert any(len(c.get("phoneNumbers", [])) >= 3 for c in contacts)


def test_fixture_has_several_emails_addresses_and_urls_of_different_types(
    contacts: list[dict[str, Any]],
) -> None:
    assert any(len(c.get("emailAddresses", [])) >= 3 for c in contacts)
    assert any(len(c.get("addresses", [])) >= 2 for c in contacts)
    assert len({e.get("type") for e in _all(contacts, "emailAddresses")}) >= 3
    assert {"work", "home", "other"} <= {a.get("type") for a in _all(contacts, "addresses")}
    assert len({u.get("type") for u in _all(contacts, "urls")}) >= 4


def test_fixture_has_companies_birthdays_notes_and_more(contacts: list[dict[str, Any]]) -> None:
    companies = [c["company"] for c in contacts if "company" in c]
    assert any({"name", "department", "jobTitle", "officeLocation"} <= set(co) for co in companies)
    birthdays = [c["birthday"] for c in contacts if "birthday" in c]
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", b) for b in birthdays)
    assert any(re.fullmatch(r"--\d{2}-\d{2}", b) for b in birthdays)
    assert all(re.fullmatch(r"(\d{4}|-)-\d{2}-\d{2}", b) for b in birthdays)
    assert any("\n" in c.get("notes", "") for c in contacts)
    assert any(c.get("keywords") for c in contacts)
    assert {r["type"] for r in _all(contacts, "relations")} == {"manager", "assistant", "spouse"}
    names = [c["name"] for c in contacts if "name" in c]
    assert sum(1 for n in names if "yomiGivenName" in n or "yomiFamilyName" in n) >= 2
    assert any("prefix" in n for n in names) and any("suffix" in n for n in names)
    assert any("nickName" in c for c in contacts) and any("fileAs" in c for c in contacts)


def test_fixture_has_a_real_photo(contacts: list[dict[str, Any]]) -> None:
    photos = [c["photo"] for c in contacts if "photo" in c]
    assert photos
    for photo in photos:
        raw = base64.b64decode(photo["content"], validate=True)
        signature = b"\x89PNG\r\n\x1a\n" if photo["mimeType"] == "image/png" else b"\xff\xd8\xff"
        assert raw.startswith(signature) and len(raw) < 4096


def test_fixture_has_non_ascii_rtl_and_sparse_contacts(contacts: list[dict[str, Any]]) -> None:
    text = json.dumps(contacts, ensure_ascii=False)
    for needle in ("Zoë", "Łukasz", "Ægir", "Ñúñez", "Σωκράτης", "Müller", "王"):
        assert needle in text
    assert re.search(r"[\u0590-\u05ff\u0600-\u06ff]", text), "an RTL (Hebrew/Arabic) name"
    assert any(set(c) == {"emailAddresses"} for c in contacts)
    assert any(set(c) == {"company"} for c in contacts)


def test_fixture_uses_only_example_domains(contacts: list[dict[str, Any]]) -> None:
    hosts = [e["address"].rsplit("@", 1)[1] for e in _all(contacts, "emailAddresses")]
    hosts += [re.sub(r"^\w+://([^/]+).*$", r"\1", u["href"]) for u in _all(contacts, "urls")]
    allowed = re.compile(r"^([\w-]+\.)*example\.(com|org|net)$")
    assert hosts and all(allowed.match(host) for host in hosts), hosts


def test_fixture_has_no_read_only_fields(contacts: list[dict[str, Any]]) -> None:
    for contact in contacts:
        assert not {"id", "etag", "createdTime", "lastModifiedTime", "hasPhoto"} & set(contact)


def test_fixture_seeds_the_sandbox_unchanged(contacts: list[dict[str, Any]]) -> None:
    app = make_app(seed_path=str(FIXTURE))
    try:
        dumped = app.dump(TOKEN)
    finally:
        app.close()
    assert len(dumped) == len(contacts)
    hidden = {"id", "etag", "createdTime", "lastModifiedTime", "hasPhoto"}

    def comparable(record: dict[str, Any]) -> str:
        record = {k: v for k, v in record.items() if k not in hidden}
        for phone in record.get("phoneNumbers", []):
            phone.pop("canonicalForm", None)
        if "photo" in record:
            record["photo"] = {k: v for k, v in record["photo"].items() if k != "id"}
        return json.dumps(record, sort_keys=True, ensure_ascii=False)

    assert sorted(map(comparable, dumped)) == sorted(map(comparable, contacts))
