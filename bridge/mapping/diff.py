"""The PATCH body between two versions of a contact."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .schema import WRITABLE_FIELDS, normalize, with_display_name


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level writable fields whose value differs, with their new value.

    A field that ``new`` no longer has maps to ``None`` (PATCH removes it). Values are compared
    in normal form (``schema.normalize``), so equivalent spellings never cause a PATCH; the
    values returned are normalised too, without a derived display name (the provider derives
    its own). Read-only fields never appear.
    """
    old_normal = normalize(old)
    body = normalize(new, derive=False)
    new_normal = with_display_name(body)  # one normalisation of ``new`` serves both purposes
    changes: dict[str, Any] = {}
    for field, same in _COMPARISONS:
        if not same(old_normal.get(field), new_normal.get(field)):
            changes[field] = body.get(field, new_normal.get(field))
    return changes


def _same_value(a: Any, b: Any) -> bool:
    # Normal-form values are built from str, dict and list only, where == holds exactly
    # when the JSON texts are equal.
    return bool(a == b)


_COMPARISONS: tuple[tuple[str, Callable[[Any, Any], bool]], ...] = tuple(
    (field, _same_value) for field in WRITABLE_FIELDS
)
