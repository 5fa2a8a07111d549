"""Store rows as Radicale items, carrying everything so Radicale never parses a card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import radicale.item as radicale_item

from bridge.httpserver.dates import http_date
from bridge.store import ItemMeta, StoredItem


class LazyItem(radicale_item.Item):
    """An item whose card is read from the store only if Radicale asks for it: a PROPFIND
    of getetag over a large book then reads no card at all."""

    # What every listed card shares lives on the class, not in one dict per card.
    _vobject_item = None
    _name = "VCARD"
    _component_name = ""
    _time_range = None

    def __init__(
        self,
        load: Callable[[], str],
        *,
        collection: Any,
        href: str,
        etag: str,
        uid: str,
        last_modified: str,
    ) -> None:
        # Radicale's constructor sanitizes the collection path again for every item; a
        # listing pays that once per card for one path known to be clean.
        self.collection = collection
        self._collection_path = collection.path
        self.href = href
        self.last_modified = last_modified
        self._etag = etag
        self._uid = uid
        self._load = load
        self._loaded: str | None = None

    # Radicale's Item keeps the card in ``_text`` and reads it from there directly.
    @property
    def _text(self) -> str:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    @_text.setter
    def _text(self, value: str | None) -> None:
        self._loaded = value  # None: read it from the store again on next use


def _fields(collection: Any, meta: ItemMeta | StoredItem) -> dict[str, Any]:
    # The etag stays the stored one in every vCard version (as sabre/dav's getetag does),
    # so a client's If-Match holds whichever representation it read.
    return {
        "collection": collection,
        "href": meta.href,
        "etag": meta.etag,
        "uid": meta.uid,
        "last_modified": http_date(meta.last_modified),
        "name": "VCARD",
        "component_name": "",
    }


def to_item(collection: Any, stored: StoredItem, text: str | None = None) -> radicale_item.Item:
    """``text`` replaces the stored card when the client asked for another vCard version."""
    return radicale_item.Item(
        text=stored.vcard if text is None else text, **_fields(collection, stored)
    )


def to_lazy_item(collection: Any, meta: ItemMeta, load: Callable[[], str]) -> LazyItem:
    return LazyItem(
        load,
        collection=collection,
        href=meta.href,
        etag=meta.etag,
        uid=meta.uid,
        last_modified=http_date(meta.last_modified),
    )
