"""Stable names for contacts, and the served etag.

A contact born remotely takes the mapping's ``derive_uid`` (a UUID5 of its remote id), so a
full resync or a rebuilt store hands clients the names they already know.
"""

from __future__ import annotations

import hashlib


def href_for_uid(uid: str) -> str:
    """A file-name-safe href; UIDs chosen by clients may hold any character."""
    if uid and all(c.isalnum() or c in "-_." for c in uid) and len(uid) <= 120:
        return f"{uid}.vcf"
    return hashlib.sha256(uid.encode()).hexdigest()[:32] + ".vcf"


def etag_of(vcard: str) -> str:
    """Radicale's own form: a quoted sha256 of the served text (strong, comparable as text)."""
    return '"' + hashlib.sha256(vcard.encode("utf-8")).hexdigest() + '"'
