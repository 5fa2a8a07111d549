"""Streamed answers for whole-book listings: PROPFIND Depth 1 and sync-collection.

Radicale builds a listing's whole multistatus tree in memory (an item object and a handful of
elements per card) and walks every href through its path checks several times: at 100,000
cards that is hundreds of MiB, and most of the time of an incremental sync. For the
properties clients ask of cards in a listing, Radicale answers for the collection alone
(authentication, rights, the collection's own properties and the sync-token stay its own),
the storage notes which cards belong in the answer, and the wrapper streams their responses
into Radicale's answer straight from the store. Any other request goes through Radicale as is.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from bridge.store import ListedCard

DAV = "DAV:"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
CONTENT_TYPE = "text/vcard;charset=utf-8"  # Radicale's, for a card in its default encoding
OK, NOT_FOUND = "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"
CHUNK = 64 * 1024


def _dav(name: str) -> str:
    return f"{{{DAV}}}{name}"


GETETAG, GETCONTENTTYPE = _dav("getetag"), _dav("getcontenttype")
GETCONTENTLENGTH = _dav("getcontentlength")
ADDRESS_DATA = f"{{{CARDDAV}}}address-data"

# A card's properties in a PROPFIND, as Radicale answers them; a card has none of the others
# (404) except these, whose answer depends on the user and rights: such requests stay Radicale's.
_PROPFIND_VALUES: dict[str, Callable[[ListedCard], str]] = {
    GETETAG: lambda card: card.etag,
    _dav("getlastmodified"): lambda card: formatdate(card.last_modified, usegmt=True),
    GETCONTENTTYPE: lambda card: CONTENT_TYPE,
    GETCONTENTLENGTH: lambda card: str(card.length),
    _dav("resourcetype"): lambda card: "",
}
_RADICALE_ONLY = {
    *map(
        _dav,
        (
            "principal-collection-set",
            "current-user-principal",
            "current-user-privilege-set",
            "supported-report-set",
            "owner",
        ),
    ),
    "{urn:ietf:params:xml:ns:caldav}max-resource-size",
}


@dataclass
class Listing:
    """A listing the wrapper will stream: what it asks for, then (from the storage) which
    book and which cards; ``hrefs`` None means every card."""

    kind: str  # "propfind" or "sync"
    props: tuple[str, ...]
    version: str | None = None  # the vCard version asked for in address-data
    book: Any = None  # the BookCollection, once Radicale has let the request through
    hrefs: list[str] | None = None

    @property
    def wants_text(self) -> bool:
        return self.kind == "sync" and ADDRESS_DATA in self.props

    @property
    def wants_length(self) -> bool:
        return self.kind == "propfind" and GETCONTENTLENGTH in self.props


def _root(body: bytes, tag: str) -> ET.Element | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None  # Radicale answers it with its own 400
    return root if root.tag == tag else None


def propfind_listing(body: bytes, depth: str) -> Listing | None:
    """A PROPFIND Depth 1 that names only properties streamed here, else None."""
    root = _root(body, _dav("propfind")) if depth == "1" else None
    if root is None or len(root) == 0 or root[0].tag != _dav("prop"):
        return None  # allprop, propname and empty bodies: Radicale lists every property
    props = tuple(child.tag for child in root[0])
    if not props or _RADICALE_ONLY.intersection(props):
        return None
    return Listing("propfind", props)


def sync_listing(body: bytes, version: str | None) -> Listing | None:
    """A sync-collection REPORT with properties to answer, else None."""
    root = _root(body, _dav("sync-collection"))
    prop = root.find(_dav("prop")) if root is not None else None
    if prop is None or len(prop) == 0:
        return None
    return Listing("sync", tuple(child.tag for child in prop), version)


def _element(tag: str, text: str | None = None) -> str:
    """``{ns}name`` as XML inside a DAV:-default document; other namespaces declared locally."""
    namespace, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if namespace == DAV:
        start = name
    elif namespace:
        start = f'X:{name} xmlns:X="{escape(namespace, {chr(34): "&quot;"})}"'
        name = f"X:{name}"
    else:
        start = f'{name} xmlns=""'
    if text is None or text == "":
        return f"<{start} />"
    return f"<{start}>{escape(text)}</{name}>"


def _response(href: str, found: list[str], missing: list[str]) -> str:
    parts = [f"<response><href>{escape(href)}</href>"]
    for status, props in ((OK, found), (NOT_FOUND, missing)):
        if props:
            parts.append(
                f"<propstat><prop>{''.join(props)}</prop><status>{status}</status></propstat>"
            )
    parts.append("</response>")
    return "".join(parts)


def _gone(href: str) -> str:
    return f"<response><href>{escape(href)}</href><status>{NOT_FOUND}</status></response>"


class _Renderer:
    """One card's ``<response>`` for the listing's properties."""

    def __init__(self, listing: Listing, text: Callable[[ListedCard], str]) -> None:
        self.props = listing.props
        self.values = _PROPFIND_VALUES if listing.kind == "propfind" else _report_values(text)

    def __call__(self, href: str, card: ListedCard) -> str:
        found: list[str] = []
        missing: list[str] = []
        for tag in self.props:
            value = self.values.get(tag)
            if value is None:
                missing.append(_element(tag))
            else:
                found.append(_element(tag, value(card)))
        return _response(href, found, missing) if found or missing else ""


def _report_values(text: Callable[[ListedCard], str]) -> dict[str, Callable[[ListedCard], str]]:
    """A card's properties in a REPORT, as Radicale answers them: all others are 404."""
    return {
        GETETAG: lambda card: card.etag,
        GETCONTENTTYPE: lambda card: CONTENT_TYPE,
        ADDRESS_DATA: text,
    }


def base_prefix(environ: dict[str, Any]) -> str:
    """The path the server is mounted under, as Radicale reads it."""
    prefix = str(environ.get("HTTP_X_SCRIPT_NAME", environ.get("SCRIPT_NAME", "")))
    return prefix.rstrip("/")


def responses(listing: Listing, prefix: str) -> Iterator[str]:
    """Every card's ``<response>``, read from the store a batch at a time."""
    book = listing.book
    href_prefix = f"{prefix}/{book.path}/"
    render = _Renderer(listing, lambda card: book.text_of(listing.version, card))
    cards = book.store.stream_cards(
        book.book.id, listing.hrefs, with_text=listing.wants_text, with_length=listing.wants_length
    )
    for href, card in cards:
        url = quote(href_prefix + href)
        yield render(url, card) if card is not None else _gone(url)


def spliced(head: bytes, parts: Iterable[str], tail: bytes) -> Iterator[bytes]:
    """Radicale's answer with ``parts`` inserted before its closing tag, in chunks."""
    yield head
    buffer: list[str] = []
    size = 0
    for part in parts:
        buffer.append(part)
        size += len(part)
        if size >= CHUNK:
            yield "".join(buffer).encode("utf-8", "xmlcharrefreplace")
            buffer, size = [], 0
    yield "".join(buffer).encode("utf-8", "xmlcharrefreplace") + tail


def gzipped(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    for chunk in chunks:
        data = compressor.compress(chunk)
        if data:
            yield data
    yield compressor.flush()


def split_answer(answer: bytes) -> tuple[bytes, bytes] | None:
    """Radicale's multistatus cut before its closing tag, or None if it is not one."""
    end = answer.rfind(b"</")
    if end < 0 or not answer[end:].strip().endswith(b"multistatus>"):
        return None
    return answer[:end], answer[end:]
