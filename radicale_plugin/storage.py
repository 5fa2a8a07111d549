"""``Storage``: Radicale's entry point (``[storage] type = radicale_plugin``)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import radicale.item as radicale_item
import radicale.utils
from radicale import pathutils
from radicale.storage import BaseCollection, BaseStorage

from bridge.store import BookExistsError
from bridge.store.kinds import BookKind

from . import context, runtime
from .collections import BookCollection, _Container
from .rwlock import KeyedRWLocks

Discovered = BaseCollection | radicale_item.Item


def _serves_vcard4() -> bool:
    return True


def advertise_vcard4() -> None:
    """List vCard 4.0 beside 3.0 in ``CR:supported-address-data`` (RFC 6352 6.2.2).

    Radicale 3.9 lists 4.0 only when vobject >= 1.0 could parse and write it, and asks
    ``utils.vobject_supports_vcard4`` for nothing else (``app/propfind.py``). This storage
    never has vobject write a card: its own mapping stores 4.0 cards as written and renders
    either version on request, so it serves 4.0 whatever vobject's version is."""
    radicale.utils.vobject_supports_vcard4 = _serves_vcard4


def book_key(path: str | None) -> str | None:
    """``user/book`` of a request's path, or None for the root and principals. The raw
    path of a read is read as Radicale reads a write's (``sanitize_path``), so that both
    name one book alike."""
    if not path:
        return None
    parts = [p for p in pathutils.sanitize_path(path).split("/") if p]
    return "/".join(parts[:2]) if len(parts) >= 2 else None


class Storage(BaseStorage):
    """Paths: ``""`` root, ``user`` principal, ``user/book`` address book, ``user/book/href``
    card. One instance serves every request thread."""

    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)
        try:
            key = configuration.get("storage", "bridge_config")
        except KeyError:
            raise RuntimeError(
                "radicale_plugin needs [storage] bridge_config = <path to the bridge's TOML>"
            ) from None
        self.bridge = runtime.bridge_for(key)
        self._locks = KeyedRWLocks()
        advertise_vcard4()

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Any = None,
        user_groups: set[str] | None = None,
    ) -> Iterator[Discovered]:
        parts = [p for p in pathutils.strip_path(path).split("/") if p]
        if len(parts) == 0:
            yield _Container("")
        elif len(parts) == 1:
            yield _Container(parts[0])  # every user has a principal, always
            if depth != "0":
                yield from (BookCollection(self.bridge, b) for b in self.bridge.books(parts[0]))
        elif len(parts) == 2:
            book = self._book(parts)
            if book is not None:
                yield book
                listing = context.current().listing
                if depth != "0" and listing is not None and listing.kind == "propfind":
                    listing.book = book  # the wrapper streams the cards into the answer
                elif depth != "0":
                    yield from book.get_all()
        elif len(parts) == 3:
            book = self._book(parts)
            item = book.get(parts[2]) if book is not None else None
            if item is not None:
                yield item

    def _book(self, parts: list[str]) -> BookCollection | None:
        """The book at ``parts``, looked up once per request (a PUT discovers it twice)."""
        found = context.current().memo.found
        key = "/".join(parts[:2])
        if key not in found:
            book = self.bridge.book(parts[0], parts[1])
            found[key] = BookCollection(self.bridge, book) if book is not None else None
        collection: BookCollection | None = found[key]
        return collection

    @contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        """A lock on the one book the request touches, never on the whole server: a PUT
        holds its book's exclusively (precondition check and store write as one step),
        reads share it. A request on the root or a principal reads only the list of
        books, one query of the store, and takes no lock."""
        ctx = context.current()
        request_path, memo = ctx.path, ctx.memo
        if mode == "r" and user:
            # Before, never under, the lock; the pull itself runs in the background.
            if memo.wait_until is None:
                memo.wait_until = time.monotonic() + self.bridge.config.request_wait
            self.bridge.refresh(user, request_path, memo.wait_until)
        key = book_key(kwargs.get("path") or request_path)
        if key is None:
            yield
            return
        with self._locks.hold(key, exclusive=(mode == "w")):
            yield

    def create_collection(
        self,
        href: str,
        items: Iterable[radicale_item.Item] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[BaseCollection, dict[str, radicale_item.Item], list[str]]:
        parts = [p for p in pathutils.strip_path(href).split("/") if p]
        if len(parts) == 1:
            return _Container(parts[0]), {}, []
        if len(parts) != 2:
            raise ValueError("address books live directly under the principal: /<user>/<book>/")
        if (props or {}).get("tag") != "VADDRESSBOOK":
            raise ValueError("only address books can be created here (extended MKCOL, RFC 5689)")
        existing = self.bridge.book(parts[0], parts[1])
        if existing is not None and existing.kind == BookKind.AURINKO:
            raise ValueError(f"/{href.strip('/')}/ is an Aurinko account and cannot be replaced")
        if existing is not None and items is None:
            raise ValueError(f"/{href.strip('/')}/ already exists")
        return self._fill(parts, dict(props or {}), items)

    def _fill(
        self, parts: list[str], props: dict[str, str], items: Iterable[radicale_item.Item] | None
    ) -> tuple[BaseCollection, dict[str, radicale_item.Item], list[str]]:
        engine = self.bridge.engine
        props.pop("tag", None)
        book = engine.book(parts[0], parts[1])
        if book is not None:  # a PUT of a whole local book replaces its contents
            engine.delete_local_book(book)
        try:
            book = engine.create_local_book(parts[0], parts[1], props)
        except BookExistsError as exc:
            raise ValueError(str(exc)) from None
        collection = BookCollection(self.bridge, book)
        hrefs = []
        for item in items or ():
            href = item.href or f"{item.uid}.vcf"
            collection.upload(href, item)
            hrefs.append(href)
        return collection, {}, hrefs

    def move(self, item: radicale_item.Item, to_collection: BaseCollection, to_href: str) -> None:
        raise ValueError("MOVE is not supported: copy the card with PUT, then DELETE it")

    def verify(self) -> bool:
        return True
