"""Store rows as Radicale items, carrying everything so Radicale never parses a card."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import radicale.item as radicale_item

from bridge.store import StoredItem


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def to_item(collection: Any, stored: StoredItem, text: str | None = None) -> radicale_item.Item:
    """``text`` replaces the stored card when the client asked for another vCard version.

    The etag stays the stored one in every version (as sabre/dav's getetag does), so a
    client's If-Match holds whichever representation it read.
    """
    return radicale_item.Item(
        collection=collection,
        href=stored.href,
        text=stored.vcard if text is None else text,
        etag=stored.etag,
        uid=stored.uid,
        last_modified=http_date(stored.last_modified),
        name="VCARD",
        component_name="",
    )
