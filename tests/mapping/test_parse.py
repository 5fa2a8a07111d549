"""Reading cards: the type tables, birthdays, encodings, leniency."""

from __future__ import annotations

import codecs
import dataclasses

import pytest

from bridge.mapping import from_vcard, to_vcard
from bridge.mapping.schema import PHONE_TYPES, URL_TYPES


def card(*lines: str, version: str = "3.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD"]) + "\r\n"


def read(*lines: str, version: str = "3.0") -> dict:
    return from_vcard(card(*lines, version=version)).contact


def phone_type(line: str, *more: str, version: str = "3.0") -> str:
    return read(line, *more, version=version)["phoneNumbers"][0]["type"]


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("kind", PHONE_TYPES)
def test_every_phone_type_round_trips(kind: str, version: str) -> None:
    contact = {"id": "1", "phoneNumbers": [{"number": "+1 555 0100", "type": kind}]}
    assert from_vcard(to_vcard(contact, version)).contact["phoneNumbers"] == [
        {"number": "+1 555 0100", "type": kind}
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("TEL;TYPE=FAX,WORK:1", "workFax"),  # fax before voice, whatever the order
        ("TEL;TYPE=WORK;TYPE=VOICE;TYPE=FAX:1", "workFax"),
        ("TEL;WORK;FAX:1", "workFax"),  # vCard 2.1 bare types
        ("TEL;TYPE=fax:1", "otherFax"),
        ("TEL;TYPE=HOME,FAX,PREF:1", "homeFax"),
        ("TEL;TYPE=CELL,WORK:1", "workMobile"),
        ("TEL;TYPE=HOME,CELL:1", "mobile"),
        ("TEL;type=IPHONE;type=CELL;type=VOICE:1", "mobile"),
        ("TEL;TYPE=PAGER,WORK:1", "workPager"),
        ("TEL;TYPE=MAIN:1", "main"),
        ("TEL;TYPE=x-company_main:1", "companyMain"),
        ("TEL;TYPE=X-ASSISTANT:1", "assistant"),
        ("TEL;TYPE=CALLBACK:1", "callback"),
        ("TEL;TYPE=TEXTPHONE:1", "tty"),
        ("TEL;TYPE=TLX:1", "telex"),
        ("TEL:1", "other"),  # untyped: the Outlook / DavMail rule
        ("TEL;TYPE=VOICE:1", "other"),
        ("TEL;TYPE=CAR:1", "other"),
        ("TEL;TYPE=ISDN,WORK:1", "work"),
        ("X-MS-TEL;VOICE;CALLBACK:1", "callback"),  # Outlook 2.1
    ],
)
def test_phone_types_read_from_clients(line: str, expected: str) -> None:
    assert phone_type(line) == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("_$!<Mobile>!$_", "mobile"),
        ("_$!<HomeFAX>!$_", "homeFax"),
        ("_$!<Main>!$_", "main"),
        ("GRAND_CENTRAL", "other"),  # Google Voice: an unknown label decides nothing...
    ],
)
def test_phone_labels(label: str, expected: str) -> None:
    assert phone_type("item1.TEL:1", f"item1.X-ABLabel:{label}") == expected
    # ...but a TYPE does
    if label == "GRAND_CENTRAL":
        assert phone_type("item1.TEL;TYPE=CELL:1", f"item1.X-ABLabel:{label}") == "mobile"


def test_email_types_are_free_strings() -> None:
    contact = read(
        "EMAIL;TYPE=INTERNET;TYPE=WORK:a@x",
        "EMAIL;TYPE=INTERNET:b@x",
        "item1.EMAIL;type=INTERNET:c@x",
        "item1.X-ABLabel:Verein",
        "item2.EMAIL:d@x",
        "item2.X-ABLabel:_$!<Other>!$_",
        'EMAIL;X-NAME="Doe^, J^\'":e@x',
    )
    assert contact["emailAddresses"] == [
        {"address": "a@x", "type": "work"},
        {"address": "b@x"},
        {"address": "c@x", "type": "Verein"},
        {"address": "d@x", "type": "other"},
        {"address": "e@x", "name": 'Doe^, J"'},
    ]


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("kind", URL_TYPES)
def test_every_url_type_round_trips(kind: str, version: str) -> None:
    contact = {"id": "1", "urls": [{"href": "https://x.example/a,b", "type": kind}]}
    assert from_vcard(to_vcard(contact, version)).contact["urls"] == contact["urls"]


