"""Card identity: the UID of a contact born remotely.

A contact that arrives from Aurinko without a card of its own gets the UID
``uuid5(UID_NAMESPACE, contact["id"])``, where ``UID_NAMESPACE`` is
``uuid5(NAMESPACE_URL, "https://api.aurinko.io/v1/contacts")``: a plain RFC 4122 UUID string,
the same for the same id on every machine and in both vCard versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://api.aurinko.io/v1/contacts")


def derive_uid(contact: Mapping[str, Any]) -> str | None:
    """The stable UID for ``contact["id"]``, or ``None`` when the contact has no id."""
    remote_id = contact.get("id")
    if not isinstance(remote_id, str) or not remote_id:
        return None
    return str(uuid.uuid5(UID_NAMESPACE, remote_id))
