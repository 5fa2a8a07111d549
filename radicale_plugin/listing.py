"""Streamed answers for listings: PROPFIND Depth 1, sync-collection and addressbook-multiget.

Radicale builds a listing's whole multistatus tree in memory (an item object and a handful of
elements per card) and walks every href through its path checks several times: at 100,000
cards that is hundreds of MiB, and most of the time of an incremental sync. For the
properties clients ask of cards in a listing, Radicale answers for the collection alone
(authentication, rights, the collection's own properties and the sync-token stay its own),
the storage notes which cards belong in the answer, and the wrapper streams their responses
into Radicale's answer straight from the store. A multiget is shown to Radicale without its
hrefs (``MULTIGET_STAND_IN``), which it answers for the collection alone in the same way; the
hrefs are read as Radicale reads them. Any other request goes through Radicale as is.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlparse
from xml.sax.saxutils import escape

from radicale import pathutils

from bridge.httpserver.dates import http_date
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
# Radicale answers it with the card too, whatever the collection holds (``app/report.py``).
CALENDAR_DATA = "{urn:ietf:params:xml:ns:caldav}calendar-data"
MULTIGET = f"{{{CARDDAV}}}addressbook-multiget"

# What Radicale is shown of a multiget the wrapper streams: the same report naming no card. Its
# answer (an empty multistatus, or its 401, 403 or 404) depends on the collection alone.
MULTIGET_STAND_IN = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
    b"<D:prop><D:getetag/></D:prop></CR:addressbook-multiget>"
)

# A card's properties in a PROPFIND, as Radicale answers them; a card has none of the others
# (404) except these, whose answer depends on the user and rights: such requests stay Radicale's.
_PROPFIND_VALUES: dict[str, Callable[[ListedCard], str]] = {
    GETETAG: lambda card: card.etag,
    _dav("getlastmodified"): lambda card: http_date(card.last_modified),
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

    kind: str  # "propfind", "sync" or "multiget"
    props: tuple[str, ...]
    version: str | None = None  # the vCard version asked for in address-data
    book: Any = None  # the BookCollection, once Radicale has let the request through
    hrefs: list[str] | None = None
    strays: tuple[str, ...] = ()  # multiget: paths outside the book, each answered 404

    @property
    def wants_text(self) -> bool:
        return self.kind != "propfind" and bool({ADDRESS_DATA, CALENDAR_DATA} & set(self.props))

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


def report_root(text: str | None) -> ET.Element | None:
    """A REPORT body (as Radicale decodes it) parsed, as Radicale parses it (defusedxml):
    None if it cannot be, or has a DTD, which defusedxml may refuse and no client needs."""
    if text is None or "<!DOCTYPE" in text:
        return None
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        return None  # Radicale answers it with its own 400


def sync_listing(root: ET.Element | None, version: str | None) -> Listing | None:
    """A sync-collection REPORT with properties to answer, else None."""
    if root is None or root.tag != _dav("sync-collection"):
        return None
    prop = root.find(_dav("prop"))
    if prop is None or len(prop) == 0:
        return None
    return Listing("sync", tuple(child.tag for child in prop), version)


def multiget_listing(
    root: ET.Element | None, version: str | None, prefix: str, book_path: str
) -> Listing | None:
    """An addressbook-multiget of the book at ``book_path`` (``user/book``) with properties
    to answer, its hrefs read as Radicale reads them; else None. ``prefix`` is the mount
    point as Radicale reads it."""
    if root is None or root.tag != MULTIGET:
        return None
    prop = root.find(_dav("prop"))
    if prop is None or len(prop) == 0:
        return None  # Radicale answers no card at all: its answer
    try:
        targets = _multiget_targets(root, prefix, f"/{book_path}/")
    except ValueError:
        return None  # an href Radicale fails on: its answer (400 or 500)
    if targets is None:
        return None
    names, strays = targets
    props = tuple(child.tag for child in prop)
    return Listing("multiget", props, version, hrefs=names, strays=strays)


# An href that urlparse, unquote and sanitize_path all leave as it is: slash-separated
# segments, none "." or "..", free of what a URL parser or Radicale's path code would change.
_PLAIN_HREF = re.compile(r"(?:/(?!\.\.?(?:/|$))[^/%?#;\x00-\x20\x7f]+)+")


def _multiget_targets(
    root: ET.Element, prefix: str, start: str
) -> tuple[list[str], tuple[str, ...]] | None:
    """The names of the cards asked for and the paths outside the book, each once, as
    ``xml_report`` and ``retrieve_items`` (``app/report.py``) read them. None if one names
    the book itself: Radicale then answers every card."""
    names: dict[str, None] = {}  # each once, in order: Radicale keeps them in a set
    strays: dict[str, None] = {}
    for path in _referenced(root, prefix):
        if not path:
            raise ValueError("the mount point itself")  # Radicale asserts a sanitized path
        name = path[len(start) :] if (path + "/").startswith(start) else None
        if name == "":
            return None
        if name is None or not pathutils.is_safe_path_component(name):
            strays[path] = None
        else:
            names[name] = None
    return list(names), tuple(strays)


def _referenced(root: ET.Element, prefix: str) -> Iterator[str]:
    """Each href's path below the mount point; Radicale skips one outside it unanswered."""
    for element in root.findall(_dav("href")):
        text = element.text
        if text is None:
            raise ValueError("an empty href")
        plain = _PLAIN_HREF.fullmatch(text) is not None
        path = text if plain else pathutils.sanitize_path(unquote(urlparse(text).path))
        if (path + "/").startswith(prefix + "/"):
            yield path[len(prefix) :]


