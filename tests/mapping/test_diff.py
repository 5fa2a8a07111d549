"""diff(): the PATCH body."""

from __future__ import annotations

from bridge.mapping import diff, from_vcard, read_only_fields, to_vcard

OLD = {
    "id": "1",
    "etag": "e1",
    "lastModifiedTime": "2024-01-01T00:00:00Z",
    "hasPhoto": False,
    "name": {"displayName": "Ann Lee", "givenName": "Ann", "familyName": "Lee"},
    "notes": "line one\r\nline two",
    "phoneNumbers": [{"number": "1", "type": "work", "canonicalForm": "+1"}, {"number": "2"}],
}


def test_nothing_changed_means_an_empty_patch() -> None:
    new = {**OLD, "etag": "e2", "lastModifiedTime": "2024-02-02T00:00:00Z", "hasPhoto": True}
    assert diff(OLD, new) == {}


def test_equivalent_spellings_are_not_changes() -> None:
    new = {
        "name": {"givenName": "Ann", "familyName": "Lee"},  # displayName derived the same
        "notes": "line one\nline two",  # vCard text has \n line breaks
        "phoneNumbers": [{"number": "1", "type": "work"}, {"number": "2", "type": "other"}],
        "keywords": [],
        "company": {},
    }
    assert diff(OLD, new) == {}


def test_changed_and_removed_fields() -> None:
    new = {**OLD, "notes": None, "nickName": "Annie"}
    del new["phoneNumbers"]
    assert diff(OLD, new) == {
        "nickName": "Annie",
        "notes": None,
        "phoneNumbers": None,
    }


def test_only_top_level_writable_fields_and_no_derived_display_name() -> None:
    new = {**OLD, "name": {"givenName": "Anna", "familyName": "Lee"}, "id": "2", "etag": "x"}
    changes = diff(OLD, new)
    assert changes == {"name": {"givenName": "Anna", "familyName": "Lee"}}
    assert not set(changes) & read_only_fields


def test_a_round_trip_through_a_client_patches_only_what_the_client_changed() -> None:
    served = to_vcard(OLD, "3.0")
    edited = served.replace("NOTE:line one\\nline two", "NOTE:new note")
    assert diff(OLD, from_vcard(edited).contact) == {"notes": "new note"}
    assert diff(OLD, from_vcard(served).contact) == {}


def test_native_properties_are_never_sent() -> None:
    """Aurinko answers them only when asked for by name: a record without them does not
    mean they were removed, and a PATCH must not clear them."""
    assert diff({**OLD, "nativeProperties": {"flag": True}}, OLD) == {}
    assert diff(OLD, {**OLD, "nativeProperties": {"flag": 1}}) == {}
