"""Rendering and the shadow merge: what follows the remote, what survives, version changes."""

from __future__ import annotations

import copy
import uuid

import pytest

from bridge.mapping import UID_NAMESPACE, derive_uid, from_vcard, to_vcard


def card(*lines: str, version: str = "3.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD"]) + "\r\n"


def body(text: str) -> list[str]:
    """Unfolded lines of a rendered card, without BEGIN/END."""
    return text.replace("\r\n ", "").split("\r\n")[1:-2]


SHADOW = card(
    "PRODID:-//Apple Inc.//iPhone OS 17.4//EN",
    "N:Doe;Jane;;;",
    "FN:Jane Doe",
    "item1.TEL;type=pref:+1 555 0100",
    "item1.X-ABLabel:GRAND_CENTRAL",
    "TEL;type=CELL;type=VOICE:+1 555 0101",
    "item2.EMAIL;type=INTERNET:jane@club.example",
    "item2.X-ABLabel:Club",
    "item3.ADR;type=HOME:;;1 Main St;Springfield;;12345;USA",
    "item3.X-ABADR:us",
    "NOTE:old note",
    "X-ABShowAs:PERSON",
    "UID:shadow-uid",
)


@pytest.fixture
def parsed() -> tuple[dict, str]:
    result = from_vcard(SHADOW)
    return copy.deepcopy(result.contact), result.shadow


def test_unchanged_contact_gives_back_the_shadow(parsed: tuple[dict, str]) -> None:
    contact, shadow = parsed
    assert to_vcard(contact, "3.0", shadow) == SHADOW


def test_changed_number_keeps_group_label_and_params(parsed: tuple[dict, str]) -> None:
    contact, shadow = parsed
    contact["phoneNumbers"][0]["number"] = "+1 555 0199"
    lines = body(to_vcard(contact, "3.0", shadow))
    assert "item1.TEL;type=pref:+1 555 0199" in lines
    assert "item1.X-ABLabel:GRAND_CENTRAL" in lines
    assert (
        lines.index("item1.X-ABLabel:GRAND_CENTRAL")
        == lines.index("item1.TEL;type=pref:+1 555 0199") + 1
    )


def test_changed_type_follows_the_remote(parsed: tuple[dict, str]) -> None:
    contact, shadow = parsed
    contact["phoneNumbers"][0]["type"] = "workFax"
    lines = body(to_vcard(contact, "3.0", shadow))
    assert "TEL;TYPE=WORK,FAX:+1 555 0100" in lines
    assert not any("GRAND_CENTRAL" in line or line.startswith("item1.") for line in lines)


def test_removed_values_take_their_group_along(parsed: tuple[dict, str]) -> None:
    contact, shadow = parsed
    del contact["addresses"], contact["notes"]
    contact["emailAddresses"] = []
    lines = body(to_vcard(contact, "3.0", shadow))
    assert not [line for line in lines if line.startswith(("item2.", "item3.", "NOTE"))]
    assert "X-ABShowAs:PERSON" in lines and "item1.X-ABLabel:GRAND_CENTRAL" in lines


def test_new_values_go_next_to_their_kind(parsed: tuple[dict, str]) -> None:
    contact, shadow = parsed
    contact["phoneNumbers"].append({"number": "+1 555 0102", "type": "home"})
    contact["emailAddresses"].append({"address": "jd@work.example", "type": "Board"})
    contact["birthday"] = "--12-24"
    lines = body(to_vcard(contact, "3.0", shadow))
    cell = lines.index("TEL;type=CELL;type=VOICE:+1 555 0101")
    assert lines[cell + 1] == "TEL;TYPE=HOME,VOICE:+1 555 0102"
    club = lines.index("item2.X-ABLabel:Club")
    # a free email type gets a group name no shadow line uses
    assert lines[club + 1 : club + 3] == [
        "item4.EMAIL;TYPE=INTERNET:jd@work.example",
        "item4.X-ABLabel:Board",
    ]
    assert lines[-1] == "BDAY;X-APPLE-OMIT-YEAR=1604:1604-12-24"


