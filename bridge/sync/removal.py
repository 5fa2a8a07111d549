"""How a PATCH clears a field, and how Aurinko's answer shows that it did.

The vendor's OpenAPI marks no ``Contact`` property nullable, so a ``null`` is not a value it
allows, and a service that reads bodies into plain objects sees ``null`` as "absent" (the
vendor's own Java client never sends one). Each kind of field has an empty value the schema
does allow; a removal goes up in that form first. A removal the answer does not show is sent
once more in the other plausible form (``null`` for a whole field, the one clearing rule the
vendor documents anywhere; the object without the member for a part of a name), and is then
held: the card keeps the user's removal and ``status`` says so. Sources and reasoning:
docs/aurinko-contract-notes.md, "Removing a field in a PATCH".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..mapping import normalize
from ..mapping.schema import LIST_FIELDS, OBJECT_FIELDS, TEXT_FIELDS
from .fields import Contact

# The provider derives the display name; clearing it would fight that.
_DERIVED_MEMBERS = frozenset({"displayName"})


def _empty_members(old: Any) -> dict[str, str]:
    """An object (``name``, ``company``) with each member it had set to the empty string."""
    members = old if isinstance(old, Mapping) else {}
    return {key: "" for key in members if key not in _DERIVED_MEMBERS}


# Field kind -> the spec-valid empty value, given the field's old (normal-form) value.
_SPEC_FORM: Mapping[str, Callable[[Any], Any]] = {
    **{name: (lambda old: "") for name in TEXT_FIELDS},  # nickName, fileAs, notes, birthday
    **{name: (lambda old: []) for name in LIST_FIELDS},
    "keywords": lambda old: [],
    "name": _empty_members,
    "company": _empty_members,
    "photo": lambda old: {"content": ""},  # a photo with no image
}
assert set(_SPEC_FORM) >= set(TEXT_FIELDS) | set(LIST_FIELDS) | set(OBJECT_FIELDS)


@dataclass(frozen=True)
class Removals:
    """What a PATCH clears: whole top-level fields, and members of the object fields whose
    new value lacks members the old one had (``name.middleName`` dropped from a card)."""

    whole: frozenset[str] = frozenset()
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.whole or self.members)

    def fields(self) -> set[str]:
        return {*self.whole, *self.members}

    def only(self, keys: set[str]) -> Removals:
        """These removals restricted to the top-level fields ``keys``."""
        members = {key: gone for key, gone in self.members.items() if key in keys}
        return Removals(self.whole & keys, members)

    def __or__(self, other: Removals) -> Removals:
        members = dict(self.members)
        for key, gone in other.members.items():
            members[key] = members.get(key, frozenset()) | gone
        return Removals(self.whole | other.whole, members)


def removals(base: Contact, changes: Contact) -> Removals:
    """The removals in ``changes`` (a ``diff`` of ``base``: ``None`` clears a field)."""
    old = normalize(base, derive=False)
    whole = frozenset(key for key, value in changes.items() if value is None)
    members = {}
    for key in OBJECT_FIELDS:
        new = changes.get(key)
        if key == "photo" or not isinstance(new, Mapping) or not isinstance(old.get(key), dict):
            continue
        gone = frozenset(set(old[key]) - set(new) - _DERIVED_MEMBERS)
        if gone:
            members[key] = gone
    return Removals(whole, members)


def spec_body(changes: Contact, base: Contact, cleared: Removals) -> Contact:
    """``changes`` with each removal in the form the schema allows."""
    old = normalize(base, derive=False)
    body = dict(changes)
    for key in cleared.whole:
        body[key] = _SPEC_FORM[key](old.get(key))
    for key, gone in cleared.members.items():
        body[key] = {**body[key], **{member: "" for member in sorted(gone)}}
    return body


def fallback_body(changes: Contact, stuck: Removals) -> Contact:
    """The removals in ``stuck`` in their other plausible form: ``null`` for a whole field
    (outside the schema, but the vendor's "set to null to clear"), the object without the
    member for a member (a field is replaced whole)."""
    body: Contact = {key: None for key in stuck.whole}
    body.update({key: changes[key] for key in stuck.members})
    return body


def not_taken(answer: Contact, asked: Removals) -> Removals:
    """The removals in ``asked`` that the contact Aurinko answered still holds."""
    held = normalize(answer, derive=False)
    whole = {key for key in asked.whole if held.get(key)}
    if "photo" in asked.whole and answer.get("hasPhoto"):
        whole.add("photo")  # write answers carry hasPhoto, not the image
    members = {}
    for key, gone in asked.members.items():
        still = frozenset(member for member in gone if (held.get(key) or {}).get(member))
        if still:
            members[key] = still
    return Removals(frozenset(whole), members)
