"""The Aurinko contact schema (aurinko-contacts-api.md, "Contact schema") and its normal form.

``normalize`` is the single place that says which contacts the mapping treats as equal. The
round trip contact -> vCard -> contact is the identity on normalised contacts, and ``diff``
compares normalised values, so an equivalence listed here never causes a PATCH:

1. Absent, ``null`` and empty (``""``, ``[]``, ``{}``) are the same; unknown keys are dropped.
   A list item without its value (email address, phone number, URL, relation name, every
   address part) is dropped: a vCard property cannot carry an empty value.
2. Text uses ``\\n`` line breaks (``\\r\\n`` and ``\\r`` become ``\\n``) and holds no control
   characters other than tab and line break: vCard text cannot carry them.
3. A phone number without a type is an ``other`` number (the Outlook / DavMail rule for
   untyped ``TEL``).
4. A contact without ``name.displayName`` gets the one derived from its name parts, else its
   company name, else its first email address, because vCard requires ``FN``.
5. ``photo.mimeType`` is compared case-insensitively (lower case) and ``photo.content`` without
   whitespace, as media types and base64 are.
6. Read-only fields (``READ_ONLY_FIELDS``, ``phoneNumbers[].canonicalForm``) are not part of a
   contact's content. ``nativeProperties`` values are arbitrary JSON and kept untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import MappingError

READ_ONLY_FIELDS = frozenset({"id", "etag", "createdTime", "lastModifiedTime", "hasPhoto"})

NAME_KEYS = (
    "displayName",
    "prefix",
    "givenName",
    "middleName",
    "familyName",
    "suffix",
    "yomiGivenName",
    "yomiFamilyName",
)
COMPANY_KEYS = ("name", "officeLocation", "department", "jobTitle", "yomiCompanyName")
PHOTO_KEYS = ("id", "name", "mimeType", "content")
EMAIL_KEYS = ("address", "name", "type")
PHONE_KEYS = ("number", "type")
ADDRESS_KEYS = ("street", "streetLine2", "poBox", "city", "state", "postalCode", "country", "type")
URL_KEYS = ("href", "type")
RELATION_KEYS = ("name", "type")

PHONE_TYPES = (
    "work",
    "home",
    "other",
    "mobile",
    "workMobile",
    "main",
    "companyMain",
    "assistant",
    "workFax",
    "homeFax",
    "otherFax",
    "callback",
    "pager",
    "workPager",
    "radio",
    "telex",
    "tty",
)
ADDRESS_TYPES = ("work", "home", "other")
URL_TYPES = ("work", "home", "other", "blog", "profile", "homePage", "ftp", "reservations")
RELATION_TYPES = ("manager", "assistant", "spouse")

TEXT_FIELDS = ("nickName", "fileAs", "birthday", "notes")
OBJECT_FIELDS: Mapping[str, Sequence[str]] = {
    "name": NAME_KEYS,
    "company": COMPANY_KEYS,
    "photo": PHOTO_KEYS,
}
LIST_FIELDS: Mapping[str, Sequence[str]] = {
    "emailAddresses": EMAIL_KEYS,
    "phoneNumbers": PHONE_KEYS,
    "addresses": ADDRESS_KEYS,
    "urls": URL_KEYS,
    "relations": RELATION_KEYS,
}
# The keys that make a list item exist at all (rule 1): an item with none of them is empty.
ITEM_VALUE_KEYS: Mapping[str, Sequence[str]] = {
    "emailAddresses": ("address",),
    "phoneNumbers": ("number",),
    "addresses": ADDRESS_KEYS[:-1],
    "urls": ("href",),
    "relations": ("name",),
}
# Names older revisions and DOC-C use; read as the spec names (the contract's decision table).
KEY_ALIASES: Mapping[str, Mapping[str, str]] = {
    "company": {"companyName": "name"},
    "urls": {"value": "href"},
}

WRITABLE_FIELDS = (
    "name",
    "nickName",
    "fileAs",
    "company",
    "relations",
    "birthday",
    "keywords",
    "notes",
    "emailAddresses",
    "phoneNumbers",
    "addresses",
    "urls",
    "nativeProperties",
    "photo",
)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")


def clean_text(value: Any, where: str) -> str | None:
    """A contact string in normal form (rule 2), ``None`` when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"contact field {where} must be a string, not {type(value).__name__}")
    text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return text or None