def test_reordered_values_follow_the_contact_order(parsed: tuple[dict, str]) -> None:
    contact, shadow = parsed
    contact["phoneNumbers"].reverse()
    out = to_vcard(contact, "3.0", shadow)
    assert from_vcard(out).contact == contact
    lines = body(out)
    assert lines.index("TEL;type=CELL;type=VOICE:+1 555 0101") < lines.index(
        "item1.TEL;type=pref:+1 555 0100"
    )


def test_structured_lines_keep_components_beyond_the_mapped_ones() -> None:
    parsed = from_vcard(card("FN:x", "ORG:Acme;Sales;Team A;Squad 7", "UID:u"))
    contact = parsed.contact
    contact["company"]["department"] = "Marketing"
    assert "ORG:Acme;Marketing;Team A;Squad 7" in body(to_vcard(contact, "3.0", parsed.shadow))


def test_the_lossy_vobject_cases_come_back_byte_for_byte() -> None:
    lines = [
        "UID:u",
        "FN:Ann",
        "NICKNAME:a,b,c",
        "PHOTO:data:image/jpeg;base64,QUJDRA==",
        r"NOTE:semi\; colon\, comma",
        r"X-UNKNOWN;X-P=1:escaped\; kept\, as is",
        "item9.X-CUSTOM:grouped",
    ]
    shadow = card(*lines, version="4.0")
    parsed = from_vcard(shadow)
    assert parsed.contact["nickName"] == "a, b, c"
    assert parsed.contact["photo"] == {"content": "QUJDRA==", "mimeType": "image/jpeg"}
    assert to_vcard(parsed.contact, "4.0", parsed.shadow) == shadow


def test_uid_precedence() -> None:
    shadow = card("FN:a", "UID:from-shadow")
    assert "UID:explicit" in to_vcard({"id": "r1"}, "3.0", shadow, uid="explicit")
    assert "UID:from-shadow" in to_vcard({"id": "r1"}, "3.0", shadow)
    derived = str(uuid.uuid5(UID_NAMESPACE, "r1"))
    assert derive_uid({"id": "r1"}) == derived == derive_uid({"id": "r1", "etag": "other"})
    assert f"UID:{derived}" in to_vcard({"id": "r1"}, "4.0")
    assert derive_uid({"id": "r2"}) != derived
    assert to_vcard({"id": "r1"}).count("UID:") == 1


def test_rev_from_last_modified_time() -> None:
    contact = {"id": "1", "lastModifiedTime": "2024-03-01T13:14:15.123+01:00"}
    assert "REV:2024-03-01T12:14:15Z" in body(to_vcard(contact, "3.0"))
    assert "REV:20240301T121415Z" in body(to_vcard(contact, "4.0"))
    shadow = card("FN:a", "REV:2000-01-01T00:00:00Z", "UID:u")
    assert body(to_vcard(contact, "3.0", shadow)).count("REV:2024-03-01T12:14:15Z") == 1
    assert "REV:2000-01-01T00:00:00Z" in body(to_vcard({"id": "1"}, "3.0", shadow))


def test_fresh_card_layout() -> None:
    out = to_vcard({"id": "1", "name": {"givenName": "Ann"}, "notes": "n"}, "3.0")
    assert out.split("\r\n")[:6] == [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "PRODID:-//Aurinko CardDAV Bridge//mapping//EN",
        f"UID:{derive_uid({'id': '1'})}",
        "FN:Ann",
        "N:;Ann;;;",
    ]
    assert "\r\nN:" not in to_vcard({"id": "1", "notes": "n"}, "4.0")  # optional in 4.0
    assert "FN:\r\n" in to_vcard({"id": "1"}, "4.0")  # FN is not


def test_fn_is_added_to_a_shadow_without_one() -> None:
    parsed = from_vcard(card("N:Doe;John;;;", "UID:u"))
    out = to_vcard(parsed.contact, "3.0", parsed.shadow)
    assert body(out)[-1] == "FN:John Doe"


def test_empty_n_of_a_company_card_is_kept() -> None:
    shadow = card("N:;;;;", "FN:Acme", "ORG:Acme", "UID:u")
    parsed = from_vcard(shadow)
    assert to_vcard(parsed.contact, "3.0", parsed.shadow) == shadow


