"""Applies a provider profile's rules to a validated body (``ContactInput``).

What does not fit the provider answers 400 ``badRequest`` naming the field (the engine must
learn to handle it); what the provider silently loses (unknown keys, email types, empty
values) is dropped. Only the fields a body names are checked: PATCH replaces a top-level
field whole, so the named fields are all that can break a rule.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from functools import partial
from typing import Any

from bridge.sandbox.errors import bad_request, invalid_field
from bridge.sandbox.profiles import ProfileConfig, ProviderRules
from bridge.sandbox.refusals import refusal
from bridge.sandbox.validation import KNOWN_FIELDS, REMOVE, ContactInput

_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _is_empty(value: Any) -> bool:
    return isinstance(value, str | list | dict) and not value


def _strict(body: ContactInput) -> None:
    unknown = sorted(set(body.fields) - KNOWN_FIELDS)
    if unknown:
        raise invalid_field(unknown[0], "is not a field of the contact")
    nulls = sorted(key for key, value in body.fields.items() if value is REMOVE)
    if body.photo_given and body.photo is None:
        nulls.append("photo")
    if nulls:
        raise invalid_field(nulls[0], "must not be null (no property of Contact is nullable)")
    if not body.fields and not body.photo_given:
        raise bad_request("Request body sets no field of the contact")


def _check_list(rules: ProviderRules, key: str, items: list[dict[str, Any]]) -> list[Any]:
    refuse = partial(refusal, rules.refusals)
    cap = rules.max_items.get(key)
    if cap is not None and len(items) > cap:
        raise refuse(
            key, f"the provider keeps at most {cap}, got {len(items)}", entries=(len(items), cap)
        )
    slots = rules.slots.get(key)
    if slots is not None:
        used: Counter[str] = Counter()
        for index, item in enumerate(items):
            kind = item.get("type")
            where = f"{key}[{index}].type"
            if not isinstance(kind, str) or kind not in slots:
                raise refuse(where, f"the provider keeps only {', '.join(slots)}")
            used[kind] += 1
            if used[kind] > slots[kind]:
                sent = sum(1 for item in items if item.get("type") == kind)
                problem = f"the provider keeps at most {slots[kind]} {kind!r}"
                raise refuse(where, problem, kind, entries=(sent, slots[kind]))
    if key in rules.untyped:
        return [{k: v for k, v in item.items() if k != "type"} for item in items]
    return items


def _field(rules: ProviderRules, key: str, value: Any) -> Any:
    if value is REMOVE or (rules.empty_is_absent and _is_empty(value)):
        return REMOVE
    if key == "birthday" and rules.birthday_needs_year and not _FULL_DATE.fullmatch(value):
        raise refusal(rules.refusals, key, "the provider needs a full date YYYY-MM-DD")
    if (
        key == "birthday"
        and rules.birthday_pattern
        and not re.fullmatch(rules.birthday_pattern, value)
    ):
        raise refusal(rules.refusals, key, "not a date (YYYY-MM-DD or --MM-DD)")
    if isinstance(value, list) and key in KNOWN_FIELDS and key != "keywords":
        return _check_list(rules, key, value)
    return value


def _unchanged(profile: ProfileConfig, value: Any) -> bool:
    """Whether a switch makes ``value`` mean "leave the field as it is"."""
    if value is REMOVE:
        return profile.null_ignored
    return profile.empty_unchanged and _is_empty(value)


def _photo(profile: ProfileConfig, body: ContactInput) -> ContactInput:
    """A photo without content is no image: a removal, or nothing under ``empty_unchanged``;
    a ``null`` photo is nothing under ``null_ignored``; any photo is nothing under
    ``photo_ignored``."""
    if profile.photo_ignored:
        return replace(body, photo_given=False, photo=None)
    if not body.photo_given or (body.photo is not None and body.photo.get("content")):
        return body
    if (profile.null_ignored and body.photo is None) or (
        profile.empty_unchanged and body.photo is not None
    ):
        return replace(body, photo_given=False, photo=None)
    return replace(body, photo=None)


def enforce(profile: ProfileConfig, body: ContactInput) -> ContactInput:
    """``body`` as the profile's provider would take it; raises 400 for what cannot fit."""
    if profile.strict_body:
        _strict(body)
    rules = profile.rules
    fields = {
        key: _field(rules, key, value)
        for key, value in body.fields.items()
        if (rules.keep_unknown_keys or key in KNOWN_FIELDS) and not _unchanged(profile, value)
    }
    return _photo(profile, replace(body, fields=fields))
