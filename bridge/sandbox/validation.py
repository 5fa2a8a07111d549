"""Checks and normalises a contact body sent by a client.

The result uses the spec's names only (``company.name``, ``urls[].href``), drops the
read-only fields a client may echo back, and keeps unknown keys untouched so they can
be echoed. Every problem raises a 400 ``badRequest`` whose message names the field.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from bridge.sandbox.errors import ApiError, bad_request, invalid_field

PHONE_TYPES = frozenset(
    {
        "work", "home", "other", "mobile", "workMobile", "main", "companyMain", "assistant",
        "workFax", "homeFax", "otherFax", "callback", "pager", "workPager", "radio", "telex",
        "tty",
    }
)  # fmt: skip
ADDRESS_TYPES = frozenset({"work", "home", "other"})
URL_TYPES = frozenset(
    {"work", "home", "other", "blog", "profile", "homePage", "ftp", "reservations"}
)
RELATION_TYPES = frozenset({"manager", "assistant", "spouse"})

READ_ONLY_FIELDS = frozenset({"id", "etag", "createdTime", "lastModifiedTime", "hasPhoto"})
_NAME_KEYS = ("displayName", "prefix", "givenName", "middleName", "familyName", "suffix",
              "yomiGivenName", "yomiFamilyName")  # fmt: skip
_COMPANY_KEYS = ("name", "officeLocation", "department", "jobTitle", "yomiCompanyName")
_ADDRESS_KEYS = ("street", "streetLine2", "poBox", "city", "state", "postalCode", "country")
_STRING_FIELDS = ("nickName", "fileAs", "birthday", "notes")
_PHOTO_KEYS = ("id", "name", "mimeType", "content")
# The writable top-level fields of the contract (``photo`` is kept apart in ContactInput).
KNOWN_FIELDS = frozenset(
    {"name", "company", "keywords", "emailAddresses", "phoneNumbers", "addresses", "urls",
     "relations", "nativeProperties", *_STRING_FIELDS}
)  # fmt: skip

# Marks a top-level field that the body sets to null: PATCH removes it, POST omits it.
REMOVE: Any = None


@dataclass(frozen=True)
class ContactInput:
    """A validated body: ``fields`` maps each named top-level field to its value or None.

    ``photo`` is only meaningful when ``photo_given``; None then means "remove the photo".
    """

    fields: dict[str, Any]
    photo_given: bool
    photo: dict[str, Any] | None


def _fail(path: str, problem: str) -> ApiError:
    return invalid_field(path, problem)


def _expect_object(path: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "must be an object")
    return value


def _expect_list(path: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, "must be a list")
    return value


def _strings(path: str, obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Copy ``obj`` keeping known string keys (nulls dropped) and unknown keys verbatim."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in keys:
            if value is None:
                continue
            if not isinstance(value, str):
                raise _fail(f"{path}.{key}", "must be a string")
        out[key] = value
    return out


def _rename(obj: dict[str, Any], alias: str, name: str) -> dict[str, Any]:
    """Accept an alias key on input (DOC-C spells some fields differently); spec name wins."""
    if alias not in obj:
        return obj
    out = {(name if key == alias else key): value for key, value in obj.items() if key != name}
    if name in obj:
        out[name] = obj[name]
    return out


def _typed(path: str, item: dict[str, Any], allowed: frozenset[str] | None) -> None:
    kind = item.get("type")
    if kind is None or allowed is None:
        return
    if not isinstance(kind, str) or kind not in allowed:
        raise _fail(f"{path}.type", f"{kind!r} is not one of {', '.join(sorted(allowed))}")


def _items(
    path: str, value: Any, keys: tuple[str, ...], types: frozenset[str] | None, alias: str = ""
) -> list[dict[str, Any]]:
    out = []
    for index, raw in enumerate(_expect_list(path, value)):
        where = f"{path}[{index}]"
        item = _expect_object(where, raw)
        if alias:
            item = _rename(item, alias, keys[0])
        _typed(where, item, types)
        out.append(_strings(where, item, (*keys, "type")))
    return out


def _phones(value: Any) -> list[dict[str, Any]]:
    phones = _items("phoneNumbers", value, ("number",), PHONE_TYPES)
    # canonicalForm is read-only: computed on output, never stored.
    return [{k: v for k, v in phone.items() if k != "canonicalForm"} for phone in phones]


def _keywords(value: Any) -> list[str]:
    keywords = _expect_list("keywords", value)
    for index, keyword in enumerate(keywords):
        if not isinstance(keyword, str):
            raise _fail(f"keywords[{index}]", "must be a string")
    return keywords


def _photo(value: Any) -> dict[str, Any]:
    photo = _strings("photo", _expect_object("photo", value), _PHOTO_KEYS)
    content = photo.get("content")
    if content is None:
        raise _fail("photo.content", "is required (base64)")
    try:
        base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail("photo.content", "must be base64") from exc
    return photo


def _field(key: str, value: Any) -> Any:
    """Validate and normalise one non-null top-level field."""
    if key == "name":
        return _strings("name", _expect_object("name", value), _NAME_KEYS)
    if key == "company":
        company = _rename(_expect_object("company", value), "companyName", "name")
        return _strings("company", company, _COMPANY_KEYS)
    if key in _STRING_FIELDS:
        if not isinstance(value, str):
            raise _fail(key, "must be a string")
        return value
    if key == "keywords":
        return _keywords(value)
    if key == "emailAddresses":
        return _items(key, value, ("address", "name"), None)
    if key == "phoneNumbers":
        return _phones(value)
    if key == "addresses":
        return _items(key, value, _ADDRESS_KEYS, ADDRESS_TYPES)
    if key == "urls":
        return _items(key, value, ("href",), URL_TYPES, alias="value")
    if key == "relations":
        return _items(key, value, ("name",), RELATION_TYPES)
    if key == "nativeProperties":
        return _expect_object(key, value)
    return value  # unknown keys are kept and echoed as sent


def parse_contact(body: Any) -> ContactInput:
    """Validate a POST or PATCH body (any JSON value) into a ``ContactInput``."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    fields: dict[str, Any] = {}
    photo_given, photo = False, None
    for key, value in body.items():
        if key in READ_ONLY_FIELDS:
            continue
        if key == "photo":
            photo_given, photo = True, (None if value is None else _photo(value))
            continue
        fields[key] = REMOVE if value is None else _field(key, value)
    return ContactInput(fields, photo_given, photo)