def test_urls_read_from_google_and_davx5() -> None:
    contact = read(
        "item1.URL:https\\://blog.example",
        "item1.X-ABLabel:BLOG",
        "URL;TYPE=x-profile:https://p.example",
        "item2.URL:https://h.example",
        "item2.X-ABLabel:_$!<HomePage>!$_",
        "URL:https://plain.example",
    )
    assert contact["urls"] == [
        {"href": "https://blog.example", "type": "blog"},
        {"href": "https://p.example", "type": "profile"},
        {"href": "https://h.example", "type": "homePage"},
        {"href": "https://plain.example"},
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["BDAY:1980-04-14"], "1980-04-14"),
        (["BDAY:19800414"], "1980-04-14"),
        (["BDAY:--0414"], "--04-14"),  # Google, even in 3.0
        (["BDAY:--04-14"], "--04-14"),
        (["BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-14"], "--04-14"),
        (["BDAY;X-APPLE-OMIT-YEAR=1604:16040414"], "--04-14"),
        (["BDAY:1604-04-14"], "1604-04-14"),  # 1604 alone is a year
        (["BDAY:1980-04-14T23:30:00-08:00"], "1980-04-14"),  # never shifted to UTC
        (["BDAY:19800414T000000Z"], "1980-04-14"),
        (["BDAY;VALUE=text:circa 1800"], "circa 1800"),
    ],
)
def test_birthdays(lines: list[str], expected: str) -> None:
    assert read(*lines)["birthday"] == expected


@pytest.mark.parametrize(
    ("birthday", "v3", "v4"),
    [
        ("1980-04-14", "BDAY:1980-04-14", "BDAY:19800414"),
        ("--02-29", "BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29", "BDAY:--0229"),
        ("circa 1800", "BDAY;VALUE=text:circa 1800", "BDAY;VALUE=text:circa 1800"),
    ],
)
def test_birthdays_written_per_version(birthday: str, v3: str, v4: str) -> None:
    contact = {"id": "1", "birthday": birthday}
    assert v3 in to_vcard(contact, "3.0").split("\r\n")
    assert v4 in to_vcard(contact, "4.0").split("\r\n")


def test_an_unreadable_birthday_stays_in_the_card_only() -> None:
    parsed = from_vcard(card("BDAY:--04", "FN:x"))
    assert "birthday" not in parsed.contact
    assert "BDAY:--04\r\n" in to_vcard(parsed.contact, "3.0", parsed.shadow, uid="u")


def test_relations() -> None:
    contact = read(
        "item1.X-ABRELATEDNAMES:Tim",
        "item1.X-ABLabel:_$!<Manager>!$_",
        "X-ABRELATEDNAMES:Nobody",
        "item2.X-ABRELATEDNAMES:Lucía",
        "item2.X-ABLabel:REFERRED_BY",
        "RELATED;TYPE=spouse;VALUE=text:Jane",
        "RELATED;TYPE=friend:urn:uuid:1234",  # a reference to a card, not a name
        "RELATED:Plain Name",
    )
    assert contact["relations"] == [
        {"name": "Tim", "type": "manager"},
        {"name": "Nobody"},
        {"name": "Lucía"},  # not a contract type: untyped, the label stays in the shadow
        {"name": "Jane", "type": "spouse"},
        {"name": "Plain Name"},
    ]


def test_names_and_company() -> None:
    contact = read(
        "N:Doe\\;Smith;John;Q.,R.;Dr.;Jr.;extra",
        "FN:John Doe",
        "NICKNAME:a,b\\,c",
        "ORG:Acme\\, Inc.;Sales;Team A",
        "TITLE:Boss",
        "X-EVOLUTION-OFFICE:B-12",
        "X-EVOLUTION-FILE-AS:Doe, John",
        "X-PHONETIC-ORG:Akme",
        "X-PHONETIC-LAST-NAME:Dou",
    )
    assert contact["name"] == {
        "displayName": "John Doe",
        "familyName": "Doe;Smith",
        "givenName": "John",
        "middleName": "Q.,R.",
        "prefix": "Dr.",
        "suffix": "Jr.",
        "yomiFamilyName": "Dou",
    }
    assert contact["nickName"] == "a, b,c"
    assert contact["fileAs"] == "Doe, John"
    assert contact["company"] == {
        "name": "Acme, Inc.",
        "department": "Sales",
        "jobTitle": "Boss",
        "officeLocation": "B-12",
        "yomiCompanyName": "Akme",
    }


@pytest.mark.parametrize(
    ("lines", "display_name"),
    [
        (["N:Doe;John;;Dr.;"], "Dr. John Doe"),
        (["N:;;;;", "ORG:Acme;Sales"], "Acme"),
        (["EMAIL:a@example.com"], "a@example.com"),
        (["FN:", "N:Doe;;;;"], "Doe"),
    ],
)
def test_card_without_fn_gets_a_derived_display_name(lines: list[str], display_name: str) -> None:
    assert read(*lines)["name"]["displayName"] == display_name