def test_photo_unknown_on_a_sync_page_keeps_the_shadow_photo() -> None:
    shadow = card("FN:a", "PHOTO;ENCODING=b;TYPE=JPEG:QUJD", "UID:u")
    contact = {"id": "1", "name": {"displayName": "a"}, "hasPhoto": True}
    assert "PHOTO;ENCODING=b;TYPE=JPEG:QUJD" in body(to_vcard(contact, "3.0", shadow))
    contact["hasPhoto"] = False
    assert not any(line.startswith("PHOTO") for line in body(to_vcard(contact, "3.0", shadow)))


def test_photo_metadata_round_trips() -> None:
    photo = {"id": "p1", "name": 'me "1".jpg', "mimeType": "image/png", "content": "QUJD"}
    for version in ("3.0", "4.0"):
        out = to_vcard({"id": "1", "photo": photo}, version)
        assert from_vcard(out).contact["photo"] == photo
    meta_only = {"id": "p1", "mimeType": "image/png"}
    out = to_vcard({"id": "1", "photo": meta_only})
    assert 'X-AURINKO-PHOTO:{"id": "p1"\\, "mimeType": "image/png"}' in body(out)
    assert from_vcard(out).contact["photo"] == meta_only


@pytest.mark.parametrize(
    ("v3", "v4"),
    [
        ("BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-14", "BDAY:--0414"),
        ("BDAY:1980-04-14", "BDAY:19800414"),
        ("PHOTO;ENCODING=b;TYPE=JPEG:QUJD", "PHOTO:data:image/jpeg;base64,QUJD"),
        ("X-ABRELATEDNAMES:Bob", "RELATED;VALUE=text:Bob"),
        ("TEL;TYPE=X-TTY:1", "TEL;TYPE=textphone;VALUE=uri:tel:1"),
        ("TEL;TYPE=OTHER,FAX:1", "TEL;TYPE=fax;VALUE=uri:tel:1"),
        ("EMAIL;TYPE=INTERNET,WORK,PREF:a@b", "EMAIL;TYPE=work;PREF=1:a@b"),
        ("URL;TYPE=WORK;X-KEEP=me:https://a", "URL;TYPE=work;X-KEEP=me:https://a"),
    ],
)
def test_version_specific_forms_are_converted(v3: str, v4: str) -> None:
    from_3 = from_vcard(card("FN:a", v3, "UID:u"))
    assert v4 in body(to_vcard(from_3.contact, "4.0", from_3.shadow))
    from_4 = from_vcard(card("FN:a", v4, "UID:u", version="4.0"))
    assert v3 in body(to_vcard(from_4.contact, "3.0", from_4.shadow))


def test_relations_per_version() -> None:
    contact = {
        "id": "1",
        "relations": [
            {"name": "Tim", "type": "manager"},
            {"name": "Jo", "type": "spouse"},
            {"name": "Ann", "type": "assistant"},
            {"name": "Bo"},  # untyped: what a non-contract label (Apple's Child...) becomes
        ],
    }
    assert body(to_vcard(contact, "3.0"))[-7:] == [
        "item1.X-ABRELATEDNAMES:Tim",
        "item1.X-ABLabel:_$!<Manager>!$_",
        "item2.X-ABRELATEDNAMES:Jo",
        "item2.X-ABLabel:_$!<Spouse>!$_",
        "item3.X-ABRELATEDNAMES:Ann",
        "item3.X-ABLabel:_$!<Assistant>!$_",
        "X-ABRELATEDNAMES:Bo",
    ]
    assert body(to_vcard(contact, "4.0"))[-4:] == [
        "RELATED;TYPE=manager;VALUE=text:Tim",
        "RELATED;TYPE=spouse;VALUE=text:Jo",
        "RELATED;TYPE=assistant;VALUE=text:Ann",
        "RELATED;VALUE=text:Bo",
    ]


def test_non_contract_relation_labels_stay_in_the_card() -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nFN:A\r\n"
        "item1.X-ABRELATEDNAMES:Kid\r\nitem1.X-ABLabel:_$!<Child>!$_\r\nEND:VCARD\r\n"
    )
    parsed = from_vcard(card)
    assert parsed.contact["relations"] == [{"name": "Kid"}]  # Aurinko refuses other types
    served = to_vcard({**parsed.contact, "id": "1"}, "3.0", shadow=parsed.shadow)
    assert "item1.X-ABRELATEDNAMES:Kid\r\nitem1.X-ABLabel:_$!<Child>!$_" in served


