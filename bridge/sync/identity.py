"""Stable names for contacts, and the served etag."""

from __future__ import annotations

import hashlib
import uuid

# A fixed namespace: the same remote id always yields the same UID and href, so a full
# resync or a rebuilt store hands clients the names they already know.
_NAMESPACE = uuid.UUID("6f1c1a4e-5b0a-4c1e-9d43-2f8a7c3e9b10")


def uid_for_remote(remote_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, remote_id))


def href_for_uid(uid: str) -> str:
    """A file-name-safe href; UIDs chosen by clients may hold any character."""
    if uid and all(c.isalnum() or c in "-_." for c in uid) and len(uid) <= 120:
        return f"{uid}.vcf"
    return hashlib.sha256(uid.encode()).hexdigest()[:32] + ".vcf"


def etag_of(vcard: str) -> str:
    """Radicale's own form: a quoted sha256 of the served text (strong, comparable as text)."""
    return '"' + hashlib.sha256(vcard.encode("utf-8")).hexdigest() + '"'
