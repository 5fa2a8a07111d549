"""Bad input raises MappingError, with a message that says what is wrong."""

from __future__ import annotations

import os

import pytest

from bridge.mapping import Limits, MappingError, from_vcard, to_vcard

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nFN:Ann\r\nEND:VCARD\r\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "input is empty"),
        ("\r\n\r\n", "input is empty"),
        ("Hello, world\r\n", "expected BEGIN:VCARD"),
        ("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "expected BEGIN:VCARD"),
        ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\n", "truncated: no END:VCARD"),
        ("BEGIN:VCARD\r\nFN:Ann\r\nbroken line\r\nEND:VCARD\r\n", "line 3: not a vCard property"),
        ("BEGIN:VCARD\r\nVERSION:5.0\r\nEND:VCARD\r\n", "unsupported vCard version '5.0'"),
        (CARD + CARD, "expected one vCard, found several"),
        (CARD + "trailing\r\n", "unexpected text after END:VCARD"),
        ("BEGIN:VCARD\r\nFN:A\x00B\r\nEND:VCARD\r\n", "line 2: not a vCard: binary data"),
        (
            b"BEGIN:VCARD\r\nFN:Ren\xe9\r\nEND:VCARD\r\n",
            "line 2: vCard is not valid UTF-8: byte 0xe9",
        ),
        (b"\xff\xfe\x00garbag", "not valid UTF-16"),
        (
            "BEGIN:VCARD\r\nPHOTO;ENCODING=b;TYPE=JPEG:not*base64\r\nEND:VCARD\r\n",
            "line 2: PHOTO is not valid base64",
        ),
        (
            "BEGIN:VCARD\r\nNOTE;CHARSET=klingon;ENCODING=QUOTED-PRINTABLE:=41\r\nEND:VCARD\r\n",
            "line 2: unknown CHARSET 'klingon'",
        ),
        (12, "must be text or bytes, not int"),
    ],
)
def test_bad_input(data: str | bytes, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        from_vcard(data)


def test_binary_garbage() -> None:
    garbage = os.urandom(4096)
    with pytest.raises(MappingError, match=r"not (valid UTF-8|a vCard)"):
        from_vcard(garbage)
    with pytest.raises(MappingError):
        from_vcard(bytes(range(256)) * 16)


def test_50_mb_card_against_the_default_limit() -> None:
    huge = "BEGIN:VCARD\r\nNOTE:" + "x" * (50 * 1024 * 1024) + "\r\nEND:VCARD\r\n"
    with pytest.raises(MappingError, match=r"vCard is 52,428,\d+ bytes, larger than the limit of"):
        from_vcard(huge)
    with pytest.raises(MappingError, match="larger than the limit"):
        from_vcard(huge.encode())


def test_limits_are_configurable() -> None:
    photo = "BEGIN:VCARD\r\nPHOTO;ENCODING=b;TYPE=PNG:" + "A" * 4000 + "\r\nEND:VCARD\r\n"
    assert from_vcard(photo).contact["photo"]["mimeType"] == "image/png"
    with pytest.raises(MappingError, match="PHOTO is 3,000 bytes, larger than the limit of 1,000"):
        from_vcard(photo, limits=Limits(max_photo_bytes=1000))
    with pytest.raises(MappingError, match="limit of 20 bytes"):
        from_vcard(CARD, limits=Limits(max_bytes=20))
    many = "BEGIN:VCARD\r\n" + "X-A:1\r\n" * 11 + "END:VCARD\r\n"
    with pytest.raises(MappingError, match="more than 10 properties"):
        from_vcard(many, limits=Limits(max_properties=10))
    with pytest.raises(ValueError, match="must be positive"):
        Limits(max_bytes=0)


def test_errors_are_value_errors_with_line_numbers() -> None:
    with pytest.raises(ValueError) as info:
        from_vcard('BEGIN:VCARD\r\nFN:a\r\nN;X="open:b\r\nEND:VCARD\r\n')
    assert isinstance(info.value, MappingError)
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("contact", "kwargs", "message"),
    [
        ({"name": {"givenName": "A"}}, {}, "cannot choose a UID"),
        ({"id": "1"}, {"version": "2.1"}, "cannot write vCard '2.1'"),
        ({"id": "1", "notes": 5}, {}, "notes must be a string, not int"),
        ({"id": "1", "phoneNumbers": {"number": "1"}}, {}, "phoneNumbers must be a list"),
        ({"id": "1"}, {"shadow": "not a card"}, "the shadow card is not a usable vCard"),
        ([1, 2], {}, "must be a JSON object"),
    ],
)
def test_bad_contacts(contact: object, kwargs: dict, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        to_vcard(contact, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["BEGIN:VEVENT", "SUMMARY:x"],
            r"line 4: BEGIN:VEVENT is never closed \(END:VCARD comes first\)",
        ),
        (["BEGIN:VEVENT", "END:VTODO"], r"line 5: END:VTODO does not close the open BEGIN:VEVENT"),
        (["END:VEVENT"], r"line 4: END:VEVENT without a BEGIN:VEVENT"),
        (
            ["BEGIN:VCARD", "FN:B", "END:VCARD"],
            r"line 4: a second BEGIN:VCARD before the card's END:VCARD \(is an END:VCARD missing",
        ),
        (["no colon here"], r"line 4: not a vCard property \(no ':'\)"),
    ],
)
def test_components_clients_cannot_parse_are_refused(lines: list[str], message: str) -> None:
    text = "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "FN:A", *lines, "END:VCARD"]) + "\r\n"
    with pytest.raises(MappingError, match=message):
        from_vcard(text)
    with pytest.raises(MappingError, match="a second BEGIN:VCARD"):  # the first END is missing
        from_vcard("BEGIN:VCARD\r\nFN:A\r\n" + CARD)
