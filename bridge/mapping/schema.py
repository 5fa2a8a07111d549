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
   contact's content. Nor is ``nativeProperties``: the API answers them only when asked for
   by name, so they cannot round-trip and are not mapped (MAPPING.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
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


def _clean_text_at(value: Any, field: str, index: int | None = None, key: str = "") -> str | None:
    """``clean_text`` for ``field[index].key``, naming the place only when it is an error.

    Most contact strings are already clean: a printable ``str`` holds no control character
    and no line break, so rule 2 leaves it as it is and the regex pass is skipped.
    """
    if type(value) is str and value.isprintable():
        return value or None
    if value is None:
        return None
    return clean_text(value, _where(field, index, key))


def _where(field: str, index: int | None = None, key: str = "") -> str:
    where = field if index is None else f"{field}[{index}]"
    return f"{where}.{key}" if key else where


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # dict first: the ABC check is slow


def _is_list(value: Any) -> bool:
    if type(value) in (list, tuple):
        return True
    return isinstance(value, Sequence) and not isinstance(value, str)


def _clean_object(
    value: Any,
    keys: Sequence[str],
    aliases: Mapping[str, str],
    field: str,
    index: int | None = None,
) -> dict:
    if value is None:
        return {}
    if not _is_mapping(value):
        where = _where(field, index)
        raise MappingError(f"contact field {where} must be an object, not {type(value).__name__}")
    if aliases:  # an alias must not be overwritten by a null under the spec name
        value = {aliases.get(key, key): item for key, item in value.items() if item is not None}
    out = {}
    for key in keys:
        item = value.get(key)
        if item is not None:
            text = _clean_text_at(item, field, index, key)
            if text is not None:
                out[key] = text
    return out


def _clean_list(value: Any, field: str) -> list[dict]:
    raw = value or ()
    if not _is_list(raw):
        raise MappingError(f"contact field {field} must be a list")
    keys, value_keys = LIST_FIELDS[field], ITEM_VALUE_KEYS[field]
    aliases = KEY_ALIASES.get(field, {})
    items = []
    for index, item in enumerate(raw):
        clean = _clean_object(item, keys, aliases, field, index)
        if any(key in clean for key in value_keys):
            items.append(clean)
    return items


def _clean_keywords(value: Any) -> list[str]:
    if value is None:
        return []
    if not _is_list(value):
        raise MappingError("contact field keywords must be a list of strings")
    words = (_clean_text_at(word, "keywords", i) for i, word in enumerate(value))
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
    if not _is_mapping(contact):
        raise MappingError(f"a contact must be a JSON object, not {type(contact).__name__}")
    out: dict[str, Any] = {}
    for field, normal in _NORMALIZERS:
        value = normal(contact.get(field))
        if value:
            out[field] = value
    for phone in out.get("phoneNumbers", ()):
        phone.setdefault("type", "other")
    return with_display_name(out) if derive else out


def with_display_name(normal: dict[str, Any]) -> dict[str, Any]:
    """``normal`` (a contact normalised with ``derive=False``) with rule 4 applied.

    ``normal`` itself is not changed: a derived name goes into a copy, so ``diff`` can use one
    normalisation both for comparing and for the PATCH body.
    """
    name = normal.get("name", {})
    if name.get("displayName"):
        return normal
    display = derive_display_name(normal)
    if not display:
        return normal
    return {**normal, "name": {**name, "displayName": display}}


def _object_normalizer(field: str) -> Callable[[Any], Any]:
    keys, aliases = OBJECT_FIELDS[field], KEY_ALIASES.get(field, {})
    if field == "photo":
        return lambda value: _clean_photo(_clean_object(value, keys, aliases, field))
    return lambda value: _clean_object(value, keys, aliases, field)


def _normalizer(field: str) -> Callable[[Any], Any]:
    """The function that puts the raw value of ``field`` in normal form (rules 1, 2, 5, 6)."""
    if field in TEXT_FIELDS:
        return lambda value: _clean_text_at(value, field)
    if field in OBJECT_FIELDS:
        return _object_normalizer(field)
    if field in LIST_FIELDS:
        return lambda value: _clean_list(value, field)
    if field == "keywords":
        return _clean_keywords
    raise ValueError(f"no normal form for contact field {field!r}")


# Chosen once per field at import, not on every call: normalize runs several times per PUT.
_NORMALIZERS: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
    (field, _normalizer(field)) for field in WRITABLE_FIELDS
)
