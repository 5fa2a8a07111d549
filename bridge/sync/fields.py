"""Which parts of an Aurinko contact are the user's data, and which the server's."""

from __future__ import annotations

from typing import Any

Contact = dict[str, Any]

# Set by the server on every change; never sent, never compared.
READ_ONLY = frozenset({"id", "etag", "createdTime", "lastModifiedTime", "hasPhoto", "__meta"})
_READ_ONLY_IN_ITEMS = frozenset({"canonicalForm", "id", "deleted"})


def _clean_item(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k not in _READ_ONLY_IN_ITEMS}
    return item


def writable(contact: Contact) -> Contact:
    """The contact without server-maintained fields, for comparing two versions."""
    out: Contact = {}
    for key, value in contact.items():
        if key in READ_ONLY or value is None:
            continue
        out[key] = [_clean_item(v) for v in value] if isinstance(value, list) else value
    return out


def without_photo_content(contact: Contact) -> Contact:
    """Sync pages carry ``hasPhoto`` but no image: compare on that footing."""
    out = writable(contact)
    photo = out.pop("photo", None)
    if photo or contact.get("hasPhoto"):
        out["hasPhoto"] = True
    return out
