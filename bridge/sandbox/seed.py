"""Seed contacts from a JSON file: a list of contacts, or ``{"contacts": [...]}``."""

from __future__ import annotations

import json
from typing import Any

from bridge.sandbox.errors import ApiError
from bridge.sandbox.validation import ContactInput, parse_contact


class SeedError(ValueError):
    """The seed file cannot be read or does not hold valid contacts."""


def load_seed(path: str) -> list[ContactInput]:
    """Read and validate every contact first, so a bad file seeds nothing."""
    try:
        with open(path, encoding="utf-8") as handle:
            data: Any = json.load(handle)
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise SeedError(f"seed file {path} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("contacts"), list):
        data = data["contacts"]
    if not isinstance(data, list):
        raise SeedError(f"seed file {path} must hold a list of contacts or {{'contacts': [...]}}")
    contacts = []
    for index, item in enumerate(data):
        try:
            contacts.append(parse_contact(item))
        except ApiError as exc:
            raise SeedError(f"seed file {path}, contact #{index}: {exc.message}") from exc
    return contacts
