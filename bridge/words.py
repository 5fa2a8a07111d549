"""Counted nouns in what the bridge prints: "1 contact", "2 contacts", never "1 contacts"."""

from __future__ import annotations


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "contact")`` -> "1 contact"; ``count(3, "entry", "entries")`` -> "3 entries".

    A multi-word noun puts its head first ("conflict kept", "write waiting"), so only the
    first word takes the plural."""
    if number == 1:
        return f"{number} {noun}"
    if plural is None:
        head, _, rest = noun.partition(" ")
        plural = f"{head}s {rest}".rstrip()
    return f"{number} {plural}"