def test_phones_in_4_0_use_tel_uris_when_exact() -> None:
    contact = {
        "id": "1",
        "phoneNumbers": [
            {"number": "+1-555-0100 ext. 12", "type": "work"},
            {"number": "+1 555 0100", "type": "home"},
            {"number": "tel:literal", "type": "other"},
        ],
    }
    lines = body(to_vcard(contact, "4.0"))
    assert "TEL;TYPE=work,voice;VALUE=uri:tel:+1-555-0100;ext=12" in lines
    assert "TEL;TYPE=home,voice;VALUE=text:+1 555 0100" in lines
    assert "TEL;TYPE=voice;VALUE=text:tel:literal" in lines
    assert from_vcard(to_vcard(contact, "4.0")).contact["phoneNumbers"] == contact["phoneNumbers"]


def test_outlook_2_1_shadow_is_served_without_2_1_syntax() -> None:
    shadow = card(
        "FN:Hans",
        "LABEL;WORK;PREF;ENCODING=QUOTED-PRINTABLE;CHARSET=utf-8:M=C3=BCnchen=0D=0A=",
        "Bayern",
        "X-MS-SPOUSE:Anna",
        version="2.1",
    )
    parsed = from_vcard(shadow)
    assert parsed.contact["relations"] == [{"name": "Anna", "type": "spouse"}]
    lines = body(to_vcard(parsed.contact, "4.0", parsed.shadow, uid="u"))
    assert "LABEL;TYPE=WORK;PREF=1:München\\nBayern" in lines
    # Outlook's property is valid in any version: it is carried over, not renamed (issue 24)
    assert "X-MS-SPOUSE;VALUE=text:Anna" in lines
    lines3 = body(to_vcard(parsed.contact, "3.0", parsed.shadow, uid="u"))
    assert "LABEL;TYPE=WORK,PREF:München\\nBayern" in lines3
    assert "X-MS-SPOUSE:Anna" in lines3


def test_values_are_escaped_and_folded() -> None:
    contact = {"id": "1", "notes": "a;b,c\\d\ne" + "é" * 80, "keywords": ["x,y", "z"]}
    out = to_vcard(contact, "3.0")
    assert all(len(line.encode()) <= 75 for line in out.split("\r\n"))
    assert "NOTE:a\\;b\\,c\\\\d\\ne" in out
    assert "CATEGORIES:x\\,y,z" in out
    assert from_vcard(out).contact["keywords"] == ["x,y", "z"]


def test_2_1_types_are_all_kept_in_3_0() -> None:
    shadow = card(
        "FN:Karin",
        "ADR;WORK;PARCEL;POSTAL;DOM:;;Industrigatan 4;Göteborg;;411 04;Sverige",
        "ADR;HOME;INTL;PREF:;;Rue du Lac 3;Genève;;1207;Suisse",
        "EMAIL;INTERNET;X400:k@example.se",
        "TEL;PAGER;VOICE:1",
        "X-MS-TEL;VOICE;COMPANY:2",
        "X-MS-TEL;TTYTDD:3",
        version="2.1",
    )
    parsed = from_vcard(shadow)
    assert [p["type"] for p in parsed.contact["phoneNumbers"]] == ["pager", "companyMain", "tty"]
    lines = body(to_vcard(parsed.contact, "3.0", parsed.shadow, uid="u"))
    assert "ADR;TYPE=WORK,PARCEL,POSTAL,DOM:;;Industrigatan 4;Göteborg;;411 04;Sverige" in lines
    assert "ADR;TYPE=HOME,INTL,PREF:;;Rue du Lac 3;Genève;;1207;Suisse" in lines
    assert "EMAIL;TYPE=INTERNET,X400:k@example.se" in lines
    assert "TEL;TYPE=PAGER,VOICE:1" in lines
    lines4 = body(to_vcard(parsed.contact, "4.0", parsed.shadow, uid="u"))
    assert "ADR;TYPE=work,parcel,postal,dom:;;Industrigatan 4;Göteborg;;411 04;Sverige" in lines4


