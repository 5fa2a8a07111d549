"""Renders stored contacts in the wire shape, adding the read-only fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bridge.sandbox.etags import answered
from bridge.sandbox.store import ContactRow

# An extension is not part of the dialable number.
_EXTENSION = re.compile(r"(?i)\s*(?:;|,|x|ext\.?|extension)\s*\d*\s*$")


def rfc3339(epoch: float) -> str:
    """UTC, millisecond precision, ``Z`` suffix: e.g. ``2024-05-01T12:34:56.789Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_form(number: str) -> str | None:
    """``+`` and digits, for numbers written in international form; else None.

    Without a region there is no safe way to canonicalise a national number, so the
    sandbox leaves those without ``canonicalForm`` rather than invent a country code.
    """
    stripped = _EXTENSION.sub("", number.strip())
    digits = "".join(ch for ch in stripped if ch.isdigit())
    if stripped.startswith("+") and digits:
        return "+" + digits
    if stripped.startswith("00") and len(digits) > 2:
        return "+" + digits[2:]
    return None


def _phone(phone: dict[str, Any]) -> dict[str, Any]:
    number = phone.get("number")
    canonical = canonical_form(number) if isinstance(number, str) else None
    return {**phone, "canonicalForm": canonical} if canonical else dict(phone)


def render(row: ContactRow, with_photo: bool, weak: bool = False) -> dict[str, Any]:
    """The ``Contact`` JSON for one live row (``weak``: the etag as ``W/"..."``)."""
    record: dict[str, Any] = {
        "id": row.id,
        "etag": answered(row.etag, weak),
        "createdTime": row.created,
        "lastModifiedTime": row.modified,
    }
    for key, value in row.data.items():
        if key == "phoneNumbers":
            value = [_phone(phone) for phone in value]
        record[key] = value
    record["hasPhoto"] = row.photo is not None
    if with_photo and row.photo is not None:
        record["photo"] = row.photo
    return record


def render_deleted(row: ContactRow) -> dict[str, Any]:
    """A ``DeletedPage`` record: only the id and the time of deletion."""
    return {"id": row.id, "timestamp": row.deleted}