def test_photos() -> None:
    assert read("PHOTO;ENCODING=b;TYPE=JPEG;X-AURINKO-ID=p1:QU\r\n JD")["photo"] == {
        "content": "QUJD",
        "mimeType": "image/jpeg",
        "id": "p1",
    }
    assert read("PHOTO:data:image/png;base64,QUJD", version="4.0")["photo"] == {
        "content": "QUJD",
        "mimeType": "image/png",
    }
    assert (
        read("PHOTO;MEDIATYPE=image/gif;ENCODING=BASE64:QU JD")["photo"]["mimeType"] == "image/gif"
    )
    assert "photo" not in read("PHOTO;VALUE=uri:https://example.com/a.jpg")
    meta = read('X-AURINKO-PHOTO:{"id":"p1"\\,"name":"me.jpg"}')
    assert meta["photo"] == {"id": "p1", "name": "me.jpg"}


def test_vcard21_outlook_encodings_from_bytes() -> None:
    raw = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\n"
        b"N;CHARSET=Windows-1252:M\xfcller;J\xfcrgen\r\n"
        b"NOTE;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:Gr=FC=DFe=0D=0A=\r\nzweite Zeile\r\n"
        b"TEL;WORK;VOICE:+49 1\r\nEND:VCARD\r\n"
    )
    parsed = from_vcard(raw)
    assert parsed.version == "2.1"
    assert parsed.contact["name"]["familyName"] == "Müller"
    assert parsed.contact["notes"] == "Grüße\nzweite Zeile"
    assert parsed.contact["phoneNumbers"] == [{"number": "+49 1", "type": "work"}]
    assert "Müller" in parsed.shadow


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode(),
        lambda t: codecs.BOM_UTF8 + t.encode(),
        lambda t: t.encode("utf-16"),
        lambda t: "\ufeff" + t,
    ],
)
def test_input_encodings(encode: object) -> None:
    text = card("UID:x", "FN:Zoë")
    parsed = from_vcard(encode(text))  # type: ignore[operator]
    assert parsed.contact["name"]["displayName"] == "Zoë"
    assert parsed.uid == "x"
    assert parsed.shadow == text


def test_embedded_agent_card_is_not_mapped() -> None:
    contact = read("FN:Boss", "AGENT:", "BEGIN:VCARD", "FN:Secretary", "TEL:1", "END:VCARD")
    assert contact == {"name": {"displayName": "Boss"}}


def test_card_without_version_is_read_as_3_0_and_result_is_frozen() -> None:
    parsed = from_vcard("BEGIN:VCARD\nFN:A\nEND:VCARD")
    assert parsed.version == "3.0" and parsed.uid is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.uid = "x"  # type: ignore[misc]


def test_empty_values_are_not_mapped() -> None:
    assert read("EMAIL:", "TEL;TYPE=CELL:", "ADR:;;;;;;", "NOTE:", "FN:A") == {
        "name": {"displayName": "A"}
    }


def test_native_properties_are_not_mapped_and_their_lines_stay() -> None:
    lines = ['X-AURINKO-NATIVE;X-KEY=a:{"x":[1\\,true]}', "X-AURINKO-NATIVE;X-KEY=b:0"]
    assert "nativeProperties" not in read(*lines, "FN:A")
    card = "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "UID:n", "FN:A", *lines, "END:VCARD"])
    parsed = from_vcard(card + "\r\n")
    served = to_vcard({**parsed.contact, "nativeProperties": {"c": 1}}, "3.0", parsed.shadow)
    assert all(line in served for line in lines) and "X-KEY=c" not in served


def test_card_without_version_in_2_1_forms_is_read_as_2_1() -> None:
    for line in ("TEL;CELL:1", "NOTE;ENCODING=QUOTED-PRINTABLE:a=3Db"):
        assert from_vcard(f"BEGIN:VCARD\r\nFN:A\r\n{line}\r\nEND:VCARD\r\n").version == "2.1"


def test_grouped_begin_and_end_are_accepted() -> None:
    parsed = from_vcard("home.BEGIN:VCARD\r\nhome.VERSION:4.0\r\nhome.FN:A\r\nhome.END:VCARD\r\n")
    assert parsed.version == "4.0" and parsed.contact == {"name": {"displayName": "A"}}


def test_a_closed_nested_component_is_kept_but_not_mapped() -> None:
    parsed = from_vcard(
        card("FN:A", "BEGIN:X-EXTRA", "UID:inner", "TEL:1", "END:X-EXTRA", "UID:outer")
    )
    assert parsed.uid == "outer" and "phoneNumbers" not in parsed.contact
    assert "BEGIN:X-EXTRA\r\nUID:inner\r\n" in to_vcard(parsed.contact, "3.0", parsed.shadow)