def _clean_object(value: Any, keys: Sequence[str], where: str, aliases: Mapping[str, str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MappingError(f"contact field {where} must be an object, not {type(value).__name__}")
    merged = {aliases.get(key, key): item for key, item in value.items() if item is not None}
    out = {}
    for key in keys:
        text = clean_text(merged.get(key), f"{where}.{key}")
        if text is not None:
            out[key] = text
    return out


def _clean_list(contact: Mapping[str, Any], field: str) -> list[dict]:
    raw = contact.get(field) or ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise MappingError(f"contact field {field} must be a list")
    items = []
    for index, item in enumerate(raw):
        clean = _clean_object(
            item, LIST_FIELDS[field], f"{field}[{index}]", KEY_ALIASES.get(field, {})
        )
        if any(key in clean for key in ITEM_VALUE_KEYS[field]):
            items.append(clean)
    return items


def _clean_keywords(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise MappingError("contact field keywords must be a list of strings")
    words = (clean_text(word, f"keywords[{i}]") for i, word in enumerate(value))
    return [word for word in words if word]


def _clean_photo(photo: dict) -> dict:
    if "mimeType" in photo:
        photo["mimeType"] = photo["mimeType"].lower()
    if "content" in photo:
        content = _WHITESPACE.sub("", photo["content"])
        if content:
            photo["content"] = content
        else:
            del photo["content"]
    return photo


def derive_display_name(contact: Mapping[str, Any]) -> str | None:
    """The display name a card without FN gets: name parts, else company, else email."""
    name = contact.get("name") or {}
    parts = [name.get(key) for key in ("prefix", "givenName", "middleName", "familyName", "suffix")]
    joined = " ".join(part for part in parts if part)
    if joined:
        return joined
    company = (contact.get("company") or {}).get("name")
    if company:
        return str(company)
    for email in contact.get("emailAddresses") or ():
        if email.get("address"):
            return str(email["address"])
    return None


def normalize(contact: Mapping[str, Any], *, derive: bool = True) -> dict[str, Any]:
    """The normal form of an Aurinko contact (see the module docstring for the rules).

    With ``derive=False`` rule 4 is not applied (used for PATCH bodies: the provider computes
    its own display name).
    """
    if not isinstance(contact, Mapping):
        raise MappingError(f"a contact must be a JSON object, not {type(contact).__name__}")
    out: dict[str, Any] = {}
    for field in WRITABLE_FIELDS:
        value = _normal_field(contact, field)
        if value:
            out[field] = value
    for phone in out.get("phoneNumbers", ()):
        phone.setdefault("type", "other")
    if derive and not out.get("name", {}).get("displayName"):
        display = derive_display_name(out)
        if display:
            out.setdefault("name", {})["displayName"] = display
    return out


def _normal_field(contact: Mapping[str, Any], field: str) -> Any:
    if field in TEXT_FIELDS:
        return clean_text(contact.get(field), field)
    if field in OBJECT_FIELDS:
        obj = _clean_object(
            contact.get(field), OBJECT_FIELDS[field], field, KEY_ALIASES.get(field, {})
        )
        return _clean_photo(obj) if field == "photo" else obj
    if field in LIST_FIELDS:
        return _clean_list(contact, field)
    if field == "keywords":
        return _clean_keywords(contact.get(field))
    native = contact.get("nativeProperties")
    if native is not None and not isinstance(native, Mapping):
        raise MappingError("contact field nativeProperties must be an object")
    return dict(native or {})