def test_versionless_card_in_2_1_forms_is_served_as_strict_3_0() -> None:
    shadow = (
        "BEGIN:VCARD\r\nN:Virtanen;Aino\r\nTEL;HOME;VOICE:1\r\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Sy=C3=B6=\r\n lounas\r\nUID:u\r\nEND:VCARD\r\n"
    )
    parsed = from_vcard(shadow)
    assert parsed.version == "2.1"
    out = to_vcard(parsed.contact, "3.0", parsed.shadow)
    assert body(out) == [
        "VERSION:3.0",
        "N:Virtanen;Aino",
        "TEL;TYPE=HOME,VOICE:1",
        "NOTE:Syö lounas",
        "UID:u",
        "FN:Aino Virtanen",
    ]


def test_2_1_syntax_in_a_3_0_card_is_named_and_the_rest_kept() -> None:
    shadow = card(
        "FN:M",
        "TEL;WORK;VOICE:1",
        "X-IM;HOME:m@im.example",
        "X-NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:a=C3=A9",
        "ADR;type=HOME:;;x;;;;",
        "UID:u",
    )
    parsed = from_vcard(shadow)
    lines = body(to_vcard(parsed.contact, "3.0", parsed.shadow))
    assert lines[2:6] == [
        "TEL;TYPE=WORK,VOICE:1",
        "X-IM;TYPE=HOME:m@im.example",
        "X-NOTE:aé",
        "ADR;type=HOME:;;x;;;;",
    ]
    changed = copy.deepcopy(parsed.contact)
    changed["phoneNumbers"][0]["number"] = "2"  # a rewritten line is named too
    assert "TEL;TYPE=WORK,VOICE:2" in body(to_vcard(changed, "3.0", parsed.shadow))


def test_3_0_card_without_n_is_served_without_n() -> None:
    shadow = card("FN:Support", "EMAIL;TYPE=work:s@example.com", "UID:u")
    parsed = from_vcard(shadow)
    assert to_vcard(parsed.contact, "3.0", parsed.shadow) == shadow
    # a card the bridge makes or converts still has 3.0's mandatory N
    assert "N:;;;;" in body(to_vcard(parsed.contact, "3.0", uid="u"))
    from4 = from_vcard(card("FN:Support", "UID:u", version="4.0"))
    assert "N:;;;;" in body(to_vcard(from4.contact, "3.0", from4.shadow))


def test_grouped_begin_is_served_with_an_ungrouped_identity() -> None:
    shadow = "a.BEGIN:VCARD\r\na.VERSION:3.0\r\na.FN:Frank\r\na.UID:u\r\na.END:VCARD\r\n"
    parsed = from_vcard(shadow)
    assert parsed.uid == "u" and parsed.contact == {"name": {"displayName": "Frank"}}
    out = to_vcard(parsed.contact, "3.0", parsed.shadow)
    assert out == "BEGIN:VCARD\r\nVERSION:3.0\r\na.FN:Frank\r\nUID:u\r\nEND:VCARD\r\n"


def test_2_1_agent_card_becomes_the_agent_text_and_base64_loses_its_indent() -> None:
    shadow = card(
        "FN:Boss",
        "AGENT:",
        "BEGIN:VCARD",
        "VERSION:2.1",
        "FN:Gal Friday",
        "TEL;WORK:1",
        "END:VCARD",
        "LOGO;TYPE=GIF;ENCODING=BASE64:",
        "    R0lGODlh",
        "    AQABAA==",
        "",
        "UID:u",
        version="2.1",
    )
    parsed = from_vcard(shadow)
    lines = body(to_vcard(parsed.contact, "3.0", parsed.shadow))
    assert lines[2:] == [
        "AGENT:BEGIN:VCARD\\nVERSION:3.0\\nFN:Gal Friday\\nTEL\\;TYPE=WORK:1\\nEND:VCARD\\n",
        "LOGO;TYPE=GIF;ENCODING=b:R0lGODlhAQABAA==",
        "UID:u",
        "N:;;;;",
    ]


def test_a_lone_quoted_printable_cr_does_not_split_the_served_line() -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:qp-cr\r\nN:Doe;Jane\r\nFN:Jane Doe\r\n"
        "X-FOO;ENCODING=QUOTED-PRINTABLE:a=0Db\r\nEND:VCARD\r\n"
    )
    parsed = from_vcard(card)
    served = to_vcard(parsed.contact, "3.0", shadow=parsed.shadow)
    assert "\r" not in served.replace("\r\n", "")
    assert "X-FOO:a\\nb\r\n" in served