def _tags(tag: str) -> tuple[str, str, str]:
    """The start, end and empty forms of ``{ns}name`` inside a DAV:-default document; other
    namespaces declared locally."""
    namespace, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if namespace == DAV:
        start = name
    elif namespace:
        start = f'X:{name} xmlns:X="{escape(namespace, {chr(34): "&quot;"})}"'
        name = f"X:{name}"
    else:
        start = f'{name} xmlns=""'
    return f"<{start}>", f"</{name}>", f"<{start} />"


def _propstat(props: str, status: str) -> str:
    return f"<propstat><prop>{props}</prop><status>{status}</status></propstat>"


def _gone(href: str) -> str:
    return f"<response><href>{escape(href)}</href><status>{NOT_FOUND}</status></response>"


class _Renderer:
    """One card's ``<response>`` for the listing's properties: what is the same for every
    card (the tags, the properties a card lacks) is written once."""

    def __init__(self, listing: Listing, text: Callable[[ListedCard], str]) -> None:
        values = _PROPFIND_VALUES if listing.kind == "propfind" else _report_values(text)
        self.found = [(values[tag], *_tags(tag)) for tag in listing.props if tag in values]
        missing = "".join(_tags(tag)[2] for tag in listing.props if tag not in values)
        self.missing = _propstat(missing, NOT_FOUND) if missing else ""

    def __call__(self, href: str, card: ListedCard) -> str:
        if not self.found and not self.missing:
            return ""
        parts = [f"<response><href>{escape(href)}</href>"]
        if self.found:
            parts.append("<propstat><prop>")
            for value, start, end, empty in self.found:
                text = value(card)
                parts.append(f"{start}{escape(text)}{end}" if text else empty)
            parts.append(f"</prop><status>{OK}</status></propstat>")
        parts.append(self.missing)
        parts.append("</response>")
        return "".join(parts)


def _report_values(text: Callable[[ListedCard], str]) -> dict[str, Callable[[ListedCard], str]]:
    """A card's properties in a REPORT, as Radicale answers them: all others are 404."""
    return {
        GETETAG: lambda card: card.etag,
        GETCONTENTTYPE: lambda card: CONTENT_TYPE,
        ADDRESS_DATA: text,
        CALENDAR_DATA: text,
    }


def base_prefix(environ: dict[str, Any]) -> str:
    """The path the server is mounted under, as Radicale reads it."""
    prefix = str(environ.get("HTTP_X_SCRIPT_NAME", environ.get("SCRIPT_NAME", "")))
    return prefix.rstrip("/")


def responses(listing: Listing, prefix: str) -> Iterator[str]:
    """Every card's ``<response>``, read from the store a batch at a time."""
    book = listing.book
    for path in listing.strays:
        yield _gone(quote(prefix + path))
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
    # The fastest level: a listing is cards' text, which it packs nearly as well as the
    # default does (about 10 % larger) in half the time, and packing was most of it.
    compressor = zlib.compressobj(1, wbits=16 + zlib.MAX_WBITS)
    for chunk in chunks:
        data = compressor.compress(chunk)
        if data:
            yield data
    yield compressor.flush()


# An empty multistatus, as ElementTree writes it: ``<multistatus xmlns="DAV:" />``.
_EMPTY = re.compile(rb"<((?:[\w.-]+:)?multistatus)(\s[^<>]*?)?\s*/>\s*$")


def split_answer(answer: bytes) -> tuple[bytes, bytes] | None:
    """Radicale's multistatus cut before its closing tag, or None if it is not one."""
    empty = _EMPTY.search(answer) if answer.rstrip().endswith(b"/>") else None
    if empty is not None:
        tag, attributes = empty.group(1), empty.group(2) or b""
        return answer[: empty.start()] + b"<" + tag + attributes + b">", b"</" + tag + b">"
    end = answer.rfind(b"</")
    if end < 0 or not answer[end:].strip().endswith(b"multistatus>"):
        return None
    return answer[:end], answer[end:]
