"""The PATCH body between two versions of a contact."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .schema import WRITABLE_FIELDS, normalize


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level writable fields whose value differs, with their new value.

    A field that ``new`` no longer has maps to ``None`` (PATCH removes it). Values are compared
    in normal form (``schema.normalize``), so equivalent spellings never cause a PATCH; the
    values returned are normalised too, without a derived display name (the provider derives
    its own). Read-only fields never appear.
    """
    old_normal, new_normal = normalize(old), normalize(new)
    body = normalize(new, derive=False)
    changes: dict[str, Any] = {}
    for field in WRITABLE_FIELDS:
        if _canonical(old_normal.get(field)) != _canonical(new_normal.get(field)):
            changes[field] = body.get(field, new_normal.get(field))
    return changes


def _canonical(value: Any) -> str:
    # JSON text, not ==: nativeProperties may hold true and 1, which Python finds equal.
    return json.dumps(value, sort_keys=True)
