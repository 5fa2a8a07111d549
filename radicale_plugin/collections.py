"""The three kinds of collection a client sees: the root, a user's principal, a book."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import Any

import radicale.item as radicale_item
from radicale.storage import BaseCollection

from bridge.mapping import MappingError
from bridge.store import Book, ContactStore, ItemMeta, ListedCard, StoredItem
from bridge.sync import UidConflictError

from . import context
from .items import http_date, to_item, to_lazy_item
from .runtime import Bridge
from .tokens import make_token, parse_token

# A fixed date for collections that hold no items (the root and principals).
_EPOCH_DATE = http_date(0)


class _Container(BaseCollection):
    """The root and principals: plain collections with no items of their own."""

    def __init__(self, path: str) -> None:
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    def get_meta(self, key: str | None = None) -> Any:
        return None if key is not None else {}

    def set_meta(self, props: Mapping[str, str]) -> None:
        pass  # macOS PROPPATCHes principals; accepting and ignoring is what it needs

    @property
    def last_modified(self) -> str:
        return _EPOCH_DATE

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        # Evolution sends REPORTs to the principal: answer each href as missing.
        return ((href, None) for href in hrefs)

    def get_all(self) -> Iterator[radicale_item.Item]:
        return iter(())

    def has_uid(self, uid: str) -> bool:
        return False

    def upload(self, href: str, item: radicale_item.Item) -> Any:
        raise ValueError("cards belong in an address book, not here")

    def delete(self, href: str | None = None) -> None:
        raise ValueError("this collection cannot be deleted")


class BookCollection(BaseCollection):
    """One address book, served from the store: listing, tokens and etags never parse."""

    def __init__(self, bridge: Bridge, book: Book) -> None:
        self.bridge = bridge
        self.book = book
        self._path = book.path  # one string, shared by every item listed from this book

    @property
    def path(self) -> str:
        return self._path

    @property
    def store(self) -> ContactStore:
        return self.bridge.engine.store

    # -- properties ----------------------------------------------------------------

    def get_meta(self, key: str | None = None) -> Any:
        meta: dict[str, str] = {"tag": "VADDRESSBOOK"}
        display_name = self.bridge.display_name(self.book)
        if display_name:
            meta["D:displayname"] = display_name
        meta.update({k: v for k, v in self.book.props.items() if isinstance(v, str)})
        return meta if key is None else meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        """PROPPATCH (display name, description, colour, order...): kept in the store only,
        for both kinds of book; Aurinko has no such fields."""
        if props.get("tag", "VADDRESSBOOK") != "VADDRESSBOOK":
            raise ValueError("an address book stays an address book")
        self.store.set_book_props(self.book.id, {k: v for k, v in props.items() if k != "tag"})

    @property
    def last_modified(self) -> str:
        return http_date(self.store.last_modified(self.book.id))

    @property
    def etag(self) -> str:
        """getctag: the change-log position and the properties, an indexed lookup."""
        seq = self.store.current_seq(self.book.id)
        state = json.dumps([self.store.epoch, self.book.id, seq, self.book.props], sort_keys=True)
        return '"' + hashlib.sha256(state.encode()).hexdigest() + '"'

    # -- items ----------------------------------------------------------------------

    def _item(self, stored: StoredItem) -> radicale_item.Item:
        return to_item(self, stored, self.text_of(context.current().vcard_version, stored))

    def text_of(self, version: str | None, card: StoredItem | ListedCard | str) -> str:
        """A card in the version the request asked for (captured by the caller, since a lazy
        load may run after Radicale has left the request's context); ``card`` is a row that
        may hold the stored text, or an href."""
        href = card if isinstance(card, str) else card.href
        stored = self._stored_text(card)
        if stored is None:
            return ""
        text, own_version = stored
        # Each card is stored in the version its writer used: only a request for the other
        # one is converted (a render from the stored contact, never a parse of the text).
        if version and version != own_version:
            return self.bridge.engine.render(self.book, href, version) or ""
        return text

    def _stored_text(self, card: StoredItem | ListedCard | str) -> tuple[str, str] | None:
        """The stored text and its version, from ``card`` when it was read with them."""
        if not isinstance(card, str) and card.vcard is not None and card.version is not None:
            return card.vcard, card.version
        return self.store.vcard(self.book.id, card if isinstance(card, str) else card.href)

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        wanted = list(dict.fromkeys(hrefs))
        found = self.store.get_items(self.book.id, wanted)
        return ((h, self._item(found[h]) if h in found else None) for h in wanted)

    def get_all(self) -> Iterator[radicale_item.Item]:
        """Every card, its text read only when used (PROPFIND getetag reads none)."""
        version = context.current().vcard_version
        for meta in self.store.list_meta(self.book.id):
            yield to_lazy_item(self, meta, partial(self.text_of, version, meta.href))

    def has_uid(self, uid: str) -> bool:
        return bool(self.store.has_uid(self.book.id, uid))

    def get(self, href: str) -> radicale_item.Item | None:
        """One card, its text read only if used: a PUT's or DELETE's precondition check
        needs its etag and UID alone. Kept for the request, found or not: its upload
        replaces it (or creates it) without looking again."""
        meta = self.store.meta(self.book.id, href)
        item = self._lazy(meta) if meta is not None else None
        context.current().memo.found[f"{self._path}/{href}"] = item
        return item

    def _lazy(self, meta: ItemMeta) -> radicale_item.Item:
        version = context.current().vcard_version
        return to_lazy_item(self, meta, partial(self.text_of, version, meta.href))

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        ctx = context.current()
        # The wrapper's copy of the body (and its parse, if the wrapper made it already);
        # in a plain Radicale, Radicale's re-serialization.
        sent = ctx.sent.body if ctx.sent is not None else item.serialize().encode("utf-8")
        path = f"{self._path}/{href}"
        found = ctx.memo.found
        replaced = found[path] if path in found else self.get(href)
        try:
            card = ctx.sent.parsed() if ctx.sent is not None else sent
            row = self.bridge.engine.put(self.book, href, card)
        except (MappingError, UidConflictError) as exc:
            ctx.outcome.error = str(exc)
            raise ValueError(str(exc)) from None
        # The stored card is what the client sent (folding and line ends aside) whenever the
        # mapping kept it as is: the reply's ETag then spares the client a download.
        sent_text = _normalized(sent.decode("utf-8", "replace"))
        ctx.outcome.stored_differs = _normalized(row.vcard) != sent_text
        # The row as committed: its etag is the reply's, whatever the push does next.
        stored = self._lazy(ItemMeta(row.href, row.uid, row.etag, row.last_modified))
        return stored, replaced

    def delete(self, href: str | None = None) -> None:
        if href is None:
            self.bridge.engine.delete_local_book(self.book)
            return
        self.bridge.engine.delete(self.book, href)

    # -- RFC 6578 ---------------------------------------------------------------------

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        book = self.store.book_by_id(self.book.id)
        current = self.store.current_seq(book.id)
        if not old_token:
            token, hrefs = make_token(self.store.epoch, book.id, current), None
        else:
            seq = parse_token(old_token, self.store.epoch, book.id, current, book.change_floor)
            upto, hrefs = self.store.changes_since(book.id, seq)
            token = make_token(self.store.epoch, book.id, upto)
        listing = context.current().listing
        if listing is not None and listing.kind == "sync":
            listing.book, listing.hrefs = self, hrefs  # the wrapper streams them
            return token, ()
        if hrefs is None:
            return token, (meta.href for meta in self.store.list_meta(book.id))
        return token, hrefs


def _normalized(text: str) -> str:
    """The card's content lines, unfolded: folding, line ends and empty lines are not
    content (a blank at the end of a value is: a card that lost one is not as sent)."""
    unfolded = text.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "")
    return "\n".join(line for line in unfolded.split("\n") if line)
