"""The issue-24 checker itself: it finds a dropped TYPE value and forgives only what it says."""

from __future__ import annotations

from bridge.mapping import from_vcard, to_vcard

from .kept import lost

ISSUE_CARD = (
    "BEGIN:VCARD\r\nUID:custom-1\r\nREV:0\r\nFN:Micheal Jackson\r\nTEL;HOME:+1-221-5423789\r\n"
    "EMAIL;TYPE=home,work:micheal@jackson.com\r\nEND:VCARD\r\n"
)


def card(*lines: str, version: str = "3.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD", ""])


def test_a_dropped_type_is_found() -> None:
    sent = card("EMAIL;TYPE=home,work:a@b")
    assert lost(sent, card("EMAIL;TYPE=INTERNET,WORK:a@b")) == [
        ("EMAIL", frozenset({"HOME", "WORK"}), "a@b")
    ]
    assert lost(sent, card("EMAIL;TYPE=WORK,HOME,INTERNET:a@b")) == []


def test_an_added_type_other_than_a_default_is_found() -> None:
    sent = card("TEL:1", version="4.0")
    assert lost(sent, card("TEL;TYPE=VOICE:1")) == []  # VOICE: TEL's default
    assert lost(sent, card("TEL;TYPE=OTHER,VOICE:1")) != []


def test_versions_spell_the_same_property() -> None:
    sent = card("KIND:org", "LANG;PREF=1:en", "TEL;TYPE=work;VALUE=uri:tel:+1-555", version="4.0")
    served = card("X-ADDRESSBOOKSERVER-KIND:org", "X-LANG;TYPE=PREF:en", "TEL;TYPE=WORK:+1-555")
    assert lost(sent, served) == []
    assert lost(sent, card("TEL;TYPE=WORK:+1-555")) == [
        ("KIND", frozenset(), "org"),
        ("LANG", frozenset({"PREF"}), "en"),
    ]


def test_the_issue_card_keeps_both_email_types_in_both_versions() -> None:
    parsed = from_vcard(ISSUE_CARD)
    served = to_vcard(parsed.contact, "3.0", parsed.shadow)
    assert "EMAIL;TYPE=home,work:micheal@jackson.com" in served.split("\r\n")
    assert "TEL;TYPE=HOME:+1-221-5423789" in served.split("\r\n")
    assert lost(ISSUE_CARD, served) == []
    assert lost(ISSUE_CARD, to_vcard(parsed.contact, "4.0", parsed.shadow)) == []
    # the contact is read from the converted card, as from the same card written as 3.0
    as_30 = ISSUE_CARD.replace("BEGIN:VCARD\r\n", "BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert from_vcard(as_30).contact == parsed.contact
